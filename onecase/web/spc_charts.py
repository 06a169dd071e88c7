"""Server-rendered SVG for measures: the XmR chart (values, mean and natural process limits per baseline,
each baseline's period marked, signals marked), the moving-range chart, a forecast with its interval, and a
small XmR chart for the dashboard. Every chart has axes with tick values and period labels, a title and a
description, and reads without colour: limits are dashed, the mean solid, a signal point is a diamond (a
point outside the limits) or a square (a run, trend or points near a limit) and names its rules in its
tooltip and in the description; the forecast's interval is hatched. Each is paired with a table on its page.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from django.utils.html import escape
from django.utils.text import capfirst

from onecase.measures.forecast import Forecast, Series
from onecase.measures.xmr import SIGNALS, Chart
from onecase.web.charts import BLUE, GREY, LINE, TEXT, _svg, amount, month_words

ORANGE = "#d4351c"
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def period_words(label: str, *, short: bool = False) -> str:
    """A period label in words: "June 2025" ("Jun 2025"), "Week 5, 2025" ("Wk 5 2025"); others unchanged."""
    if m := _WEEK.match(label):
        return f"Wk {int(m[2])} {m[1]}" if short else f"Week {int(m[2])}, {m[1]}"
    return month_words(label, short=short)


def _value(v: float, unit: str) -> str:
    return amount(v, unit if unit in ("£", "%") else "")


def _axis_title(unit: str) -> str:
    return {"£": "Pounds", "%": "Per cent"}.get(unit, capfirst(unit) or "Value")


def range_ticks(low: float, high: float, most: int = 5) -> list[float]:
    """Tick values covering ``low`` to ``high`` in steps of 1, 2 or 5 × 10ⁿ; from 0 when ``low`` is near 0."""
    low, high = float(low), float(high)
    if low >= 0 and low < 0.3 * high:
        low = 0.0
    if high <= low:
        high = low + 1
    span = high - low
    power = 10 ** math.floor(math.log10(span / most))
    step = next(m * power for m in (1, 2, 5, 10) if m * power * most >= span)
    first = math.floor(low / step + 1e-9) * step
    count = math.ceil((high - first) / step - 1e-9)
    return [round(first + i * step, 10) for i in range(count + 1)]


class _Frame:
    """The plotting area: maps an index and a value to x and y, and draws the axes, ticks and labels."""

    def __init__(self, *, width, height, left, right, top, bottom, count, low, high, most=5):
        self.width, self.height, self.left, self.top = width, height, left, top
        self.plot_w, self.plot_h = width - left - right, height - top - bottom
        self.base = top + self.plot_h
        self.count = count
        self.steps = range_ticks(low, high, most)
        self.low, self.high = self.steps[0], self.steps[-1]

    def x(self, i: float) -> float:
        return self.left + (i / max(self.count - 1, 1)) * self.plot_w

    def y(self, v: float) -> float:
        return self.base - (float(v) - self.low) / (self.high - self.low) * self.plot_h

    def axes(self, labels: Sequence[str], *, unit: str, x_title: str, y_title: str, every: int = 8, font=12):
        out = []
        for t in self.steps:
            y = self.y(t)
            out.append(
                f'<line class="app-spc__grid" x1="{self.left}" x2="{self.left + self.plot_w}" y1="{y:.1f}" '
                f'y2="{y:.1f}" stroke="{LINE}" stroke-width="1"/>'
                f'<text class="app-spc__tick app-spc__tick--y" x="{self.left - 6}" y="{y + 4:.1f}" '
                f'text-anchor="end" font-size="{font}" fill="{TEXT}">{escape(_value(t, unit))}</text>'
            )
        n = len(labels)
        step = max(math.ceil(n / every), 1)
        for i, label in enumerate(labels):
            if (n - 1 - i) % step == 0:
                out.append(
                    f'<text class="app-spc__tick app-spc__tick--x" x="{self.x(i):.1f}" y="{self.base + font + 4}" '
                    f'text-anchor="middle" font-size="{font}" fill="{TEXT}">'
                    f"{escape(period_words(label, short=True))}</text>"
                )
        out.append(
            f'<line class="app-spc__axis" x1="{self.left}" x2="{self.left}" y1="{self.top}" y2="{self.base}" '
            f'stroke="{TEXT}" stroke-width="1"/>'
            f'<line class="app-spc__axis" x1="{self.left}" x2="{self.left + self.plot_w}" y1="{self.base}" '
            f'y2="{self.base}" stroke="{TEXT}" stroke-width="1"/>'
        )
        if y_title:
            out.append(
                f'<text class="app-spc__axis-title" transform="rotate(-90)" x="{-(self.top + self.plot_h / 2):.1f}" '
                f'y="14" text-anchor="middle" font-size="{font}" fill="{TEXT}">{escape(y_title)}</text>'
            )
        if x_title:
            out.append(
                f'<text class="app-spc__axis-title" x="{self.left + self.plot_w / 2:.1f}" y="{self.height - 6}" '
                f'text-anchor="middle" font-size="{font}" fill="{TEXT}">{escape(x_title)}</text>'
            )
        return out


def _hline(frame: _Frame, first: int, last: int, value: float, *, kind: str, words: str, width=1.5) -> str:
    dash = ' stroke-dasharray="6 4"' if kind in ("limit", "url") else ""
    x1, x2 = frame.x(first), frame.x(last)
    if first == last:  # a baseline's limits applying to one point only: a short stub, still visible
        x1, x2 = x1 - 4, x2 + 4
    y = frame.y(value)
    return (
        f'<line class="app-spc__line app-spc__line--{kind}" x1="{x1:.1f}" x2="{x2:.1f}" y1="{y:.1f}" y2="{y:.1f}" '
        f'stroke="{GREY if kind != "mean" else TEXT}" stroke-width="{width}"{dash}><title>{escape(words)}</title>'
        f"</line>"
    )


def _mark(x: float, y: float, *, shape: str, tip: str, css: str, size: float = 4.0, attrs: str = "") -> str:
    if shape == "diamond":
        s = size + 2
        return (
            f'<polygon class="{css}" points="{x:.1f},{y - s:.1f} {x + s:.1f},{y:.1f} {x:.1f},{y + s:.1f} '
            f'{x - s:.1f},{y:.1f}" fill="#ffffff" stroke="{ORANGE}" stroke-width="2.5"{attrs}>'
            f"<title>{escape(tip)}</title></polygon>"
        )
    if shape == "square":
        s = size + 1
        return (
            f'<rect class="{css}" x="{x - s:.1f}" y="{y - s:.1f}" width="{2 * s:.1f}" height="{2 * s:.1f}" '
            f'fill="#ffffff" stroke="{ORANGE}" stroke-width="2.5"{attrs}><title>{escape(tip)}</title></rect>'
        )
    if shape == "hollow":
        return (
            f'<circle class="{css}" cx="{x:.1f}" cy="{y:.1f}" r="{size - 0.5:.1f}" fill="#ffffff" stroke="{BLUE}" '
            f'stroke-width="2"{attrs}><title>{escape(tip)}</title></circle>'
        )
    return (
        f'<circle class="{css}" cx="{x:.1f}" cy="{y:.1f}" r="{size - 1:.1f}" fill="{BLUE}"{attrs}>'
        f"<title>{escape(tip)}</title></circle>"
    )


def _shape(signals: Sequence[str]) -> str:
    if "outside_limits" in signals:
        return "diamond"
    return "square" if signals else "circle"


def _key(entries: list[tuple[str, str]], right: float, y: float = 6, *, chart_id: str = "") -> list[str]:
    """Shapes and words along the top right, the last rightmost."""
    out, x = [], right
    for shape, words in reversed(entries):
        x -= len(words) * 7 + 36
        if shape in ("mean", "limit", "forecast"):
            dash = ' stroke-dasharray="6 4"' if shape != "mean" else ""
            stroke = BLUE if shape == "forecast" else GREY if shape == "limit" else TEXT
            sample = (
                f'<line x1="{x:.1f}" x2="{x + 16:.1f}" y1="{y + 7}" y2="{y + 7}" stroke="{stroke}" '
                f'stroke-width="2"{dash}/>'
            )
        elif shape == "band":
            sample = f'<rect x="{x:.1f}" y="{y}" width="16" height="14" fill="url(#{chart_id}-band)" stroke="{BLUE}"/>'
        else:
            sample = _mark(x + 8, y + 7, shape=shape, tip=words, css="app-spc__key")
        out.append(
            f'<g class="app-spc__legend">{sample}<text x="{x + 22:.1f}" y="{y + 11}" font-size="12" '
            f'fill="{TEXT}">{escape(words)}</text></g>'
        )
    return out


def _segments(chart: Chart) -> list[tuple[int, int, int]]:
    """(baseline, first index, last index) of each stretch of points sharing a baseline."""
    out: list[tuple[int, int, int]] = []
    for i, p in enumerate(chart.points):
        if out and out[-1][0] == p.baseline:
            out[-1] = (p.baseline, out[-1][1], i)
        else:
            out.append((p.baseline, i, i))
    return out


def _signal_tip(period: str, value: float, unit: str, signals: Sequence[str]) -> str:
    tip = f"{period_words(period)}: {_value(value, unit)}"
    if signals:
        tip += ". Signal: " + "; ".join(SIGNALS[s] for s in signals)
    return tip


def xmr_svg(chart: Chart, *, title: str, unit: str, chart_id: str, width: int = 720, height: int = 340) -> str:
    """The X chart: the values as a line with a mark each, the mean (solid) and the natural process limits
    (dashed) of each baseline over the points they apply to, each baseline's period bracketed along the top,
    and signal points drawn as a diamond (outside the limits) or a square (other rules), named in words."""
    points = chart.points
    values = [p.value for p in points]
    lows = [p.lnpl for p in points] + values
    highs = [p.unpl for p in points] + values
    frame = _Frame(
        width=width, height=height, left=64, right=120, top=64, bottom=52, count=len(points),
        low=min(lows), high=max(highs),
    )  # fmt: skip
    body = frame.axes([p.period for p in points], unit=unit, x_title="Period", y_title=_axis_title(unit))
    index = {p.period: i for i, p in enumerate(points)}
    for k, b in enumerate(chart.baselines):
        x1, x2 = frame.x(index[b.start]), frame.x(index[b.end])
        words = f"Baseline {k + 1}: {period_words(b.start)} to {period_words(b.end)}"
        short = f"Baseline {k + 1}" if len(chart.baselines) > 1 else "Baseline"
        body.append(
            f'<g class="app-spc__baseline"><path d="M{x1:.1f},{frame.top - 4} v-6 H{x2:.1f} v6" fill="none" '
            f'stroke="{TEXT}" stroke-width="1.5"><title>{escape(words)}</title></path>'
            f'<text x="{(x1 + x2) / 2:.1f}" y="{frame.top - 14}" text-anchor="middle" font-size="12" '
            f'fill="{TEXT}">{escape(short)}</text></g>'
        )
    for k, first, last in _segments(chart):
        b = chart.baselines[k]
        body.append(_hline(frame, first, last, b.mean, kind="mean", words=f"Mean: {_value(b.mean, unit)}"))
        body.append(_hline(frame, first, last, b.unpl, kind="limit", words=f"Upper limit: {_value(b.unpl, unit)}"))
        body.append(_hline(frame, first, last, b.lnpl, kind="limit", words=f"Lower limit: {_value(b.lnpl, unit)}"))
    k, _, last = _segments(chart)[-1]
    b = chart.baselines[k]
    end = frame.x(last) + 6
    for name, value in (("Upper limit", b.unpl), ("Mean", b.mean), ("Lower limit", b.lnpl)):
        body.append(
            f'<text class="app-spc__line-label" x="{end:.1f}" y="{frame.y(value) + 4:.1f}" font-size="12" '
            f'fill="{TEXT}">{escape(name)} {escape(_value(value, unit))}</text>'
        )
    line = " ".join(f"{frame.x(i):.1f},{frame.y(v):.1f}" for i, v in enumerate(values))
    body.append(f'<polyline class="app-spc__values" fill="none" stroke="{BLUE}" stroke-width="2" points="{line}"/>')
    for i, p in enumerate(points):
        css = "app-spc__point app-spc__point--signal" if p.signals else "app-spc__point"
        body.append(
            _mark(
                frame.x(i), frame.y(p.value), shape=_shape(p.signals), css=css,
                tip=_signal_tip(p.period, p.value, unit, p.signals),
                attrs=f' data-period="{escape(p.period)}" data-signals="{escape(" ".join(p.signals))}"',
            )
        )  # fmt: skip
    body += _key(
        [("mean", "Mean"), ("limit", "Limits"), ("diamond", "Outside the limits"),
         ("square", "Run, trend or near a limit")],
        width - 4,
    )  # fmt: skip
    signalled = [p for p in points if p.signals]
    desc = [
        f"{_axis_title(unit)} by period, {period_words(points[0].period)} to {period_words(points[-1].period)}, "
        f"with the mean and natural process limits of {len(chart.baselines)} "
        f"baseline{'s' if len(chart.baselines) != 1 else ''}."
    ]
    for k, b in enumerate(chart.baselines):
        desc.append(
            f"Baseline {k + 1}, {period_words(b.start)} to {period_words(b.end)}: mean {_value(b.mean, unit)}, "
            f"upper limit {_value(b.unpl, unit)}, lower limit {_value(b.lnpl, unit)}."
        )
    if signalled:
        desc.append(
            "Signals: "
            + "; ".join(
                f"{period_words(p.period)} ({', '.join(SIGNALS[s].lower() for s in p.signals)})" for p in signalled
            )
            + "."
        )
    else:
        desc.append("No signals: the variation is routine.")
    desc.append("The table with this chart has every value.")
    return _svg(chart_id, "app-spc-chart", width, height, title, " ".join(desc), body)


def moving_range_svg(chart: Chart, *, title: str, unit: str, chart_id: str, width: int = 720, height: int = 260) -> str:
    """The moving-range chart: the change from each point to the next, with the average moving range
    (solid) and the upper range limit (dashed) of each baseline; a range above its limit is a diamond."""
    points = chart.points
    ranges = [(i, p.moving_range) for i, p in enumerate(points) if p.moving_range is not None]
    limits = [chart.baselines[p.baseline].url for p in points]
    frame = _Frame(
        width=width, height=height, left=64, right=120, top=32, bottom=52, count=len(points),
        low=0, high=max([r for _, r in ranges] + limits + [1]),
    )  # fmt: skip
    body = frame.axes([p.period for p in points], unit=unit, x_title="Period", y_title="Moving range")
    for k, first, last in _segments(chart):
        b = chart.baselines[k]
        first = max(first, 1)
        if first > last:
            continue
        body.append(
            _hline(frame, first, last, b.average_moving_range, kind="mean",
                   words=f"Average moving range: {_value(b.average_moving_range, unit)}")
        )  # fmt: skip
        body.append(_hline(frame, first, last, b.url, kind="url", words=f"Upper range limit: {_value(b.url, unit)}"))
    k, _, last = _segments(chart)[-1]
    b = chart.baselines[k]
    for name, value in (("Upper range limit", b.url), ("Average", b.average_moving_range)):
        body.append(
            f'<text class="app-spc__line-label" x="{frame.x(last) + 6:.1f}" y="{frame.y(value) + 4:.1f}" '
            f'font-size="12" fill="{TEXT}">{escape(name)} {escape(_value(value, unit))}</text>'
        )
    line = " ".join(f"{frame.x(i):.1f},{frame.y(r):.1f}" for i, r in ranges)
    body.append(f'<polyline class="app-spc__values" fill="none" stroke="{BLUE}" stroke-width="2" points="{line}"/>')
    above = []
    for i, r in ranges:
        p = points[i]
        # a range straddling the start of a new baseline belongs to neither, so it is not judged
        high = p.baseline == points[i - 1].baseline and r > chart.baselines[p.baseline].url
        tip = f"{period_words(p.period)}: changed by {_value(r, unit)} from the period before"
        if high:
            tip += ". Signal: above the upper range limit"
            above.append(p.period)
        body.append(
            _mark(
                frame.x(i), frame.y(r), shape="diamond" if high else "circle", tip=tip,
                css="app-spc__point app-spc__point--signal" if high else "app-spc__point",
                attrs=f' data-period="{escape(p.period)}"',
            )
        )  # fmt: skip
    body += _key([("mean", "Average"), ("limit", "Upper range limit"), ("diamond", "Above the limit")], width - 4)
    desc = (
        f"The change from each period to the next, {period_words(points[0].period)} to "
        f"{period_words(points[-1].period)}. Latest average moving range {_value(b.average_moving_range, unit)}, "
        f"upper range limit {_value(b.url, unit)}. "
        + (
            "Above the upper range limit: " + ", ".join(period_words(p) for p in above) + "."
            if above
            else "No change is above the upper range limit."
        )
    )
    return _svg(chart_id, "app-spc-chart app-spc-chart--ranges", width, height, title, desc, body)


def forecast_svg(
    series: Series, forecast: Forecast, *, title: str, unit: str, chart_id: str, width: int = 720, height: int = 320
) -> str:
    """The history as a solid line, the forecast as a dashed line with hollow points, and its prediction
    interval as a hatched band."""
    history = [(str(p), float(v)) for p, v in series]
    ahead = list(forecast.points)
    labels = [p for p, _ in history] + [f.period for f in ahead]
    values = [v for _, v in history]
    frame = _Frame(
        width=width, height=height, left=64, right=28, top=40, bottom=52, count=len(labels),
        low=min(values + [f.lower for f in ahead]), high=max(values + [f.upper for f in ahead]),
    )  # fmt: skip
    body = [
        f'<defs><pattern id="{chart_id}-band" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="{LINE}" stroke-width="3"/></pattern></defs>'
    ]
    body += frame.axes(labels, unit=unit, x_title="Period", y_title=_axis_title(unit))
    n = len(history)
    level = f"{round(forecast.level * 100)}%"
    if ahead:
        top = [(frame.x(n - 1), frame.y(values[-1]))] + [
            (frame.x(n + i), frame.y(f.upper)) for i, f in enumerate(ahead)
        ]
        bottom = [(frame.x(n + i), frame.y(f.lower)) for i, f in enumerate(ahead)][::-1] + [
            (frame.x(n - 1), frame.y(values[-1]))
        ]
        outline = " ".join(f"{x:.1f},{y:.1f}" for x, y in top + bottom)
        body.append(
            f'<polygon class="app-spc__band" points="{outline}" fill="url(#{chart_id}-band)" stroke="{GREY}" '
            f'stroke-width="1"><title>{escape(level)} prediction interval</title></polygon>'
        )
    line = " ".join(f"{frame.x(i):.1f},{frame.y(v):.1f}" for i, v in enumerate(values))
    body.append(f'<polyline class="app-spc__values" fill="none" stroke="{BLUE}" stroke-width="2" points="{line}"/>')
    for i, (p, v) in enumerate(history):
        body.append(
            _mark(frame.x(i), frame.y(v), shape="circle", tip=f"{period_words(p)}: {_value(v, unit)}",
                  css="app-spc__point", size=3.5, attrs=f' data-period="{escape(p)}"')
        )  # fmt: skip
    if ahead:
        dashed = [(frame.x(n - 1), frame.y(values[-1]))] + [
            (frame.x(n + i), frame.y(f.value)) for i, f in enumerate(ahead)
        ]
        body.append(
            f'<polyline class="app-spc__forecast" fill="none" stroke="{BLUE}" stroke-width="2" stroke-dasharray="6 4" '
            f'points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in dashed)}"/>'
        )
        for i, f in enumerate(ahead):
            tip = (
                f"{period_words(f.period)}, forecast: {_value(f.value, unit)} ({level} interval "
                f"{_value(f.lower, unit)} to {_value(f.upper, unit)})"
            )
            body.append(
                _mark(frame.x(n + i), frame.y(f.value), shape="hollow", tip=tip,
                      css="app-spc__point app-spc__point--forecast", attrs=f' data-period="{escape(f.period)}"')
            )  # fmt: skip
    key = [("circle", "Recorded"), ("forecast", "Forecast"), ("band", f"{level} interval")]
    body += _key(key, width - 4, chart_id=chart_id)
    desc = f"{_axis_title(unit)} by period, {period_words(labels[0])} to {period_words(history[-1][0])}"
    if ahead:
        desc += (
            f", then {forecast.label.lower()} for {period_words(ahead[0].period)} to {period_words(ahead[-1].period)}: "
            + "; ".join(
                f"{period_words(f.period)} {_value(f.value, unit)} ({_value(f.lower, unit)} to {_value(f.upper, unit)})"
                for f in ahead
            )
            + f". The hatched band is the {level} prediction interval."
        )
    else:
        desc += f". No forecast: {forecast.note}"
    return _svg(chart_id, "app-spc-chart app-spc-chart--forecast", width, height, title, desc, body)


def small_xmr_svg(chart: Chart, *, title: str, chart_id: str, width: int = 280, height: int = 140) -> str:
    """A small XmR chart for the dashboard: values, the latest baseline's mean and limits, signal points by
    shape, the lowest and highest tick and the first and last period as minimal axes."""
    points = chart.points
    values = [p.value for p in points]
    frame = _Frame(
        width=width, height=height, left=44, right=28, top=8, bottom=22, count=len(points),
        low=min(values + [p.lnpl for p in points]), high=max(values + [p.unpl for p in points]), most=2,
    )  # fmt: skip
    labels = [p.period for p in points]
    body = frame.axes(labels, unit="", x_title="", y_title="", every=2, font=10)
    for k, first, last in _segments(chart):
        b = chart.baselines[k]
        body.append(_hline(frame, first, last, b.mean, kind="mean", words=f"Mean: {_value(b.mean, '')}", width=1))
        body.append(
            _hline(frame, first, last, b.unpl, kind="limit", words=f"Upper limit: {_value(b.unpl, '')}", width=1)
        )
        body.append(
            _hline(frame, first, last, b.lnpl, kind="limit", words=f"Lower limit: {_value(b.lnpl, '')}", width=1)
        )
    line = " ".join(f"{frame.x(i):.1f},{frame.y(v):.1f}" for i, v in enumerate(values))
    body.append(f'<polyline class="app-spc__values" fill="none" stroke="{BLUE}" stroke-width="1.5" points="{line}"/>')
    for i, p in enumerate(points):
        css = "app-spc__point app-spc__point--signal" if p.signals else "app-spc__point"
        body.append(
            _mark(
                frame.x(i), frame.y(p.value), shape=_shape(p.signals), css=css, size=2.5,
                tip=_signal_tip(p.period, p.value, "", p.signals),
                attrs=f' data-period="{escape(p.period)}" data-signals="{escape(" ".join(p.signals))}"',
            )
        )  # fmt: skip
    last = points[-1]
    b = chart.baselines[last.baseline]
    desc = (
        f"{period_words(points[0].period)} to {period_words(last.period)}. Latest, {period_words(last.period)}: "
        f"{_value(last.value, '')}, against a mean of {_value(b.mean, '')} and limits "
        f"{_value(b.lnpl, '')} to {_value(b.unpl, '')}. "
        + (
            "Latest signal: " + "; ".join(SIGNALS[s].lower() for s in last.signals) + "."
            if last.signals
            else "No signal at the latest point."
        )
        + f" {sum(1 for p in points if p.signals)} of {len(points)} points are part of a signal."
    )
    return _svg(chart_id, "app-spc-chart app-spc-chart--small", width, height, title, desc, body, sized=True)
