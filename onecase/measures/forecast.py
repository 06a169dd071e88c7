"""Demand forecasts for a measure's series, by two methods, each with prediction intervals and its error
backtested on the final held-out periods. Pure functions, no database.

* Seasonal naive: each coming period repeats the same period a season earlier (12 months, or 52 weeks);
  with less than a season plus the held-out periods of history it repeats the latest value (naive), and
  its note says so. Its interval comes from the spread of the past seasonal differences (the change from
  the same period a season before), widening with each further season ahead.
* Exponential smoothing: statsmodels' ETS with additive errors and a damped additive trend, seasonal only
  with two full seasons or more; the interval is the model's prediction interval at ``level``.

The backtest fits each method on all but the final ``horizon`` periods and forecasts those: the mean
absolute error (MAE), and the MAE scaled by the in-sample MAE of the seasonal-naive change (MASE; the
period-to-period change when the history is shorter than a season), so that below 1 is better than
that simple rule did in the past. Counts are never forecast below 0.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import statistics
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

Series = Sequence[tuple[str, float]]

MIN_POINTS = 6
METHODS = ("seasonal_naive", "ets")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


@dataclass(frozen=True)
class ForecastPoint:
    period: str
    value: float
    lower: float
    upper: float


@dataclass(frozen=True)
class Forecast:
    method: str
    label: str
    level: float
    points: tuple[ForecastPoint, ...]
    backtest_mae: float | None
    backtest_mase: float | None
    holdout: int
    note: str


def period_offset(label: str, k: int) -> str:
    """The period ``k`` months or ISO weeks after ``label`` ("YYYY-MM" or "YYYY-Www"); ``k`` may be negative."""
    if m := _MONTH.match(label):
        months = int(m[1]) * 12 + int(m[2]) - 1 + k
        return f"{months // 12:04d}-{months % 12 + 1:02d}"
    if m := _WEEK.match(label):
        day = dt.date.fromisocalendar(int(m[1]), int(m[2]), 1) + dt.timedelta(weeks=k)
        year, week, _ = day.isocalendar()
        return f"{year:04d}-W{week:02d}"
    raise ValueError(f"The period {label!r} is neither a month (YYYY-MM) nor an ISO week (YYYY-Www).")


def next_periods(last: str, n: int) -> list[str]:
    """The ``n`` periods after ``last``, months ("YYYY-MM") or ISO weeks ("YYYY-Www")."""
    return [period_offset(last, k) for k in range(1, n + 1)]


def _unit(label: str) -> str:
    return "week" if _WEEK.match(label) else "month"


def _z(level: float) -> float:
    return statistics.NormalDist().inv_cdf(0.5 + level / 2)


def _seasonal_naive(values: list[float], horizon: int, lag: int, level: float) -> list[tuple[float, float, float]]:
    """(value, lower, upper) for each step ahead, repeating the value ``lag`` periods before; the interval
    from the root mean square of the past ``lag``-period differences."""
    n = len(values)
    diffs = [values[t] - values[t - lag] for t in range(lag, n)]
    sigma = math.sqrt(sum(d * d for d in diffs) / len(diffs)) if diffs else 0.0
    z = _z(level)
    out = []
    for h in range(1, horizon + 1):
        value = values[n - lag + (h - 1) % lag]
        spread = z * sigma * math.sqrt((h - 1) // lag + 1)
        out.append((value, value - spread, value + spread))
    return out


def _ets(values: list[float], horizon: int, season: int, level: float) -> tuple[list[tuple[float, float, float]], str]:
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    seasonal = len(values) >= 2 * season
    # the richest model the history allows first; a short or awkward series falls back to a simpler one
    tries = [(True, True), (False, True), (False, False)] if seasonal else [(True, False), (False, False)]
    failure: Exception | None = None
    for trend, with_season in tries:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = ETSModel(
                    pd.Series(values, dtype=float),
                    error="add",
                    trend="add" if trend else None,
                    damped_trend=trend,
                    seasonal="add" if with_season else None,
                    seasonal_periods=season if with_season else None,
                )
                fitted = model.fit(disp=False)
                frame = fitted.get_prediction(start=len(values), end=len(values) + horizon - 1).summary_frame(
                    alpha=1 - level
                )
        except Exception as error:  # statsmodels raises several kinds for a model the series cannot support
            failure = error
            continue
        rows = list(zip(frame["mean"], frame["pi_lower"], frame["pi_upper"], strict=True))
        if all(all(math.isfinite(x) for x in row) for row in rows):
            parts = ["a damped trend" if trend else "no trend", "a season" if with_season else "no season"]
            return [tuple(float(x) for x in row) for row in rows], f"with {parts[0]} and {parts[1]}"
    raise ValueError(f"Exponential smoothing could not be fitted to this series ({failure}).")


def _lag(n: int, horizon: int, season: int) -> int:
    """The seasonal naive's lag: a season, with a season plus the held-out periods of history; else 1."""
    return season if n >= season + horizon else 1


def forecast(
    series: Series,
    *,
    horizon: int = 6,
    method: str = "ets",
    season: int = 12,
    level: float = 0.8,
    floor_at_zero: bool = True,
) -> Forecast:
    """The next ``horizon`` periods of ``series`` by ``method`` ("ets" or "seasonal_naive") with a
    ``level`` prediction interval, and its error backtested on the final ``horizon`` periods held out.
    With fewer than MIN_POINTS points there is no forecast, and the note says why."""
    if method not in METHODS:
        raise ValueError(f"Unknown forecast method {method!r}: use one of {', '.join(METHODS)}.")
    if horizon < 1:
        raise ValueError("The forecast needs at least one period ahead.")
    values = [float(v) for _, v in series]
    n = len(values)
    unit = _unit(series[-1][0]) if n else "month"
    lag = _lag(n, horizon, season)
    same = "same month last year" if unit == "month" else "same week last year"
    label = f"Seasonal naive ({same})" if method == "seasonal_naive" else "Exponential smoothing (ETS)"
    if n < MIN_POINTS:
        return Forecast(
            method=method,
            label=label,
            level=level,
            points=(),
            backtest_mae=None,
            backtest_mase=None,
            holdout=0,
            note=f"No forecast: it needs at least {MIN_POINTS} {unit}s of history, and there are {n}.",
        )

    def clip(x: float) -> float:
        return max(x, 0.0) if floor_at_zero else x

    notes = []
    try:
        if method == "ets":
            rows, how = _ets(values, horizon, season, level)
        else:
            rows, how = _seasonal_naive(values, horizon, lag, level), ""
    except ValueError as error:
        return Forecast(
            method=method,
            label=label,
            level=level,
            points=(),
            backtest_mae=None,
            backtest_mase=None,
            holdout=0,
            note=f"No forecast: {error}",
        )
    if method == "seasonal_naive":
        if lag == season:
            notes.append(
                f"Each coming {unit} repeats the {same}. The interval comes from the spread of the changes "
                f"from the same {unit} a year before."
            )
        else:
            notes.append(
                f"With less than {season + horizon} {unit}s of history there is no full year to repeat, so each "
                f"coming {unit} repeats the latest {unit} (naive). The interval comes from the spread of the "
                f"changes from one {unit} to the next."
            )
    else:
        notes.append(f"Exponential smoothing of the series, {how}.")
    points = tuple(
        ForecastPoint(period=p, value=clip(v), lower=clip(lo), upper=clip(hi))
        for p, (v, lo, hi) in zip(next_periods(series[-1][0], horizon), rows, strict=True)
    )

    mae = mase = None
    holdout = 0
    train = values[:-horizon]
    if len(train) < MIN_POINTS:
        notes.append(
            f"No backtest: holding out the last {horizon} {unit}s would leave fewer than {MIN_POINTS} to fit on."
        )
    else:
        try:
            if method == "ets":
                past, _ = _ets(train, horizon, season, level)
            else:
                past = _seasonal_naive(train, horizon, lag, level)
        except ValueError:
            past = None
        if past is None:
            notes.append("No backtest: the method could not be fitted to the history before the held-out periods.")
        else:
            holdout = horizon
            actual = values[-horizon:]
            mae = sum(abs(a - clip(p[0])) for a, p in zip(actual, past, strict=True)) / horizon
            scale_lag = season if len(train) > season else 1
            diffs = [abs(train[t] - train[t - scale_lag]) for t in range(scale_lag, len(train))]
            scale = sum(diffs) / len(diffs)
            mase = mae / scale if scale > 0 else None
            against = (
                f"the change from the same {unit} a year before"
                if scale_lag == season
                else (f"the change from one {unit} to the next")
            )
            notes.append(
                f"Backtest: fitted on the first {len(train)} {unit}s and checked against the last {horizon}; the "
                f"scaled error divides the mean error by the typical size of {against} in the fitted {unit}s."
            )
    return Forecast(
        method=method,
        label=label,
        level=level,
        points=points,
        backtest_mae=mae,
        backtest_mase=mase,
        holdout=holdout,
        note=" ".join(notes),
    )


def forecasts(series: Series, *, horizon: int = 6, season: int = 12) -> list[Forecast]:
    """The seasonal-naive and the exponential-smoothing forecasts, each backtested on the final periods."""
    return [forecast(series, horizon=horizon, method=m, season=season) for m in METHODS]
