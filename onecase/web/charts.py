"""Server-rendered SVG charts with labelled axes, tick values, each value as a tooltip and the latest
printed. Each is paired with a data table and a CSV download on its page. A month not yet over is
drawn hollow with a dashed edge and named in the legend, and is left out of the trend read from the
chart, so that no reading rests on colour alone or on a part month.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import capfirst

THIS_MONTH = "this month so far"  # notes are written to sit inside a sentence
LESS_HISTORY = "Less history"
BLUE, TEXT, GREY, LINE = "#1d70b8", "#0b0c0c", "#505a5f", "#b1b4b6"
Number = int | float | Decimal


def month_words(label: str, *, short: bool = False) -> str:
    """A "YYYY-MM" label as "June 2025" (or "Jun 2025"); any other label unchanged."""
    try:
        day = dt.date.fromisoformat(f"{label}-01")
    except ValueError:
        return label
    return f"{day:%b %Y}" if short else f"{day:%B %Y}"


def incomplete_month(end: dt.date, today: dt.date) -> tuple[str | None, str]:
    """The "YYYY-MM" of the month the figures stop part-way through, and how to name it.

    Figures counted up to ``end`` (or up to today, when ``end`` is later) cover that day's month only
    in part, unless ``end`` is a past month's last day: "this month so far" for the current month,
    "up to 15 March 2025 only" for an earlier end.
    """
    if end >= today:  # today is not over, even on a month's last day
        return f"{today:%Y-%m}", THIS_MONTH
    if (end + dt.timedelta(days=1)).month != end.month:
        return None, ""
    return f"{end:%Y-%m}", f"up to {end.day} {end:%B %Y} only"


def ticks(top: Number, most: int = 5) -> list[float]:
    """Tick values from 0 to at least ``top`` in steps of 1, 2 or 5 × 10ⁿ (never under 1), at most ``most`` steps."""
    top = float(top)
    if top <= 0:
        return [0.0, 1.0]
    power = 10 ** math.floor(math.log10(top / most))
    step = next(m * power for m in (1, 2, 5, 10) if m * power * most >= top)
    step = max(step, 1.0)
    return [i * step for i in range(math.ceil(top / step - 1e-9) + 1)]


def amount(value: Number, unit: str = "") -> str:
    """A value as printed on a chart: "1,234", "£1,234" or "45%"."""
    v = float(value)
    text = f"{v:,.0f}" if v == round(v) or abs(v) >= 100 else f"{v:,.1f}"
    return f"£{text}" if unit == "£" else f"{text}%" if unit == "%" else text


def trend_words(series: Sequence[tuple[str, Number]], *, unit: str = "", partial: str | None = None) -> str:
    """The last whole month against the one before, in words; a part month is left out."""
    whole = [(label, value) for label, value in series if label != partial]
    if not whole:
        return ""
    label, value = whole[-1]
    said = f"Last whole month, {month_words(label)}: {amount(value, unit)}"
    if len(whole) < 2:
        return said + "."
    before_label, before = whole[-2]
    change = "up from" if value > before else "down from" if value < before else "the same as"
    return f"{said}, {change} {amount(before, unit)} in {month_words(before_label)}."


def _svg(chart_id: str, css: str, width: int, height: int, title: str, desc: str, body: list[str], *,
         sized: bool = False) -> SafeString:
    size = f'width="{width}" height="{height}" ' if sized else ""
    return mark_safe(  # noqa: S308  # nosec B308 B703  (every text in body is escaped where it is built)
        f'<svg class="{css}" role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'{size}viewBox="0 0 {width} {height}" focusable="false">'
        f'<title id="{chart_id}-title">{escape(title)}</title><desc id="{chart_id}-desc">{escape(desc)}</desc>'
        f'{"".join(body)}</svg>'
    )


def _hatch(chart_id: str) -> str:
    return (
        f'<defs><pattern id="{chart_id}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="{BLUE}" stroke-width="3"/></pattern></defs>'
    )


def _bar_look(kind: str, chart_id: str) -> str:
    if kind == "partial":
        return f'fill="#ffffff" stroke="{BLUE}" stroke-width="2" stroke-dasharray="4 3"'
    if kind == "history":
        return f'fill="url(#{chart_id}-hatch)" stroke="{BLUE}" stroke-width="1"'
    return f'fill="{BLUE}"'


def _legend(entries: list[tuple[str, str]], chart_id: str, right: float) -> list[str]:
    """Swatches and words along the top right, the last entry rightmost."""
    out, x = [], right
    for kind, words in reversed(entries):
        x -= len(words) * 6.6 + 24
        out.append(f'<rect x="{x:.1f}" y="4" width="14" height="14" {_bar_look(kind, chart_id)}/>'
                   f'<text x="{x + 20:.1f}" y="16" font-size="12" fill="{TEXT}">{escape(words)}</text>')
    return out


def bar_chart(
    series: Sequence[tuple[str, Number]],
    *,
    chart_id: str,
    title: str,
    x_label: str,
    y_label: str,
    unit: str = "",
    months: bool = False,
    partial: str | None = None,
    partial_note: str = THIS_MONTH,
    less_history: Iterable[str] = (),
    width: int = 640,
    height: int = 280,
) -> SafeString:
    """Vertical bars over time: a y axis with ticks and ``y_label``, an x axis with ``x_label`` and
    labels thinned to eight, each value as a tooltip and the latest whole one printed.

    With ``months`` the labels are "YYYY-MM". The ``partial`` bar (a month not over) is hollow and
    dashed, and those in ``less_history`` hatched; the legend names both.
    """
    if not series:
        return format_html('<p class="govuk-body">{}: no data.</p>', title)
    left, right, top_margin, bottom = 64, 28, 40, 52
    plot_w, plot_h = width - left - right, height - top_margin - bottom
    base = top_margin + plot_h
    steps = ticks(max(float(v) for _, v in series))
    scale = steps[-1]
    marked = set(less_history)
    n = len(series)
    slot = plot_w / n
    gap = min(slot * 0.2, 12)
    every = math.ceil(n / 8)
    whole = [i for i, (label, _) in enumerate(series) if label != partial]
    latest = whole[-1] if whole else None
    name = month_words if months else (lambda label, short=False: label)

    body = [_hatch(chart_id)] if marked else []
    for t in steps:
        y = base - t / scale * plot_h
        body.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="{LINE}" '
                    f'stroke-width="1"/><text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="12" '
                    f'fill="{TEXT}">'
                    f"{escape(amount(t, unit))}</text>")
    legend: list[tuple[str, str]] = []
    for i, (label, value) in enumerate(series):
        kind = "partial" if label == partial else "history" if label in marked else "whole"
        note = {"partial": f" ({partial_note})", "history": " (less history)"}.get(kind, "")
        x = left + i * slot + gap / 2
        h = float(value) / scale * plot_h
        body.append(f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{slot - gap:.1f}" height="{h:.1f}" '
                    f'{_bar_look(kind, chart_id)}><title>{escape(name(label))}: {escape(amount(value, unit))}'
                    f"{escape(note)}</title></rect>")
        centre = x + (slot - gap) / 2
        if (n - 1 - i) % every == 0:
            body.append(f'<text x="{centre:.1f}" y="{base + 16}" text-anchor="middle" font-size="12" '
                        f'fill="{TEXT}">{escape(name(label, short=True))}</text>')
        if i == latest:
            body.append(f'<text x="{centre:.1f}" y="{base - h - 5:.1f}" text-anchor="middle" font-size="12" '
                        f'font-weight="bold" fill="{TEXT}">{escape(amount(value, unit))}</text>')
        if kind == "partial":
            legend.append(("partial", f"{capfirst(partial_note)}: {amount(value, unit)}"))
        if kind == "history" and all(k != "history" for k, _ in legend):
            legend.insert(0, ("history", LESS_HISTORY))
    body.append(f'<line x1="{left}" x2="{left}" y1="{top_margin}" y2="{base}" stroke="{TEXT}" stroke-width="1"/>'
                f'<line x1="{left}" x2="{left + plot_w}" y1="{base}" y2="{base}" stroke="{TEXT}" stroke-width="1"/>')
    body.append(f'<text transform="rotate(-90)" x="{-(top_margin + plot_h / 2):.1f}" y="14" text-anchor="middle" '
                f'font-size="12" fill="{TEXT}">{escape(y_label)}</text>'
                f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle" font-size="12" '
                f'fill="{TEXT}">{escape(x_label)}</text>')
    body += _legend(legend, chart_id, width - 4)

    top_label, top_value = max(series, key=lambda item: float(item[1]))
    desc = [f"{y_label} by {x_label.lower()}, {name(series[0][0])} to {name(series[-1][0])}.",
            f"Highest: {amount(top_value, unit)} in {name(top_label)}."]
    if months:
        desc.append(trend_words(series, unit=unit, partial=partial))
    elif latest is not None:
        desc.append(f"Latest: {amount(series[latest][1], unit)} in {name(series[latest][0])}.")
    if partial and latest != n - 1:
        desc.append(f"The hollow dashed bar, {name(partial)}, is {partial_note}.")
    if marked:
        desc.append("Hatched bars have less history.")
    desc.append("The table with this chart has every value.")
    return _svg(chart_id, "app-bar-chart", width, height, title, " ".join(d for d in desc if d), body)


def category_chart(
    series: Sequence[tuple[str, Number]],
    *,
    chart_id: str,
    title: str,
    category_label: str,
    value_label: str,
    unit: str = "",
    width: int = 640,
) -> SafeString:
    """Horizontal bars, one a category, named on the left with the value printed at the end of each
    bar; a value axis with ticks and ``value_label`` along the bottom."""
    if not series:
        return format_html('<p class="govuk-body">{}: no data.</p>', title)
    left, right, top_margin, bottom, row = 220, 64, 28, 48, 26
    plot_w = width - left - right
    height = top_margin + row * len(series) + bottom
    base = top_margin + row * len(series)
    steps = ticks(max(float(v) for _, v in series))
    scale = steps[-1]
    body = [f'<text x="{left - 8}" y="16" text-anchor="end" font-size="12" font-weight="bold" fill="{TEXT}">'
            f"{escape(category_label)}</text>"]
    for t in steps:
        x = left + t / scale * plot_w
        body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top_margin}" y2="{base}" stroke="{LINE}" stroke-width="1"/>'
                    f'<text x="{x:.1f}" y="{base + 16}" text-anchor="middle" font-size="12" fill="{TEXT}">'
                    f"{escape(amount(t, unit))}</text>")
    for i, (label, value) in enumerate(series):
        y = top_margin + i * row
        w = float(value) / scale * plot_w
        shown = label if len(label) <= 32 else label[:31] + "…"
        body.append(f'<text x="{left - 8}" y="{y + row / 2 + 4:.1f}" text-anchor="end" font-size="12" '
                    f'fill="{TEXT}">{escape(shown)}</text>'
                    f'<rect x="{left}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" fill="{BLUE}">'
                    f"<title>{escape(label)}: {escape(amount(value, unit))}</title></rect>"
                    f'<text x="{left + w + 4:.1f}" y="{y + row / 2 + 4:.1f}" font-size="12" fill="{TEXT}">'
                    f"{escape(amount(value, unit))}</text>")
    body.append(f'<line x1="{left}" x2="{left}" y1="{top_margin}" y2="{base}" stroke="{TEXT}" stroke-width="1"/>'
                f'<line x1="{left}" x2="{left + plot_w}" y1="{base}" y2="{base}" stroke="{TEXT}" stroke-width="1"/>'
                f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle" font-size="12" '
                f'fill="{TEXT}">{escape(value_label)}</text>')
    top_label, top_value = max(series, key=lambda item: float(item[1]))
    desc = (f"{value_label} by {category_label.lower()}, {len(series)} bars. Highest: {amount(top_value, unit)} "
            f"for {top_label}. Each bar has its value printed; the table with this chart has every value.")
    return _svg(chart_id, "app-bar-chart app-bar-chart--categories", width, height, title, desc, body)


def sparkline(
    values: Sequence[int],
    *,
    months: Sequence[str],
    chart_id: str,
    measure: str = "Contacts",
    partial: str | None = None,
    partial_note: str = THIS_MONTH,
    width: int = 160,
    height: int = 32,
) -> SafeString:
    """A small line of monthly counts on a baseline, each month a point with its value as a tooltip,
    and the last whole month's value printed at the end. A part month is joined by a dashed line to a
    hollow point."""
    if not values:
        return format_html('<span class="govuk-visually-hidden">{}: none</span>', measure)
    series = list(zip(months, values, strict=True))
    plot_w, top_pad, bottom_pad = width - 40, 4, 5
    top = max(values) or 1
    step = plot_w / max(len(values) - 1, 1)
    points = [(2 + i * step, height - bottom_pad - (v / top) * (height - top_pad - bottom_pad))
              for i, v in enumerate(values)]
    whole = [i for i, label in enumerate(months) if label != partial]
    body = [f'<line x1="2" x2="{2 + plot_w:.1f}" y1="{height - bottom_pad + 2}" y2="{height - bottom_pad + 2}" '
            f'stroke="{LINE}" stroke-width="1"/>']
    line = " ".join(f"{x:.1f},{y:.1f}" for i, (x, y) in enumerate(points) if i in whole)
    body.append(f'<polyline fill="none" stroke="{BLUE}" stroke-width="2" points="{line}"/>')
    if whole and len(whole) < len(points):
        (x1, y1), (x2, y2) = points[whole[-1]], points[-1]
        body.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{BLUE}" '
                    f'stroke-width="2" stroke-dasharray="3 2"/>')
    for (x, y), (label, value) in zip(points, series, strict=True):
        look = (f'r="2.5" fill="#ffffff" stroke="{BLUE}" stroke-width="1.5"' if label == partial
                else f'r="1.5" fill="{BLUE}"')
        note = f" ({partial_note})" if label == partial else ""
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" {look}><title>{escape(month_words(label))}: '
                    f"{value}{escape(note)}</title></circle>")
    if whole:
        body.append(f'<text x="{width - 2}" y="{height / 2 + 4:.1f}" text-anchor="end" font-size="12" '
                    f'font-weight="bold" fill="{TEXT}">{values[whole[-1]]}</text>')
    title = f"{measure} per month, {month_words(months[0])} to {month_words(months[-1])}"
    listed = ", ".join(f"{month_words(label, short=True)}: {value}" for label, value in series)
    desc = f"{listed}. {trend_words(series, partial=partial)}"
    if partial in months:
        desc += f" {month_words(partial)} is {partial_note}."
    return _svg(chart_id, "app-sparkline", width, height, title, desc, body, sized=True)
