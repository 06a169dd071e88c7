"""Backtest the demand forecasts on the demo partnership's measures, against seasonal naive.

    .venv/bin/python benchmarks/forecast.py                    # build the demo partnership (~1 minute), then backtest
    .venv/bin/python benchmarks/forecast.py --demo /tmp/demo   # reuse a folder where `demo_data` has run (not changed)
    .venv/bin/python benchmarks/forecast.py --horizon 3

Builds the demo partnership in a temporary folder (``onecase migrate``, ``onecase demo_data --people N``),
never touching the developer's ``var/`` database, or copies the database of a folder built that way. Then,
in a process of its own, takes each measure's series as the pages and the command line do
(``onecase.measures.selectors.measure_series``, counted over the whole partnership) and backtests both
forecasts (``onecase.measures.forecast.forecasts``): each is fitted on all but the final ``--horizon``
periods and scored on those held out.

Prints, per measure, the mean absolute scaled error (MASE: the held-out mean absolute error divided by the
in-sample mean absolute seasonal-naive change) of seasonal naive and of exponential smoothing (ETS), and the
ratio of ETS's mean absolute error to seasonal naive's. The baseline is seasonal naive: a ratio under 1
means ETS forecast the held-out periods better than simply repeating last year did. The summary gives the
median of each and how many measures ETS beat the baseline on.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_PEOPLE = 20_000


def _worker(horizon: int) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onecase.config.settings")
    import logging

    import django

    django.setup()
    logging.disable(logging.WARNING)
    from onecase.measures.forecast import forecasts
    from onecase.measures.selectors import SEASON, measure_series, measures_visible_to

    rows = []
    for measure in measures_visible_to(None):
        series = measure_series(None, measure)
        naive, ets = forecasts(series, horizon=horizon, season=SEASON[measure.period])
        rows.append(
            {
                "slug": measure.slug,
                "tier": measure.tier,
                "points": len(series),
                "naive_mae": naive.backtest_mae,
                "naive_mase": naive.backtest_mase,
                "ets_mae": ets.backtest_mae,
                "ets_mase": ets.backtest_mase,
            }
        )
    print(json.dumps(rows))  # noqa: T201


def _env(folder: Path) -> dict:
    env = {**os.environ, "ONECASE_DATA_DIR": str(folder), "DEBUG": "0", "LOG_LEVEL": "WARNING"}
    env.pop("DATABASE_URL", None)
    env.pop("ONECASE_CACHE_DIR", None)
    return env


def _build_demo(folder: Path, people: int) -> None:
    onecase = str(Path(sys.executable).with_name("onecase"))
    for command in (["migrate", "--no-input", "-v0"], ["demo_data", "--no-progress", "-v0", "--people", str(people)]):
        subprocess.run([onecase, *command], env=_env(folder), cwd=ROOT, check=True, capture_output=True)


def _number(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--demo", type=Path, help="An ONECASE_DATA_DIR where `demo_data` has run (copied, not changed)."
    )
    parser.add_argument("--people", type=int, default=DEMO_PEOPLE, help="People in the demo city when building it.")
    parser.add_argument("--horizon", type=int, default=6, help="Periods held out and forecast (default 6).")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        _worker(args.worker)
        return

    with tempfile.TemporaryDirectory(prefix="onecase-forecast-") as tmp:
        folder = Path(tmp)
        if args.demo:
            shutil.copyfile(args.demo / "onecase.sqlite3", folder / "onecase.sqlite3")
        else:
            print(f"Building the demo partnership ({args.people:,} people)...", flush=True)  # noqa: T201
            _build_demo(folder, args.people)
        done = subprocess.run(
            [sys.executable, __file__, "--worker", str(args.horizon)],
            env=_env(folder), cwd=ROOT, capture_output=True, text=True, check=False,
        )  # fmt: skip
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit("backtest failed")
    rows = json.loads(done.stdout.strip().splitlines()[-1])

    print(f"\nBacktest: each measure's final {args.horizon} periods held out; baseline: seasonal naive.")  # noqa: T201
    print(f"  {'measure':<44} {'tier':>4} {'points':>6} {'MASE naive':>10} {'MASE ETS':>9} {'ETS/naive MAE':>13}")  # noqa: T201
    ratios, naive_mase, ets_mase, better, scored = [], [], [], 0, 0
    for row in rows:
        ratio = None
        if row["naive_mae"] is not None and row["ets_mae"] is not None:
            scored += 1
            better += row["ets_mae"] < row["naive_mae"]
            if row["naive_mae"] > 0:
                ratio = row["ets_mae"] / row["naive_mae"]
                ratios.append(ratio)
        if row["naive_mase"] is not None:
            naive_mase.append(row["naive_mase"])
        if row["ets_mase"] is not None:
            ets_mase.append(row["ets_mase"])
        print(  # noqa: T201
            f"  {row['slug'][:44]:<44} {row['tier']:>4} {row['points']:>6} {_number(row['naive_mase']):>10} "
            f"{_number(row['ets_mase']):>9} {_number(ratio):>13}"
        )
    print(f"\n{len(rows)} measures, {scored} with a backtest.")  # noqa: T201
    if naive_mase and ets_mase:
        print(
            f"Median MASE: seasonal naive {statistics.median(naive_mase):.2f}, ETS {statistics.median(ets_mase):.2f}."
        )  # noqa: T201
    if ratios:
        print(  # noqa: T201
            f"ETS / seasonal naive mean absolute error: median ratio {statistics.median(ratios):.2f} "
            f"(under 1 = ETS better); ETS better on {better} of {scored} measures."
        )


if __name__ == "__main__":
    main()
