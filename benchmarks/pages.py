"""The pages people open most, timed as a signed-in key worker would open them.

    .venv/bin/python benchmarks/pages.py                 # the demo partnership and one 10 times larger
    .venv/bin/python benchmarks/pages.py --scale 1       # the demo partnership only (~1 minute to build)
    .venv/bin/python benchmarks/pages.py --demo 1=/tmp/demo --demo 10=/tmp/demo10   # reuse built folders

For each scale, builds the demo partnership in a temporary folder (``onecase migrate``,
``onecase demo_data --people N``: 20,000 people at scale 1, 200,000 at scale 10, ``onecase
demo_login`` and ``onecase search_index``, the search keys the job worker makes within a minute of
the demo starting), never touching the developer's ``var/`` database; or copies the database of a
folder built that way (``--demo SCALE=DIR``, not changed). Then, in a process of its own with ``DEBUG`` off,
as ``demo-keyworker`` (a key worker at children's social care, signed in with both factors), it
opens a case on the busiest household in that worker's demand ranking (with a need, a note and an
action) and times, through Django's test client, one warm-up and then ``--requests`` requests of:

* the demand dashboard (``/demand/``, the top 20 households);
* that household's profile (its chronology's first page);
* the profile of its member with the most contacts;
* the case page (warnings, needs, actions, notes and the merged chronology);
* a person search for that member's name (``/people/search/?name=...``).

Prints the median and 95th percentile (nearest rank) of each page per scale, the target (every
page's p95 under 300 ms at scale 1; under twice its scale-1 time at scale 10, so that no page's
cost grows with the size of the ledger) and the ratio of scale 10 to scale 1 per page. Every
request is a real one: it is audited and records its disclosures, as it would in use. SQLite, as
the demo runs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_PEOPLE = 20_000
TARGET_MS = 300.0
GROWTH = 2.0  # scale 10 may take at most this many times its scale-1 time
USERNAME = "demo-keyworker"
PAGES = ("demand dashboard", "household profile", "person profile", "case page", "person search")


def _setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onecase.config.settings")
    import logging

    import django

    django.setup()
    logging.disable(logging.WARNING)


# --- in the worker process ---------------------------------------------------------------------


def _subjects(user) -> dict:
    """The busiest household in ``user``'s ranking that they may open, its busiest member they may
    identify, and a case on it with something in each section."""
    import datetime as dt

    from django.db.models import Count

    from onecase.cases import services as cases
    from onecase.cases.services import DuplicateCase, live_case_on
    from onecase.contacts.demand import demand_ranking
    from onecase.contacts.models import Contact
    from onecase.people.models import Household
    from onecase.sharing.selectors import known_people, person_names
    from onecase.web.subjects import openable

    rows = demand_ranking(user, by="household", top=20)
    links = openable(user, [("household", r["household_id"]) for r in rows])
    household_id = next(r["household_id"] for r in rows if ("household", r["household_id"]) in links)
    members = (Contact.objects.filter(household_id=household_id, person_id__isnull=False).values("person_id")
               .annotate(n=Count("pk")).order_by("-n", "person_id"))
    person_id = next(m["person_id"] for m in members if known_people(user, [m["person_id"]]))
    name = person_names(user, [person_id])[person_id]
    try:
        case = cases.case_open(actor=user, key_worker=user, household=Household.objects.get(pk=household_id),
                               summary="Rent arrears, school attendance and repeated police call-outs.")
        cases.need_add(actor=user, case=case, words="Help me keep the house")
        cases.note_add(actor=user, case=case, text="Met the family at home; they want one person to talk to.")
        cases.action_add(actor=user, case=case, title="Call the housing officer", owner=user,
                         due_on=dt.date.today() + dt.timedelta(days=7))
    except DuplicateCase:
        case = live_case_on(household_id=household_id)
    return {"household": household_id, "person": person_id, "case": case.pk, "name": name}


def step_time(requests: str) -> dict:
    _setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from onecase.accounts.models import User
    from onecase.contacts.models import Contact
    from onecase.linkage.search import search_index_refresh
    from onecase.people.models import AgencyPerson

    call_command("migrate", verbosity=0, interactive=False)  # a demo folder made by an earlier version
    search_index_refresh()  # what the job worker does within a minute of the demo starting
    user = User.objects.get(username=USERNAME)
    subjects = _subjects(user)
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = TOTPDevice.objects.get(user=user, confirmed=True).persistent_id
    session.save()
    urls = {
        "demand dashboard": "/demand/",
        "household profile": f"/households/{subjects['household']}/",
        "person profile": f"/people/{subjects['person']}/",
        "case page": f"/cases/{subjects['case']}/",
        "person search": "/people/search/?" + _query(name=subjects["name"]),
    }
    results = {}
    for page, url in urls.items():
        connection.force_debug_cursor = True  # count the warm-up's queries
        connection.queries_log.clear()
        response = client.get(url)
        queries = len(connection.queries_log)
        connection.force_debug_cursor = False
        if response.status_code != 200:
            raise SystemExit(f"{page}: {url} answered {response.status_code}")
        times = []
        for _ in range(int(requests)):
            began = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, (url, response.status_code)  # noqa: S101
        results[page] = {"url": url, "ms": times, "queries": queries}
    return {"pages": results, "contacts": Contact.objects.count(), "agency_people": AgencyPerson.objects.count()}


def _query(**params) -> str:
    from urllib.parse import urlencode

    return urlencode(params)


# --- in the main process ------------------------------------------------------------------------


def _env(folder: Path) -> dict:
    env = {**os.environ, "ONECASE_DATA_DIR": str(folder), "DEBUG": "0", "LOG_LEVEL": "WARNING"}
    env.pop("DATABASE_URL", None)
    env.pop("ONECASE_CACHE_DIR", None)
    return env


def _build_demo(folder: Path, scale: int) -> None:
    onecase = str(Path(sys.executable).with_name("onecase"))
    for command in (["migrate", "--no-input", "-v0"],
                    ["demo_data", "--no-progress", "-v0", "--people", str(DEMO_PEOPLE * scale)],
                    ["demo_login", "-v0"], ["search_index", "-v0"]):
        subprocess.run([onecase, *command], env=_env(folder), cwd=ROOT, check=True, capture_output=True)  # noqa: S603


def _copy(demo: Path, folder: Path) -> Path:
    folder.mkdir()
    shutil.copyfile(demo / "onecase.sqlite3", folder / "onecase.sqlite3")
    return folder


def _worker(folder: Path, requests: int) -> dict:
    done = subprocess.run([sys.executable, __file__, "--worker", str(requests)], env=_env(folder),  # noqa: S603
                          cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit("timing failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


def _table(scale: int, result: dict) -> None:
    print(f"\nScale {scale}: {result['contacts']:,} contacts, {result['agency_people']:,} agency people "  # noqa: T201
          f"(as {USERNAME})")
    print(f"  {'page':<18} {'median ms':>10} {'p95 ms':>8} {'queries':>8}  url")  # noqa: T201
    for page in PAGES:
        row = result["pages"][page]
        print(f"  {page:<18} {statistics.median(row['ms']):>10.0f} {_p95(row['ms']):>8.0f} "  # noqa: T201
              f"{row['queries']:>8}  {row['url']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, nargs="*", choices=(1, 10), default=[1, 10],
                        help="Demo partnership sizes to time (default both).")
    parser.add_argument("--requests", type=int, default=20, help="Timed requests per page, after one warm-up.")
    parser.add_argument("--demo", action="append", default=[], metavar="SCALE=DIR",
                        help="An ONECASE_DATA_DIR where `demo_data --people 20000×SCALE` and `demo_login` have run.")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(step_time(args.worker)))  # noqa: T201
        return

    built = {int(scale): Path(folder) for scale, folder in (d.split("=", 1) for d in args.demo)}
    results = {}
    with tempfile.TemporaryDirectory(prefix="onecase-pages-") as temp:
        temp = Path(temp)
        for scale in sorted(set(args.scale)):
            demo = built.get(scale)
            if demo is None:
                demo = temp / f"demo-{scale}"
                started = time.perf_counter()
                _build_demo(demo, scale)
                print(f"Demo partnership × {scale} built in {time.perf_counter() - started:.0f} s "  # noqa: T201
                      "(not timed below).")
            results[scale] = _worker(_copy(demo, temp / f"timed-{scale}"), args.requests)
            _table(scale, results[scale])

    print(f"\nTarget: every page's p95 under {TARGET_MS:.0f} ms at scale 1; at scale 10, "  # noqa: T201
          f"under {GROWTH:.0f} × its scale-1 p95.")
    for page in PAGES:
        line = f"  {page:<18}"
        if 1 in results:
            p95 = _p95(results[1]["pages"][page]["ms"])
            line += f" scale 1 p95 {p95:5.0f} ms ({'met' if p95 < TARGET_MS else 'missed'})"
        if 1 in results and 10 in results:
            ratio = _p95(results[10]["pages"][page]["ms"]) / _p95(results[1]["pages"][page]["ms"])
            line += f", ratio 10× / 1× {ratio:4.2f} ({'met' if ratio < GROWTH else 'missed'})"
        elif 10 in results:
            line += f" scale 10 p95 {_p95(results[10]['pages'][page]['ms']):5.0f} ms"
        print(line)  # noqa: T201


if __name__ == "__main__":
    main()
