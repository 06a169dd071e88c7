"""SVG charts for measures, parsed as XML: titles and descriptions, axes with tick labels, one mark per
point, signal points by shape and named in words, limit lines at the height the axis says."""

import xml.etree.ElementTree as ET

import pytest

from onecase.measures.forecast import forecast, next_periods
from onecase.measures.xmr import SIGNALS, xmr_chart
from onecase.web.spc_charts import forecast_svg, moving_range_svg, small_xmr_svg, xmr_svg

VALUES = [20, 22, 19, 21, 23, 20, 18, 22, 21, 48, 20, 19, 22, 21, 30, 31, 32, 33, 34, 35, 36, 30, 31, 29]
LABELS = ["2020-01", *next_periods("2020-01", len(VALUES) - 1)]
SERIES = list(zip(LABELS, VALUES, strict=True))


def parse(svg):
    root = ET.fromstring(str(svg))  # noqa: S314  (markup this product made, in a test)
    assert root.tag == "svg" and root.get("role") == "img"
    return root


def texts(root, css):
    return [el.text for el in root.iter("text") if css in (el.get("class") or "").split()]


def marks(root, extra=""):
    return [
        el for el in root.iter() if "app-spc__point" in (el.get("class") or "").split() and extra in el.get("class")
    ]


def tip(el):
    return el.find("title").text


def scale(root):
    """Value -> y from two gridlines and their tick labels, as a reader would read the axis."""
    grid = [el for el in root.iter("line") if el.get("class") == "app-spc__grid"]
    ticks = [float(t.replace(",", "")) for t in texts(root, "app-spc__tick--y")]
    (v0, y0), (v1, y1) = (ticks[0], float(grid[0].get("y1"))), (ticks[-1], float(grid[-1].get("y1")))
    return lambda v: y0 + (v - v0) * (y1 - y0) / (v1 - v0)


@pytest.fixture
def chart():
    return xmr_chart(SERIES, baselines=[("2020-01", "2020-12"), ("2021-03", "2021-12")])


def test_xmr_chart_has_title_description_and_labelled_axes(chart):
    root = parse(xmr_svg(chart, title="Contacts <all>", unit="contacts", chart_id="x"))
    assert root.get("aria-labelledby") == "x-title x-desc"
    assert root.find("title").text == "Contacts <all>"  # escaped in the markup, read back as written
    desc = root.find("desc").text
    assert "January 2020 to December 2021" in desc and "2 baselines" in desc
    assert f"Baseline 1, January 2020 to December 2020: mean {sum(VALUES[:12]) / 12:.1f}," in desc
    assert texts(root, "app-spc__axis-title") == ["Contacts", "Period"]
    y_ticks = [float(t) for t in texts(root, "app-spc__tick--y")]
    assert y_ticks[0] <= min(p.lnpl for p in chart.points) and y_ticks[-1] >= max(VALUES)
    assert len({b - a for a, b in zip(y_ticks, y_ticks[1:], strict=False)}) == 1  # even steps
    x_ticks = texts(root, "app-spc__tick--x")
    assert x_ticks[-1] == "Dec 2021" and all(len(t.split()) == 2 for t in x_ticks) and 4 <= len(x_ticks) <= 9


def test_one_mark_per_point_and_signal_points_by_shape_and_words(chart):
    root = parse(xmr_svg(chart, title="t", unit="contacts", chart_id="x"))
    every = marks(root)
    assert [m.get("data-period") for m in every] == LABELS
    assert tip(every[0]) == "January 2020: 20"
    for point, mark in zip(chart.points, every, strict=True):
        if "outside_limits" in point.signals:
            assert mark.tag == "polygon"  # a diamond
        elif point.signals:
            assert mark.tag == "rect"  # a square
        else:
            assert mark.tag == "circle" and "Signal" not in tip(mark)
        for code in point.signals:
            assert SIGNALS[code] in tip(mark)
    spike = every[LABELS.index("2020-10")]
    assert spike.tag == "polygon" and tip(spike) == "October 2020: 48. Signal: " + SIGNALS["outside_limits"]
    assert "October 2020 (a point outside the process limits)" in root.find("desc").text
    # the key names both shapes in words
    legend = " ".join(t.text for g in root.iter("g") if g.get("class") == "app-spc__legend" for t in g.iter("text"))
    assert "Outside the limits" in legend and "Run, trend or near a limit" in legend


def test_limit_lines_sit_where_the_axis_says_for_each_baseline(chart):
    root = parse(xmr_svg(chart, title="t", unit="contacts", chart_id="x"))
    y_of = scale(root)
    limits = [el for el in root.iter("line") if el.get("class") == "app-spc__line app-spc__line--limit"]
    means = [el for el in root.iter("line") if el.get("class") == "app-spc__line app-spc__line--mean"]
    first, second = chart.baselines
    # baseline 1 covers January 2020 to February 2021 (until baseline 2 starts); baseline 2 the rest
    assert len(means) == 2 and len(limits) == 4
    for line, value in zip(limits, [first.unpl, first.lnpl, second.unpl, second.lnpl], strict=True):
        assert float(line.get("y1")) == pytest.approx(y_of(value), abs=0.15)
        assert line.get("stroke-dasharray")  # limits dashed, readable without colour
    for line, b in zip(means, chart.baselines, strict=True):
        assert float(line.get("y1")) == pytest.approx(y_of(b.mean), abs=0.15) and not line.get("stroke-dasharray")
    circle_x = {m.get("data-period"): float(m.get("cx")) for m in marks(root) if m.tag == "circle"}
    assert float(means[0].get("x1")) == pytest.approx(circle_x["2020-01"])
    assert float(means[1].get("x2")) == pytest.approx(circle_x["2021-12"])
    # the latest baseline's lines are named at the right: March to December 2021
    last = VALUES[14:]
    mean = sum(last) / len(last)
    mr_bar = sum(abs(b - a) for a, b in zip(last, last[1:], strict=False)) / (len(last) - 1)
    assert texts(root, "app-spc__line-label") == [
        f"Upper limit {mean + 2.66 * mr_bar:.1f}",
        f"Mean {mean:.1f}",
        f"Lower limit {mean - 2.66 * mr_bar:.1f}",
    ]


def test_baseline_periods_are_bracketed_and_named(chart):
    root = parse(xmr_svg(chart, title="t", unit="contacts", chart_id="x"))
    groups = [g for g in root.iter("g") if g.get("class") == "app-spc__baseline"]
    assert [g.find("path/title").text for g in groups] == [
        "Baseline 1: January 2020 to December 2020",
        "Baseline 2: March 2021 to December 2021",
    ]
    assert [g.find("text").text for g in groups] == ["Baseline 1", "Baseline 2"]


def test_moving_range_chart(chart):
    root = parse(moving_range_svg(chart, title="Ranges", unit="contacts", chart_id="m"))
    every = marks(root)
    assert [m.get("data-period") for m in every] == LABELS[1:]  # the first point has no moving range
    assert tip(every[0]) == "February 2020: changed by 2 from the period before"
    y_of = scale(root)
    urls = [el for el in root.iter("line") if el.get("class") == "app-spc__line app-spc__line--url"]
    assert [float(u.get("y1")) for u in urls] == pytest.approx([y_of(b.url) for b in chart.baselines], abs=0.15)
    above = [m.get("data-period") for m in every if m.tag == "polygon"]
    assert "2020-10" in above and "2020-11" in above  # 21 up to the spike and 28 down, above 22.1
    assert "2021-03" not in above  # the step into a new baseline is not judged against either
    assert texts(root, "app-spc__axis-title") == ["Moving range", "Period"]


def test_forecast_chart_has_history_forecast_and_a_hatched_interval():
    f = forecast(SERIES, method="seasonal_naive", horizon=6)
    root = parse(forecast_svg(SERIES, f, title="Forecast", unit="contacts", chart_id="f"))
    assert [m.get("data-period") for m in marks(root) if "app-spc__point--forecast" not in m.get("class")] == LABELS
    ahead = marks(root, "app-spc__point--forecast")
    assert [m.get("data-period") for m in ahead] == [p.period for p in f.points]
    assert tip(ahead[0]).startswith(f"January 2022, forecast: {f.points[0].value:g} (80% interval")
    y_of = scale(root)
    for m, p in zip(ahead, f.points, strict=True):
        assert float(m.get("cy")) == pytest.approx(y_of(p.value), abs=0.15)
    (band,) = [el for el in root.iter("polygon") if el.get("class") == "app-spc__band"]
    assert band.get("fill") == "url(#f-band)" and root.find("defs/pattern").get("id") == "f-band"
    assert "80% prediction interval" in root.find("desc").text
    assert texts(root, "app-spc__tick--x")[-1] == "Jun 2022"


def test_small_chart_keeps_minimal_axes_and_names_the_latest_signal(chart):
    root = parse(small_xmr_svg(chart, title="Contacts", chart_id="s"))
    assert root.get("width") and root.get("height")
    assert len(texts(root, "app-spc__tick--y")) >= 2 and len(texts(root, "app-spc__tick--x")) >= 2
    assert texts(root, "app-spc__tick--x")[-1] == "Dec 2021"
    assert len(marks(root)) == len(VALUES)
    desc = root.find("desc").text
    assert "Latest, December 2021: 29" in desc
    last = chart.points[-1]
    assert ("No signal at the latest point." in desc) == (not last.signals)


def test_weekly_periods_are_named_in_words():
    weeks = ["2024-W01", *next_periods("2024-W01", 9)]
    c = xmr_chart(list(zip(weeks, [5, 6, 5, 7, 6, 5, 6, 7, 5, 6], strict=True)))
    root = parse(xmr_svg(c, title="t", unit="contacts", chart_id="w"))
    assert tip(marks(root)[0]) == "Week 1, 2024: 5"
    assert texts(root, "app-spc__tick--x")[-1] == "Wk 10 2024"
