"""Server-rendered SVG charts. Each is paired with a data table and a CSV download on its page."""

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe


def sparkline(values: list[int], *, label: str, width: int = 120, height: int = 28) -> SafeString:
    """A small line of monthly counts; ``label`` says in words what it shows."""
    if not values:
        return format_html('<span class="govuk-visually-hidden">{}</span>', label)
    top = max(values) or 1
    step = width / max(len(values) - 1, 1)
    points = " ".join(f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}" for i, v in enumerate(values))
    return mark_safe(  # noqa: S308  # nosec B308 B703
        f'<svg class="app-sparkline" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'focusable="false"><title>{escape(label)}</title>'
        f'<polyline fill="none" stroke="currentColor" stroke-width="2" points="{points}"/></svg>'
    )


def bar_chart(series: list[tuple[str, int]], *, title: str, width: int = 640, height: int = 200) -> SafeString:
    """Vertical bars with the first and last labels; the page's table carries every value."""
    if not series:
        return format_html('<p class="govuk-body">{}: no data.</p>', title)
    top = max(v for _, v in series) or 1
    gap = 2
    bar = (width - gap * len(series)) / len(series)
    bars = []
    for i, (name, value) in enumerate(series):
        h = (value / top) * (height - 30)
        x = i * (bar + gap)
        bars.append(
            f'<rect x="{x:.1f}" y="{height - 20 - h:.1f}" width="{bar:.1f}" height="{h:.1f}">'
            f"<title>{escape(name)}: {value}</title></rect>"
        )
    first, last = escape(series[0][0]), escape(series[-1][0])
    return mark_safe(  # noqa: S308  # nosec B308 B703
        f'<svg class="app-bar-chart" role="img" viewBox="0 0 {width} {height}" focusable="false" '
        f'preserveAspectRatio="none"><title>{escape(title)}</title>{"".join(bars)}'
        f'<text x="0" y="{height - 4}" class="app-chart-label">{first}</text>'
        f'<text x="{width}" y="{height - 4}" text-anchor="end" class="app-chart-label">{last}</text></svg>'
    )
