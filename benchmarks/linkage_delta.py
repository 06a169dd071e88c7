"""Linking a delta: the incremental link after a 1,000-row upload, next to a full relink of the same records.

    .venv/bin/python benchmarks/linkage_delta.py                  # builds the demo partnership first (~30 s)
    .venv/bin/python benchmarks/linkage_delta.py --rows 100       # a 100-row delta as well as the 1,000-row one
    .venv/bin/python benchmarks/linkage_delta.py --demo /tmp/bench-demo   # reuse a folder made by `demo_data`

Builds the demo partnership (`onecase migrate`, `onecase demo_data`: about 37,000 agency people,
already linked by a full run) in a temporary folder, or copies the database of an existing one
(``--demo``, an ``ONECASE_DATA_DIR`` holding ``onecase.sqlite3`` and the ``demo`` files). Then, each
step in its own process on its own copy of that database:

1. writes a delta of ``--rows`` contacts drawn from the demo's own files, as an agency's next
   upload would look: 60% existing people under new references (new agency people, to be linked
   to people who exist), 20% new contacts of agency people already linked (nothing to relink, but
   the contacts need their person), 10% agency people whose address changed (relinked; their
   household may change) and 10% people nobody has seen (names, dates of birth and addresses
   shuffled between rows);
2. imports it (``import_contacts``, not timed);
3. times the incremental link the upload queues (``link_run(actor=None)``: read, score the new
   records against the people there with the last model, people, addresses, households, review
   items, write, contacts' people and households, failure demand);
4. the baseline, on a copy with the same delta imported: the full relink of every agency person
   (``link_run(actor=None, full=True)``, as ``onecase link --full``: the model trained again and
   every pair scored).

Prints each time with its stages, and the ratio full / incremental. SQLite, as the demo runs.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = 20240601


def _setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onecase.config.settings")
    import logging

    import django

    django.setup()
    logging.disable(logging.WARNING)


# --- the delta -------------------------------------------------------------------------------


def _demo_rows(folder: Path) -> list[dict]:
    rows = []
    for path in sorted(folder.glob("*.csv")):
        if path.name.startswith("truth"):
            continue
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                row["agency"] = path.stem
                rows.append(row)
    return rows


def write_delta(demo: Path, rows: int, out: Path, seed: int = SEED) -> dict[str, int]:
    """A delta of ``rows`` contacts drawn from the demo files in ``demo``; returns its make-up."""
    source = _demo_rows(demo)
    rnd = random.Random(seed)
    latest = max(datetime.fromisoformat(r["occurred_at"]) for r in source)
    kinds = {"new reference": 0.6, "new contact": 0.2, "moved": 0.1, "new person": 0.1}
    made = {kind: 0 for kind in kinds}
    delta = []
    for i, row in enumerate(rnd.sample(source, rows)):
        kind = next(k for k, share in _cumulative(kinds) if i < share * rows)
        row = dict(row, record_id=f"DELTA{i:06d}", occurred_at=(latest + timedelta(minutes=i + 1)).isoformat())
        if kind == "new reference":
            row["person_ref"] = f"DELTA-{row['person_ref']}"
        elif kind == "moved":
            other = rnd.choice(source)
            row.update({c: other[c] for c in ("address_line", "postcode", "uprn")})
        elif kind == "new person":
            row["person_ref"] = f"DELTA-NEW-{i:06d}"
            for columns in (("given_name", "sex"), ("family_name",), ("date_of_birth",),
                            ("address_line", "postcode", "uprn")):
                other = rnd.choice(source)
                row.update({c: other[c] for c in columns})
            row["nhs_number"] = ""
        made[kind] += 1
        delta.append(row)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(delta[0]))
        writer.writeheader()
        writer.writerows(delta)
    return made


def _cumulative(shares: dict[str, float]):
    total = 0.0
    for kind, share in shares.items():
        total += share
        yield kind, total + 1e-9


# --- the steps, each in its own process ---------------------------------------------------------


def step_link(delta: str, full: str) -> dict:
    _setup()
    from django.core.management import call_command

    from onecase.imports.services import import_contacts

    call_command("migrate", verbosity=0, interactive=False)  # a demo folder made by an earlier version
    from onecase.linkage.services import link_run

    imported = import_contacts(actor=None, path=delta)
    stages: list[tuple[str, float]] = []
    started = time.perf_counter()
    run = link_run(actor=None, full=full == "full", progress=lambda stage: stages.append((stage, time.perf_counter())))
    seconds = time.perf_counter() - started
    marks = [s for s in stages if ":" not in s[0]] + [("end", started + seconds)]
    breakdown = {name: round(marks[i + 1][1] - at, 2) for i, (name, at) in enumerate(marks[:-1])}
    return {"seconds": seconds, "stages": breakdown, "mode": run.mode, "records": run.records,
            "new_records": run.new_records, "people_created": run.people_created,
            "links_created": run.links_created, "rows": imported.rows}


def _worker(folder: Path, *args: str) -> dict:
    env = {**os.environ, "ONECASE_DATA_DIR": str(folder)}
    env.pop("DATABASE_URL", None)
    done = subprocess.run([sys.executable, __file__, "--worker", *args], env=env, cwd=ROOT,  # noqa: S603
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit(f"step {args[0]} failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _build_demo(folder: Path) -> None:
    env = {**os.environ, "ONECASE_DATA_DIR": str(folder)}
    env.pop("DATABASE_URL", None)
    onecase = str(Path(sys.executable).with_name("onecase"))
    for command in (["migrate", "--no-input", "-v0"], ["demo_data", "--no-progress", "-v0"]):
        subprocess.run([onecase, *command], env=env, cwd=ROOT, check=True, capture_output=True)  # noqa: S603


def _copy(demo: Path, folder: Path) -> Path:
    folder.mkdir()
    shutil.copyfile(demo / "onecase.sqlite3", folder / "onecase.sqlite3")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="*", default=[1000], help="Delta sizes (default 1000).")
    parser.add_argument("--demo", type=Path, help="An ONECASE_DATA_DIR where `demo_data` has run (not changed).")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(step_link(*args.worker[1:])))  # noqa: T201
        return

    sizes = sorted(set(args.rows) | {1000})
    with tempfile.TemporaryDirectory(prefix="onecase-delta-") as temp:
        temp = Path(temp)
        demo = args.demo
        if demo is None:
            demo = temp / "demo"
            started = time.perf_counter()
            _build_demo(demo)
            print(f"Demo partnership built in {time.perf_counter() - started:.0f} s (not timed below).")  # noqa: T201
        results = {}
        for rows in sizes:
            delta = temp / f"delta-{rows}.csv"
            made = write_delta(demo / "demo", rows, delta)
            incremental = _worker(_copy(demo, temp / f"incremental-{rows}"), "link", str(delta), "incremental")
            results[rows] = incremental
            print(f"{rows:,}-row delta ({', '.join(f'{n} {k}' for k, n in made.items())}): "  # noqa: T201
                  f"{incremental['new_records']:,} agency people to link of {incremental['records']:,}")
            print(f"  incremental link ({incremental['mode']}): {incremental['seconds']:6.2f} s  "  # noqa: T201
                  f"{incremental['stages']}")
        full = _worker(_copy(demo, temp / "full"), "link", str(temp / "delta-1000.csv"), "full")
    print(f"baseline, full relink of the same {full['records']:,} agency people "  # noqa: T201
          f"(`onecase link --full`, with the 1,000-row delta): {full['seconds']:6.2f} s  {full['stages']}")
    print(f"1,000-row delta: incremental {results[1000]['seconds']:.2f} s, full relink {full['seconds']:.2f} s, "  # noqa: T201
          f"ratio {full['seconds'] / results[1000]['seconds']:.1f}x")


if __name__ == "__main__":
    main()
