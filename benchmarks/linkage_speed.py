"""Linkage speed: `onecase link` end to end next to raw Splink, same settings, same data, same run.

    .venv/bin/python benchmarks/linkage_speed.py                 # 1,000,000 agency people
    .venv/bin/python benchmarks/linkage_speed.py --records 200000

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/onecase_link .venv/bin/python benchmarks/linkage_speed.py

Generates the agency people (and one contact each) with onecase.linkage.synthetic into a
fresh database (SQLite in a temporary folder, or the PostgreSQL database DATABASE_URL
names, which is dropped and created again: never point it at data that matters), then
times, each in its own process so peak memory is its own:

- OneCase: a full `link` run from the database and back (read, normalise, train,
  score, cluster without merging families, addresses and households, review items,
  write links, people, households and contact addresses).
- raw Splink: the same Splink calls with the same settings (model.settings, the same
  training recipe, predict at the review threshold, connected components at the link
  threshold) on the same records, already normalised; reading and preparing them is
  not timed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setup(migrate: bool = False) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onecase.config.settings")
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepare(records: int, seed: int) -> dict:
    _setup(migrate=True)
    from django.db import transaction

    from onecase.linkage.synthetic import Generator, load

    started = time.perf_counter()
    population = Generator(seed).generate(records)
    with transaction.atomic():
        load(population.records)
    return {"records": len(population.records), "seconds": time.perf_counter() - started}


def onecase() -> dict:
    _setup()
    from onecase.linkage.services import link_run

    stages: list[tuple[str, float]] = []
    started = time.perf_counter()
    run = link_run(actor=None, full=True, progress=lambda stage: stages.append((stage, time.perf_counter())))
    total = time.perf_counter() - started
    marks = [s for s in stages if ":" not in s[0]] + [("end", time.perf_counter())]
    breakdown = {name: round(marks[i + 1][1] - at, 2) for i, (name, at) in enumerate(marks[:-1])}
    return {"seconds": total, "peak_mb": _peak_mb(), "stages": breakdown, "pairs": run.pairs, "people": run.people,
            "households": run.households}


def raw_splink() -> dict:
    """The Splink part alone, on features prepared (untimed) the way a link run prepares them."""
    _setup()
    import logging

    from splink import DuckDBAPI, Linker, block_on
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    from onecase.linkage import model
    from onecase.linkage.conf import linkage_settings
    from onecase.linkage.run import Runner

    conf = linkage_settings()
    runner = Runner(full=True)
    runner._read()
    runner._features(incremental=False)
    con = runner.con
    columns = ", ".join(model.SPLINK_COLUMNS)
    con.execute(f"CREATE OR REPLACE TABLE splink_input AS SELECT {columns} FROM onecase_features")
    for table in ("onecase_raw", "onecase_features", "onecase_links", "onecase_contacts", "onecase_contact_obs",
                  "onecase_lines"):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    n = con.sql("SELECT count(*) FROM splink_input").fetchall()[0][0]
    prepared_mb = _peak_mb()

    started = time.perf_counter()
    db_api = DuckDBAPI(connection=con)
    records = db_api.register("splink_input", table_name="splink_input_in")
    linker = Linker(records, model.settings(1.0 / n), log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(list(model.DETERMINISTIC_RULES), recall=conf.recall)
    linker.training.estimate_u_using_random_sampling(
        max_pairs=min(conf.u_max_pairs, n * (n - 1) / 2), seed=conf.seed, min_count_per_level=None, num_chunks=1
    )
    for columns in model.EM_BLOCKS:
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on(*columns), estimate_without_term_frequencies=True, max_pairs=conf.em_max_pairs
        )
    trained = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_probability=conf.review_low, warning_mode="never")
    predicted = time.perf_counter()
    edges = con.sql(f"SELECT unique_id_l, unique_id_r, match_probability FROM {predictions.physical_name}")
    clusters = cluster_pairwise_predictions_at_threshold(
        con.sql("SELECT unique_id FROM splink_input").to_arrow_table(), edges.to_arrow_table(), db_api=db_api,
        node_id_column_name="unique_id", threshold_match_probability=conf.threshold,
    )
    people = con.sql(f"SELECT count(DISTINCT cluster_id) FROM {clusters.physical_name}").fetchall()[0][0]
    done = time.perf_counter()
    return {"seconds": done - started, "peak_mb": _peak_mb(), "prepared_mb": prepared_mb,
            "stages": {"train": round(trained - started, 2), "predict": round(predicted - trained, 2),
                       "cluster": round(done - predicted, 2)}, "people": people}


def _fresh_postgres(url: str) -> None:
    import dj_database_url
    import psycopg

    config = dj_database_url.parse(url)
    server = url.rsplit("/", 1)[0]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{config["NAME"]}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{config["NAME"]}"')


def _settle_postgres(url: str, vacuum: bool = False) -> None:
    """As a database in use would be: vacuumed and analysed after the load, and no step starts with
    another's dirty pages (a CHECKPOINT before each timed step)."""
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        if vacuum:
            conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")


def _worker(kind: str, folder: str, *args: str) -> dict:
    env = {**os.environ, "ONECASE_DATA_DIR": folder}
    result = subprocess.run([sys.executable, __file__, "--worker", kind, *args], env=env, cwd=ROOT,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stderr[-4000:])
        raise SystemExit(f"{kind} failed")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, *rest = args.worker
        result = {"prepare": lambda: prepare(int(rest[0]), int(rest[1])), "onecase": onecase,
                  "raw": raw_splink}[kind]()
        print(json.dumps(result))  # noqa: T201
        return

    database = "PostgreSQL" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "SQLite"
    if database == "PostgreSQL":
        _fresh_postgres(os.environ["DATABASE_URL"])
    with tempfile.TemporaryDirectory(prefix="onecase-speed-") as folder:
        prepared = _worker("prepare", folder, str(args.records), str(args.seed))
        print(f"{prepared['records']:,} agency people generated and loaded into {database} "  # noqa: T201
              f"in {prepared['seconds']:.0f} s (not timed below).")
        if database == "PostgreSQL":
            _settle_postgres(os.environ["DATABASE_URL"], vacuum=True)
        raw = _worker("raw", folder)
        if database == "PostgreSQL":
            _settle_postgres(os.environ["DATABASE_URL"])
        ours = _worker("onecase", folder)
    print(f"raw Splink (train, predict, cluster): {raw['seconds']:7.1f} s   peak RSS {raw['peak_mb']:,.0f} MB  "  # noqa: T201
          f"{raw['stages']}")
    print(f"OneCase link (end to end):            {ours['seconds']:7.1f} s   peak RSS {ours['peak_mb']:,.0f} MB  "  # noqa: T201
          f"{ours['stages']}")
    print(f"ratio {ours['seconds'] / raw['seconds']:.2f}x;  {ours['pairs']:,} pairs scored, "  # noqa: T201
          f"{ours['people']:,} people, {ours['households']:,} households "
          f"(raw Splink: {raw['people']:,} clusters)")


if __name__ == "__main__":
    main()
