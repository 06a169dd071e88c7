"""Linkage quality: precision, recall and F1 of `onecase link` against known truth.

    .venv/bin/python benchmarks/linkage_quality.py                  # demo, febrl and synthetic
    .venv/bin/python benchmarks/linkage_quality.py --source demo --people 20000

Sources, each linked in a fresh database (SQLite in a temporary folder, or DATABASE_URL):

- demo: the demo partnership (`onecase demo_data --out DIR --truth FILE`), imported through
  the contact import; B-cubed for people, households and addresses against truth.csv.
- febrl: FEBRL 3 (5,000 records, duplicates within) and FEBRL 4 (5,000 + 5,000, one match
  each), from onecase/linkage/fixtures/febrl; pairwise and B-cubed for people.
- synthetic: onecase.linkage.synthetic, a harsher generator (many records without a date
  of birth or an address); B-cubed for people and households.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onecase.config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def _score(name: str, score) -> dict:
    return {"measure": name, "precision": score.precision, "recall": score.recall, "f1": score.f1}


def _links():
    from onecase.people.models import Person, PersonLink

    active = PersonLink.objects.filter(undone_at__isnull=True)
    links = dict(active.values_list("agency_person_id", "person_id"))
    addresses = dict(active.values_list("agency_person_id", "address_id"))
    household = dict(Person.objects.values_list("pk", "household_id"))
    households = {k: household[p] or ("person", p) for k, p in links.items()}
    addresses = {k: a or ("record", k) for k, a in addresses.items()}
    return links, households, addresses


def worker_demo(people: int, seed: int, folder: Path) -> list[dict]:
    from django.core.management import call_command

    from onecase.linkage.metrics import bcubed, pairwise
    from onecase.linkage.services import link_run
    from onecase.people.models import AgencyPerson

    truth_file = folder / "truth.csv"
    call_command("demo_data", people=people, seed=seed, out=folder / "files", truth=truth_file, no_progress=True,
                 verbosity=0)
    started = time.perf_counter()
    run = link_run(actor=None)
    seconds = time.perf_counter() - started
    truth = {}
    with truth_file.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            truth[(row["agency"], row["person_ref"])] = (row["true_person_id"], row["true_household_id"],
                                                         row["true_address_id"])
    key = {pk: (code, ref) for pk, code, ref in AgencyPerson.objects.values_list("pk", "agency__code", "person_ref")}
    links, households, addresses = _links()
    tp = {k: truth[key[k]][0] for k in links}
    return [
        {"source": f"demo ({people:,} people, {run.records:,} agency people, {seconds:.1f} s)"},
        _score("people B-cubed", bcubed(links, tp)),
        _score("people pairwise", pairwise(links, tp)),
        _score("households B-cubed", bcubed(households, {k: truth[key[k]][1] for k in links})),
        _score("addresses B-cubed", bcubed(addresses, {k: truth[key[k]][2] for k in links})),
    ]


def worker_febrl(names: list[str]) -> list[dict]:
    from django.db import transaction

    from onecase.linkage import febrl
    from onecase.linkage.metrics import bcubed, pairwise
    from onecase.linkage.services import link_run
    from onecase.linkage.synthetic import load

    records = []
    for name in names:
        records += febrl.records(name, agency=f"FEBRL{name[-1].upper()}" if name.startswith("dataset4") else "FEBRL")
    with transaction.atomic():
        truth = load(records, contacts=False)
    started = time.perf_counter()
    run = link_run(actor=None)
    seconds = time.perf_counter() - started
    links, _, _ = _links()
    tp = {k: v[0] for k, v in truth.items()}
    label = "FEBRL 4 (4a + 4b)" if len(names) > 1 else "FEBRL 3"
    return [
        {"source": f"{label} ({run.records:,} records, {seconds:.1f} s)"},
        _score("pairwise", pairwise(links, tp)),
        _score("B-cubed", bcubed(links, tp)),
    ]


def worker_synthetic(records: int, seed: int) -> list[dict]:
    from django.db import transaction

    from onecase.linkage.metrics import bcubed
    from onecase.linkage.services import link_run
    from onecase.linkage.synthetic import Generator, load

    population = Generator(seed).generate(records)
    with transaction.atomic():
        truth = load(population.records)
    started = time.perf_counter()
    run = link_run(actor=None)
    seconds = time.perf_counter() - started
    links, households, _ = _links()
    return [
        {"source": f"synthetic ({run.records:,} agency people, {seconds:.1f} s)"},
        _score("people B-cubed", bcubed(links, {k: v[0] for k, v in truth.items()})),
        _score("households B-cubed", bcubed(households, {k: v[1] for k, v in truth.items()})),
    ]


def run_worker(args: list[str]) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="onecase-quality-") as folder:
        env = {**os.environ, "ONECASE_DATA_DIR": folder, "ONECASE_JOBS_SYNC": "1"}
        result = subprocess.run(
            [sys.executable, __file__, "--worker", *args, "--folder", folder],
            env=env, cwd=ROOT, capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            sys.stderr.write(result.stderr[-4000:])
            raise SystemExit(f"worker {' '.join(args)} failed")
        return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", choices=("all", "demo", "febrl", "synthetic"), default="all")
    parser.add_argument("--people", type=int, default=20_000, help="Demo city size.")
    parser.add_argument("--records", type=int, default=20_000, help="Synthetic agency people.")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        _setup()
        kind, *rest = args.worker
        if kind == "demo":
            rows = worker_demo(int(rest[0]), int(rest[1]), args.folder)
        elif kind == "febrl":
            rows = worker_febrl(rest)
        else:
            rows = worker_synthetic(int(rest[0]), int(rest[1]))
        print(json.dumps(rows))  # noqa: T201
        return

    jobs = []
    if args.source in ("all", "demo"):
        jobs.append(["demo", str(args.people), str(args.seed)])
    if args.source in ("all", "febrl"):
        jobs += [["febrl", "dataset3"], ["febrl", "dataset4a", "dataset4b"]]
    if args.source in ("all", "synthetic"):
        jobs.append(["synthetic", str(args.records), str(args.seed)])
    for job in jobs:
        rows = run_worker(job)
        print(rows[0]["source"])  # noqa: T201
        for row in rows[1:]:
            print(f"  {row['measure']:<20} precision {row['precision']:.4f}  recall {row['recall']:.4f}  "  # noqa: T201
                  f"F1 {row['f1']:.4f}")


if __name__ == "__main__":
    main()
