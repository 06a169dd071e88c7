"""Time OneCase's contact import against a plain PostgreSQL COPY of the same CSV file.

Usage: .venv/bin/python benchmarks/import.py [--rows 1000000] [--seed 20240601] [--keep]

Generates a deterministic canonical contact CSV, recreates the database
onecase_bench_import, migrates it, then times (1) the OneCase import, (2) a re-import of
the same file (nothing changes) and (3) ``COPY ... FROM STDIN WITH (FORMAT csv, HEADER true)``
of the same bytes into a bare typed table. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg

SERVER = "postgres://postgres@127.0.0.1:5432"
DATABASE = "onecase_bench_import"
TARGET_RATIO = 3.0

AGENCIES = ("POLICE", "HOUSING", "ASC", "CSC", "FIRE", "NHS_ED", "DWP", "FOOD", "CAB", "EDU", "PROB", "YOS")
COLUMNS = (
    "agency", "record_id", "person_ref", "occurred_at", "contact_type", "given_name", "family_name",
    "date_of_birth", "sex", "address_line", "postcode", "uprn", "nhs_number", "presenting_need", "outcome",
    "staff_role", "source_system",
)
GIVEN = (
    "Oliver", "Amelia", "Jack", "Olivia", "Harry", "Isla", "Jacob", "Emily", "Charlie", "Poppy", "Thomas", "Ava",
    "George", "Lily", "Noah", "Sophie", "James", "Grace", "William", "Mia", "Mohammed", "Aisha", "Krzysztof",
    "Zofia", "Siobhan", "Dylan", "Megan", "Rhys", "Anne-Marie", "Jean-Luc", "Chloé", "Zoë",
)
FAMILY = (
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas", "Johnson", "Roberts",
    "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards", "Hughes", "Green", "Hall", "Khan", "Ahmed",
    "Kowalski", "O'Brien", "McDonald", "Patel", "Singh", "Nowak", "Bradshaw", "Hollins", "Wedgwood", "Bennett",
)
STREETS = (
    "High Street", "Station Road", "Church Lane", "Victoria Road", "Park Avenue", "Queen Street", "Mill Lane",
    "London Road", "Hartshill Road", "Etruria Road", "Leek Road", "Waterloo Road", "Uttoxeter Road", "King Street",
)
LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
TOWNS = ("Hanley", "Burslem", "Tunstall", "Stoke", "Fenton", "Longton", "Newcastle", "Kidsgrove", "Meir", "Bucknall")
CONTACT_TYPES = (
    "incident", "asb_report", "welfare_check", "arrest", "homeless_application", "repair_request", "rent_arrears",
    "safeguarding_referral", "care_assessment", "ed_attendance", "fire_safety_visit", "benefit_claim", "parcel",
    "debt_advice", "school_absence", "exclusion", "supervision", "youth_caution", "call", "visit",
)
NEEDS = (
    "Caller says the neighbours are shouting again and she cannot sleep",
    "Rent arrears of about 600 pounds, worried about eviction",
    "I said \"help me\" twice and nobody came",
    "Lost job in March, no money for food or gas, two children at home",
    "Fell in the bathroom, could not get up for several hours",
    "Asked for a food parcel; benefits delayed, sanctions applied",
    "Damp and mould in the bedroom, child has asthma",
    "Concern for welfare: not seen for a week, curtains closed",
    "Debt with three lenders, bailiffs letter received",
    "Attended ED with chest pain, discharged, advised to see GP",
    "Smoke alarm fitted; hoarding noted in the hallway",
    "Not attending school since half term, mum says anxiety",
    "Domestic argument reported by neighbour, no injuries seen",
    "",
)
OUTCOMES = ("", "advice given", "referred", "no further action", "visit booked", "parcel issued", "closed")
ROLES = ("", "call handler", "PCSO", "housing officer", "social worker", "nurse", "adviser", "volunteer")
SYSTEMS = ("", "Niche", "Northgate", "Liquidlogic", "Mosaic", "Symphony", "Capita One", "CRM")


# --- the file ------------------------------------------------------------------------


def write_contacts(path: Path, rows: int, seed: int) -> None:
    """Write ``rows`` canonical contacts, about one person for every five rows, deterministically."""
    rng = random.Random(seed)
    people = []
    for p in range(max(1, rows // 5)):
        agency = AGENCIES[p % len(AGENCIES)]
        dob = "" if rng.random() < 0.15 else (date(1930, 1, 1) + timedelta(days=rng.randrange(32000))).isoformat()
        flat = f"Flat {rng.randrange(1, 40)}, " if rng.random() < 0.3 else ""
        address = f"{flat}{rng.randrange(1, 300)} {rng.choice(STREETS)}, {rng.choice(TOWNS)}"
        postcode = f"ST{rng.randrange(1, 12)} {rng.randrange(1, 10)}{rng.choice(LETTERS)}{rng.choice(LETTERS)}"
        uprn = "" if rng.random() < 0.4 else str(rng.randrange(10**11, 10**12))
        nhs = ""
        if agency in ("NHS_ED", "ASC") or rng.random() < 0.1:
            digits = f"{rng.randrange(10**9, 10**10)}"
            nhs = f"{digits[:3]} {digits[3:6]} {digits[6:]}"
        people.append((
            agency, f"{agency[:2]}{p:07d}", rng.choice(GIVEN), rng.choice(FAMILY), dob,
            rng.choice(("M", "F", "F", "M", "X", "")), address, postcode, uprn, nhs,
        ))
    start = date(2022, 1, 1)
    days = [(start + timedelta(days=d)).isoformat() for d in range(1096)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for i in range(rows):
            agency, ref, given, family, dob, sex, address, postcode, uprn, nhs = people[rng.randrange(len(people))]
            day = days[rng.randrange(len(days))]
            kind = rng.random()
            if kind < 0.05:
                occurred = day
            else:
                occurred = f"{day}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"
                if kind > 0.9:
                    occurred += "+01:00" if kind > 0.95 else "Z"
            need = rng.choice(NEEDS)
            if need and rng.random() < 0.3:
                need = f"{need}, {rng.choice(NEEDS).lower()}"
            writer.writerow((
                agency, f"R{i:09d}", ref, occurred, rng.choice(CONTACT_TYPES), given, family, dob, sex, address,
                postcode, uprn, nhs, need, rng.choice(OUTCOMES), rng.choice(ROLES), rng.choice(SYSTEMS),
            ))


# --- the database --------------------------------------------------------------------


def recreate_database() -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')


def drop_database() -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def checkpoint() -> None:
    """Start each timed run with no dirty buffers left over from the previous one."""
    with psycopg.connect(f"{SERVER}/{DATABASE}", autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def setup_django() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "onecase.config.settings"
    os.environ["DATABASE_URL"] = f"{SERVER}/{DATABASE}"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)


def time_onecase(path: Path) -> tuple[float, dict[str, float], object]:
    """Time one import end to end, split into its SQL statements, the commit and the rest.

    The import runs inside an outer transaction so that its commit, where the deferred
    foreign key checks run, can be timed on its own.
    """
    from django.db import connection, transaction

    from onecase.imports.services import import_contacts

    statements: dict[str, float] = {}

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            words = sql.split()
            kind = " ".join(words[:3] if words[0] in ("INSERT", "DELETE") else words[:1]).lower()
            statements[kind] = statements.get(kind, 0.0) + time.perf_counter() - started

    checkpoint()
    started = time.perf_counter()
    with transaction.atomic(), connection.execute_wrapper(timed):
        result = import_contacts(actor=None, path=path, agency_code=None)
        imported = time.perf_counter()
    total = time.perf_counter() - started
    phases = {"statements": sum(statements.values()), "commit": total - (imported - started)}
    phases["read, check and stage"] = total - phases["statements"] - phases["commit"]
    phases.update({f"  {kind}": seconds for kind, seconds in sorted(statements.items(), key=lambda i: -i[1])})
    return total, phases, result


def time_copy(path: Path) -> float:
    typed = {"occurred_at": "timestamptz", "date_of_birth": "date"}
    columns = ", ".join(f"{c} {typed.get(c, 'text')}" for c in COLUMNS)
    with psycopg.connect(f"{SERVER}/{DATABASE}") as conn:
        conn.execute("DROP TABLE IF EXISTS bench_copy")
        conn.execute(f"CREATE TABLE bench_copy ({columns})")
        conn.execute("SET TimeZone = 'Europe/London'")  # a time without offset is UK local, as in OneCase
        conn.commit()
    checkpoint()
    started = time.perf_counter()
    with psycopg.connect(f"{SERVER}/{DATABASE}") as conn:
        conn.execute("SET TimeZone = 'Europe/London'")
        with conn.cursor() as cursor, path.open("rb") as handle:
            sql = f"COPY bench_copy ({', '.join(COLUMNS)}) FROM STDIN WITH (FORMAT csv, HEADER true)"
            with cursor.copy(sql) as copy:
                while block := handle.read(1 << 20):
                    copy.write(block)
        conn.commit()
    return time.perf_counter() - started


# --- the run -------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="contacts in the file (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=20240601, help="random seed for the file")
    parser.add_argument("--keep", action="store_true", help=f"keep the CSV file and the {DATABASE} database")
    args = parser.parse_args(argv)
    logging.getLogger("onecase").setLevel(logging.WARNING)  # the import logs a line per file

    folder = Path(tempfile.mkdtemp(prefix="onecase-bench-import-"))
    path = folder / "contacts.csv"
    try:
        started = time.perf_counter()
        write_contacts(path, args.rows, args.seed)
        size = path.stat().st_size
        print(f"file:       {path} ({args.rows:,} rows, {size / 1e6:,.1f} MB, "
              f"written in {time.perf_counter() - started:.1f} s)")
        recreate_database()
        setup_django()

        onecase_s, phases, first = time_onecase(path)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        reimport_s, rephases, again = time_onecase(path)
        copy_s = time_copy(path)

        from django.db import connections

        connections.close_all()
        rows = first.rows
        print(f"rows:       {rows:,} ({first.created:,} created, {first.people_created:,} agency people, "
              f"{len(first.agencies_created)} agencies)")
        print(f"COPY:       {copy_s:8.2f} s  {rows / copy_s:12,.0f} rows/s")
        print(f"OneCase:    {onecase_s:8.2f} s  {rows / onecase_s:12,.0f} rows/s")
        print(f"re-import:  {reimport_s:8.2f} s  {rows / reimport_s:12,.0f} rows/s  "
              f"({again.created} created, {again.updated} updated, {again.unchanged:,} unchanged)")
        print(f"peak RSS:   {peak_mb:8.0f} MB (this process, after the first import)")
        for title, split in (("import", phases), ("re-import", rephases)):
            print(f"{title} time by phase:")
            for name, seconds in split.items():
                print(f"  {name:<34} {seconds:8.2f} s")
        print(f"onecase/COPY = {onecase_s / copy_s:.2f} (target <= {TARGET_RATIO:.2f})")
        print(f"re-import/COPY = {reimport_s / copy_s:.2f}")
    finally:
        if args.keep:
            print(f"kept:       {path} and database {DATABASE}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
            drop_database()
    return 0


if __name__ == "__main__":
    sys.exit(main())
