"""XmR (process behaviour) charts: natural process limits from a baseline, and the signals that say a
process has changed (Wheeler; NHS England, "Making Data Count"). Pure functions, no database.

The centre line is the mean of a baseline; the natural process limits are the mean ± 2.66 × the average
moving range inside that baseline (2.66 = 3 / 1.128, so three sigma), the lower one floored at 0 for
counts; the moving-range upper limit is 3.268 × the average moving range. A chart may have several
baselines, recalculated after a sustained shift: each one's limits apply from its start until the next
one starts, and the points before the first baseline use the first.

Signals, each named on every point that is part of it:

* ``outside_limits``: a point above the upper or below the lower natural process limit;
* ``run_of_7``: 7 or more points in a row on the same side of the mean (a point exactly on the mean
  breaks a run);
* ``trend_of_7``: 7 or more points in a row each strictly higher (or lower) than the one before;
* ``two_of_three_near_limit``: 2 of 3 points in a row more than 2 sigma from the mean on the same side
  (sigma = average moving range / 1.128), the points that far out carrying it.

Runs and the near-limit rule are read against each point's own baseline and start afresh where a new
baseline starts; a trend does not depend on the limits and may cross a baseline's start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

Series = Sequence[tuple[str, float]]

LIMIT_FACTOR = 2.66
RANGE_FACTOR = 3.268
D2 = 1.128  # the bias correction for moving ranges of two points: sigma = average moving range / d2
RUN = 7
TREND = 7

SIGNALS: dict[str, str] = {
    "outside_limits": "A point outside the process limits",
    "run_of_7": "A run of 7 or more points on one side of the mean",
    "trend_of_7": "7 or more points in a row rising, or falling",
    "two_of_three_near_limit": "2 of 3 points in a row near a process limit (beyond 2 sigma, on the same side)",
}


@dataclass(frozen=True)
class Baseline:
    start: str
    end: str
    mean: float
    average_moving_range: float
    unpl: float
    lnpl: float
    url: float  # the moving-range upper limit, 3.268 × the average moving range

    @property
    def sigma(self) -> float:
        return self.average_moving_range / D2


@dataclass(frozen=True)
class Point:
    period: str
    value: float
    moving_range: float | None
    baseline: int
    mean: float
    unpl: float
    lnpl: float
    signals: tuple[str, ...]


@dataclass(frozen=True)
class Chart:
    points: tuple[Point, ...]
    baselines: tuple[Baseline, ...]


def _baseline(periods: list[str], values: list[float], start: str, end: str, *, floor_at_zero: bool) -> Baseline:
    index = {p: i for i, p in enumerate(periods)}
    for label in (start, end):
        if label not in index:
            raise ValueError(f"The baseline period {label} is not in the series ({periods[0]} to {periods[-1]}).")
    i, j = index[start], index[end]
    if j < i:
        raise ValueError(f"The baseline {start} to {end} ends before it starts.")
    if j == i:
        raise ValueError(f"The baseline {start} to {end} has fewer than 2 points; a baseline needs at least 2.")
    inside = values[i : j + 1]
    mean = sum(inside) / len(inside)
    ranges = [abs(b - a) for a, b in zip(inside, inside[1:], strict=False)]
    mr_bar = sum(ranges) / len(ranges)
    lnpl = mean - LIMIT_FACTOR * mr_bar
    return Baseline(
        start=start,
        end=end,
        mean=mean,
        average_moving_range=mr_bar,
        unpl=mean + LIMIT_FACTOR * mr_bar,
        lnpl=max(lnpl, 0.0) if floor_at_zero else lnpl,
        url=RANGE_FACTOR * mr_bar,
    )


def xmr_chart(series: Series, *, baselines: Sequence[tuple[str, str]] = (), floor_at_zero: bool = True) -> Chart:
    """An XmR chart of ``series`` with limits from each baseline ((first, last) period, in order), or from
    the whole series when none is given; each point names the signals it is part of.

    Raises ValueError, in plain words, for a baseline period not in the series, a baseline of fewer than 2
    points, or baselines that overlap or are out of order.
    """
    periods = [str(p) for p, _ in series]
    values = [float(v) for _, v in series]
    if len(values) < 2:
        raise ValueError("An XmR chart needs at least 2 points.")
    if len(set(periods)) != len(periods):
        raise ValueError("The series has the same period more than once.")
    wanted = list(baselines) or [(periods[0], periods[-1])]
    made = [_baseline(periods, values, s, e, floor_at_zero=floor_at_zero) for s, e in wanted]
    index = {p: i for i, p in enumerate(periods)}
    starts = [index[b.start] for b in made]
    for before, after in zip(made, made[1:], strict=False):
        if index[after.start] <= index[before.end]:
            raise ValueError(
                f"The baselines {before.start} to {before.end} and {after.start} to {after.end} overlap "
                "or are out of order."
            )

    which = []
    for i in range(len(values)):
        later = [k for k, s in enumerate(starts) if s <= i]
        which.append(later[-1] if later else 0)

    found: list[set[str]] = [set() for _ in values]
    for i, v in enumerate(values):
        b = made[which[i]]
        if v > b.unpl or v < b.lnpl:
            found[i].add("outside_limits")
    _runs(values, which, made, found)
    _trends(values, found)
    _near_limits(values, which, made, found)

    points = tuple(
        Point(
            period=periods[i],
            value=values[i],
            moving_range=None if i == 0 else abs(values[i] - values[i - 1]),
            baseline=which[i],
            mean=made[which[i]].mean,
            unpl=made[which[i]].unpl,
            lnpl=made[which[i]].lnpl,
            signals=tuple(code for code in SIGNALS if code in found[i]),
        )
        for i in range(len(values))
    )
    return Chart(points=points, baselines=tuple(made))


def _segments(which: list[int]) -> list[range]:
    """The stretches of points that share a baseline, in order."""
    out, start = [], 0
    for i in range(1, len(which) + 1):
        if i == len(which) or which[i] != which[start]:
            out.append(range(start, i))
            start = i
    return out


def _runs(values: list[float], which: list[int], made: list[Baseline], found: list[set[str]]) -> None:
    for segment in _segments(which):
        mean = made[which[segment[0]]].mean
        run: list[int] = []
        side = 0
        for i in [*segment, None]:
            now = 0 if i is None else (values[i] > mean) - (values[i] < mean)
            if now != 0 and now == side:
                run.append(i)
                continue
            if side != 0 and len(run) >= RUN:
                for k in run:
                    found[k].add("run_of_7")
            side, run = now, ([i] if now != 0 else [])


def _trends(values: list[float], found: list[set[str]]) -> None:
    start = 0
    direction = 0
    for i in range(1, len(values) + 1):
        now = 0 if i == len(values) else (values[i] > values[i - 1]) - (values[i] < values[i - 1])
        if now != 0 and now == direction:
            continue
        # points start .. i-1 move in one direction throughout
        if direction != 0 and i - start >= TREND:
            for k in range(start, i):
                found[k].add("trend_of_7")
        direction = now
        start = i - 1


def _near_limits(values: list[float], which: list[int], made: list[Baseline], found: list[set[str]]) -> None:
    for segment in _segments(which):
        b = made[which[segment[0]]]
        far = [(values[i] > b.mean + 2 * b.sigma) - (values[i] < b.mean - 2 * b.sigma) for i in segment]
        for w in range(len(far) - 2):
            window = far[w : w + 3]
            for side in (1, -1):
                if window.count(side) >= 2:
                    for k, s in enumerate(window):
                        if s == side:
                            found[segment[w + k]].add("two_of_three_near_limit")


def _number(x: float) -> float:
    return round(x, 6)


def to_json(chart: Chart, *, url: str | None = None) -> dict:
    """The chart as JSON-ready data: the first baseline's mean, limits and moving-range upper limit
    ("url", not a web address), every baseline, and each point with the signals it breaks. ``url``, when
    given, is the web address of the chart's page, returned as "page"."""
    first = chart.baselines[0]
    out = {
        "mean": _number(first.mean),
        "unpl": _number(first.unpl),
        "lnpl": _number(first.lnpl),
        "url": _number(first.url),
        "baselines": [
            {
                "start": b.start,
                "end": b.end,
                "mean": _number(b.mean),
                "average_moving_range": _number(b.average_moving_range),
                "unpl": _number(b.unpl),
                "lnpl": _number(b.lnpl),
                "url": _number(b.url),
            }
            for b in chart.baselines
        ],
        "points": [
            {
                "period": p.period,
                "value": _number(p.value),
                "moving_range": None if p.moving_range is None else _number(p.moving_range),
                "baseline": p.baseline,
                "signals": list(p.signals),
            }
            for p in chart.points
        ],
    }
    if url is not None:
        out["page"] = url
    return out
