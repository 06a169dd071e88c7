"""Time the demand ranking (``onecase demand --by household --top 10``) on a large ledger.

Usage: .venv/bin/python benchmarks/demand.py [--sqlite-contacts 1000000] [--postgres-contacts 10000000]

Builds a synthetic, already-linked ledger (households, people, agency people, contacts with
unit costs, need categories and demand classes) in a fresh SQLite file and a fresh PostgreSQL
database (onecase_bench_demand), then times ``demand_ranking(None, by="household", top=10)``:
the same call the command and the API make, flags and costs included. The baseline named is the
target: 2 seconds for each database; the ratio printed is time / 2 s. The ranking by cost is
timed too, for information.

The ledger is written set-based in one transaction, as a first import and a link run would
leave it: the ledger's non-unique indexes are built after loading (PostgreSQL) and the demand
counts are counted once at the end rather than by their triggers row by row.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 2.0
SERVER = "postgres://postgres@127.0.0.1:5432"
DATABASE = "onecase_bench_demand"
AGENCIES = 12
HOUSEHOLD_SIZE = 2.4
CONTACTS_PER_PERSON = 6


def build_and_time(contacts: int, repeats: int) -> None:
    """Runs inside a process whose DATABASE_URL points at an empty database."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onecase.config.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from onecase.contacts.bulk import (
        build_ledger_indexes,
        demand_counts_paused,
        drop_ledger_indexes,
        rebuild_demand_counts,
    )
    from onecase.contacts.demand import demand_ranking

    call_command("migrate", verbosity=0)
    people = max(contacts // CONTACTS_PER_PERSON, 10)
    households = max(int(people / HOUSEHOLD_SIZE), 1)
    started = time.perf_counter()
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=OFF")
            cursor.execute("PRAGMA synchronous=OFF")
    with transaction.atomic(), demand_counts_paused():
        indexes = drop_ledger_indexes() if connection.vendor == "postgresql" else []
        with connection.cursor() as cursor:
            _fill(cursor, connection.vendor, contacts, people, households)
        build_ledger_indexes(indexes)
        rebuild_demand_counts()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    print(f"  built {contacts:,} contacts, {people:,} people, {households:,} households "
          f"in {time.perf_counter() - started:.1f} s", flush=True)

    for order in ("contacts", "cost"):
        times = []
        for _ in range(repeats):
            began = time.perf_counter()
            rows = demand_ranking(None, by="household", top=10, order=order)
            times.append(time.perf_counter() - began)
        best = min(times)
        print(f"  top household by {order}: {rows[0]['contacts_total']} contacts at "
              f"{rows[0]['distinct_agencies']} agencies, £{rows[0]['cost_gbp']}", flush=True)
        print(f"  demand ranking by {order}: best {best:.2f} s of {repeats} "
              f"(all: {', '.join(f'{t:.2f}' for t in times)})")
        if order == "contacts":
            print(f"  ratio to the {TARGET_SECONDS:.0f} s target: {best / TARGET_SECONDS:.2f}", flush=True)


def _fill(cursor, vendor: str, contacts: int, people: int, households: int) -> None:
    """Set-based inserts; the same shapes the import and linkage write."""
    now = "2026-10-31 12:00:00"
    if vendor == "postgresql":
        series = "generate_series(1, {n}) AS g(i)"
        ts = ("timestamp with time zone '2026-10-31 12:00:00+00' - (g.i % 730) * interval '1 day' "
              "- (g.i % 86400) * interval '1 second'")
        mod = "%"
    else:
        series = ("(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) "
                  "SELECT i FROM s) AS g")
        ts = "datetime('2026-10-31 12:00:00', '-' || (g.i % 730) || ' days', '-' || (g.i % 86400) || ' seconds')"
        mod = "%"

    def run(sql: str, n: int) -> None:
        cursor.execute(sql.replace("{series}", series.format(n=n)))

    for n in range(1, AGENCIES + 1):
        cursor.execute(
            "INSERT INTO accounts_agency (id, code, name, sector, contact_route, created_at) "
            f"VALUES ({n}, 'AG{n:02d}', 'Agency {n}', 'other', '', '{now}')"
        )
        cursor.execute(
            "INSERT INTO costs_unitcost (agency_id, contact_type, unit_cost_gbp, price_year, source, notes, "
            f"origin, created_at, updated_at) VALUES ({n}, 'call', {n * 10 + 0.5}, '2019-20', 'benchmark', '', "
            f"'import', '{now}', '{now}')"
        )
    run(f"INSERT INTO people_address (id, uprn, postcode, number, flat, street, line, key, created_at) "
        f"SELECT g.i, '', 'ST1 1AA', CAST(g.i AS TEXT), '', 'high street', '', 'b:' || g.i, '{now}' FROM {{series}}",
        households)
    run(f"INSERT INTO people_household (id, address_id, created_at) SELECT g.i, g.i, '{now}' FROM {{series}}",
        households)
    run(f"INSERT INTO people_person (id, household_id, created_at) "
        f"SELECT g.i, 1 + (g.i {mod} {households}), '{now}' FROM {{series}}", people)
    run("INSERT INTO people_agencyperson (id, agency_id, person_ref, given_name, family_name, sex, address_line, "
        f"postcode, uprn, nhs_number, created_at, updated_at) SELECT g.i, 1 + (g.i {mod} {AGENCIES}), "
        f"'P' || g.i, 'Given', 'Family', '', '', '', '', '', '{now}', '{now}' FROM {{series}}", people)
    # Skewed demand: every seventh contact goes to the first 1% of people.
    hot = max(people // 100, 1)
    run("INSERT INTO contacts_contact (agency_id, record_id, agency_person_id, occurred_at, contact_type, "
        "presenting_need, outcome, staff_role, source_system, address_line, postcode, uprn, person_id, "
        "household_id, address_id, demand_class, demand_class_manual, need_category_manual, imported_at, updated_at) "
        f"SELECT 1 + (p.pid {mod} {AGENCIES}), 'R' || p.i, p.pid, {ts.replace('g.i', 'p.i')}, 'call', '', '', '', '', "
        f"'', '', '', p.pid, 1 + (p.pid {mod} {households}), 1 + (p.pid {mod} {households}), "
        f"CASE WHEN p.i {mod} 3 = 0 THEN 'failure' ELSE 'value' END, false, false, '{now}', '{now}' "
        f"FROM (SELECT g.i, CASE WHEN g.i {mod} 7 = 0 THEN 1 + (g.i {mod} {hot}) ELSE 1 + (g.i {mod} {people}) END "
        f"AS pid FROM {{series}}) p", contacts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sqlite-contacts", type=int, default=1_000_000)
    parser.add_argument("--postgres-contacts", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        build_and_time(args.worker, args.repeats)
        return
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "ONECASE_DATA_DIR": data, "LOG_LEVEL": "WARNING"}
        env.pop("DATABASE_URL", None)
        print(f"SQLite, {args.sqlite_contacts:,} contacts:", flush=True)
        subprocess.run([sys.executable, __file__, "--worker", str(args.sqlite_contacts), "--repeats",
                        str(args.repeats)], env=env, cwd=root, check=True)
        import psycopg

        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
            admin.execute(f"CREATE DATABASE {DATABASE}")
        env["DATABASE_URL"] = f"{SERVER}/{DATABASE}"
        print(f"PostgreSQL, {args.postgres_contacts:,} contacts:", flush=True)
        subprocess.run([sys.executable, __file__, "--worker", str(args.postgres_contacts), "--repeats",
                        str(args.repeats)], env=env, cwd=root, check=True)


if __name__ == "__main__":
    main()
