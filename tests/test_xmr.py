"""XmR charts: limits and run rules cross-checked against statprocon, an independent implementation of
Wheeler's XmR chart, on several series (one with a run of 7, one with a trend), plus the rules statprocon
does not define, checked by hand, and properties of the limits.

Where the rules differ: statprocon's run rule (its rule 2) needs 8 points on one side, ours (NHS
"Making Data Count") needs 7, and statprocon lets a point exactly on the centre line continue a run where
ours breaks it; statprocon has no trend rule; and its near-limit rule (rule 3) is 3 of 4 beyond the
halfway lines, where ours is 2 of 3 beyond 2 sigma. The tests compare what is comparable and say how.
"""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statprocon import XmR

from onecase.measures.xmr import SIGNALS, to_json, xmr_chart


def months(values, start_year=2020):
    return [(f"{start_year + i // 12}-{i % 12 + 1:02d}", v) for i, v in enumerate(values)]


STABLE = [52, 47, 55, 49, 51, 60, 44, 50, 53, 48, 57, 46, 50, 54, 49, 52]
SPIKE = [20, 22, 19, 21, 23, 20, 18, 22, 21, 48, 20, 19, 22, 21]
# A baseline of 12, then 7 points above its mean, then back
RUN7 = [30, 34, 29, 33, 31, 28, 32, 35, 30, 29, 29, 30, 36, 37, 35, 38, 36, 37, 39, 28, 30]
# Rising, one step at a time, for 9 points in the middle
TREND = [10, 12, 9, 11, 10, 8, 9, 10, 11, 12, 14, 15, 17, 18, 11, 10, 12]
LOW_COUNTS = [0, 3, 0, 1, 7, 0, 0, 2, 5, 0, 1, 0]
DECIMALS = [1.25, 1.5, 0.75, 2.0, 1.125, 1.875, 1.0, 1.5, 1.25, 3.75, 1.0, 1.25]
ALL = [STABLE, SPIKE, RUN7, TREND, LOW_COUNTS, DECIMALS]


def reference(values, start=0, end=None):
    """statprocon's XmR over the baseline of points start..end-1 (Python slice bounds)."""
    return XmR(values, subset_start_index=start, subset_end_index=end)


def near(ours, theirs):
    # statprocon rounds its centre lines to 3 decimal places before the limits are worked out from them
    return ours == pytest.approx(float(theirs), abs=0.002)


@pytest.mark.parametrize("values", ALL)
def test_limits_match_statprocon_over_the_whole_series(values):
    chart = xmr_chart(months(values), floor_at_zero=False)
    ref = reference(values)
    (b,) = chart.baselines
    assert near(b.mean, ref.x_central_line()[0])
    assert near(b.average_moving_range, ref.mr_central_line()[0])
    assert near(b.unpl, ref.upper_natural_process_limit()[0])
    assert near(b.lnpl, ref.lower_natural_process_limit()[0])
    assert near(b.url, ref.upper_range_limit()[0])
    assert [p.moving_range for p in chart.points][1:] == [float(m) for m in ref.moving_ranges()[1:]]
    assert chart.points[0].moving_range is None


@pytest.mark.parametrize("values", ALL)
def test_limits_match_statprocon_for_a_baseline_inside_the_series(values):
    series = months(values)
    chart = xmr_chart(series, baselines=[(series[2][0], series[9][0])], floor_at_zero=False)
    ref = reference(values, 2, 10)
    (b,) = chart.baselines
    assert near(b.mean, ref.x_central_line()[0])
    assert near(b.unpl, ref.upper_natural_process_limit()[0])
    assert near(b.lnpl, ref.lower_natural_process_limit()[0])
    assert near(b.url, ref.upper_range_limit()[0])
    # and the limits apply to every point, before and after the baseline too
    assert {(p.mean, p.unpl, p.lnpl) for p in chart.points} == {(b.mean, b.unpl, b.lnpl)}


@pytest.mark.parametrize("values", ALL)
def test_points_outside_the_limits_match_statprocon_rule_1(values):
    chart = xmr_chart(months(values), floor_at_zero=False)
    theirs = reference(values).rule_1_x_indices_beyond_limits()
    ours = ["outside_limits" in p.signals for p in chart.points]
    assert ours == theirs


def test_the_spike_is_the_one_point_outside_the_limits():
    chart = xmr_chart(months(SPIKE))
    assert [p.period for p in chart.points if "outside_limits" in p.signals] == ["2020-10"]


def run_flags(chart):
    return [i for i, p in enumerate(chart.points) if "run_of_7" in p.signals]


def test_a_run_of_7_is_a_signal_for_us_and_a_run_of_8_for_statprocon():
    series = months(RUN7)
    chart = xmr_chart(series, baselines=[(series[0][0], series[11][0])])
    assert run_flags(chart) == [12, 13, 14, 15, 16, 17, 18]  # 7 points above the baseline mean of 30.83
    assert all(v > chart.baselines[0].mean for v in RUN7[12:19])
    ref = reference(RUN7, 0, 12)
    assert not any(ref.rule_2_runs_about_central_line())  # statprocon needs 8

    # One more point above the mean makes a run of 8: statprocon then flags exactly the points we flag.
    longer = [*RUN7[:19], 38, *RUN7[19:]]
    series = months(longer)
    chart = xmr_chart(series, baselines=[(series[0][0], series[11][0])])
    theirs = reference(longer, 0, 12).rule_2_runs_about_central_line()
    assert [i for i, flag in enumerate(theirs) if flag] == run_flags(chart) == list(range(12, 20))


@pytest.mark.parametrize("values", [STABLE, SPIKE, LOW_COUNTS, DECIMALS, [*RUN7[:19], 38, *RUN7[19:]]])
def test_runs_of_8_or_more_agree_with_statprocon(values):
    # Where no run is exactly 7 long and no point sits on the mean, the two rule sets flag the same points.
    chart = xmr_chart(months(values), floor_at_zero=False)
    assert all(p.value != p.mean for p in chart.points)
    theirs = reference(values).rule_2_runs_about_central_line()
    assert run_flags(chart) == [i for i, flag in enumerate(theirs) if flag]


def test_a_point_on_the_mean_breaks_a_run():
    # mean of the baseline (first 4 points) is 10; then 4 above, one exactly 10, 3 above
    values = [8, 12, 11, 9, 13, 14, 12, 13, 10, 12, 14, 13]
    series = months(values)
    chart = xmr_chart(series, baselines=[(series[0][0], series[3][0])])
    assert chart.baselines[0].mean == 10
    assert run_flags(chart) == []
    values[8] = 11  # now 8 in a row above
    chart = xmr_chart(months(values), baselines=[(series[0][0], series[3][0])])
    assert run_flags(chart) == list(range(4, 12))


def test_a_trend_of_7_rising_or_falling():
    chart = xmr_chart(months(TREND))
    rising = [i for i, p in enumerate(chart.points) if "trend_of_7" in p.signals]
    # 8, 9, 10, 11, 12, 14, 15, 17, 18: indices 5..13, each strictly higher than the one before
    assert rising == list(range(5, 14))
    assert all(TREND[i] > TREND[i - 1] for i in rising[1:])
    falling = xmr_chart(months(list(reversed(TREND))))
    assert [i for i, p in enumerate(falling.points) if "trend_of_7" in p.signals] == list(range(3, 12))
    # statprocon has no trend rule; its limits agree on this series and it sees no run of 8 there
    assert not any(reference(TREND).rule_2_runs_about_central_line())


def test_six_rising_and_a_tie_are_not_a_trend():
    values = [5, 4, 6, 7, 8, 9, 10, 11, 11, 12, 5]  # 4..11 is 7 values rising, then 11 again
    assert [i for i, p in enumerate(xmr_chart(months(values)).points) if "trend_of_7" in p.signals] == list(range(1, 8))
    values = [5, 4, 6, 7, 8, 9, 10, 10, 11, 12, 5]  # a tie breaks it: 4..10 is 6 values
    assert not any("trend_of_7" in p.signals for p in xmr_chart(months(values)).points)


@pytest.mark.parametrize("values", ALL)
def test_two_of_three_beyond_two_sigma_checked_with_statprocon_limits(values):
    # statprocon's own near-limit rule is 3 of 4 beyond the halfway lines; its rule 1 with limits set to
    # mean ± 2 sigma gives the points beyond 2 sigma, and from those the 2-of-3 rule is read here.
    chart = xmr_chart(months(values), floor_at_zero=False)
    b = chart.baselines[0]
    sigma = b.average_moving_range / 1.128
    ref = reference(values)
    beyond = ref.rule_1_x_indices_beyond_limits(
        upper_limit=Decimal(str(b.mean + 2 * sigma)), lower_limit=Decimal(str(b.mean - 2 * sigma))
    )
    side = [(1 if v > b.mean else -1) if far else 0 for v, far in zip(values, beyond, strict=True)]
    expected = set()
    for w in range(len(values) - 2):
        for s in (1, -1):
            if side[w : w + 3].count(s) >= 2:
                expected |= {w + k for k in range(3) if side[w + k] == s}
    ours = {i for i, p in enumerate(chart.points) if "two_of_three_near_limit" in p.signals}
    assert ours == expected


def test_two_of_three_near_the_upper_limit_by_hand():
    # baseline: mean 10, moving ranges all 2, so sigma = 2 / 1.128 = 1.77 and 2 sigma above is 13.55
    base = [9, 11, 9, 11, 9, 11, 9, 11, 9, 11]
    values = [*base, 14, 10, 14, 10, 14, 10]
    series = months(values)
    chart = xmr_chart(series, baselines=[(series[0][0], series[9][0])])
    b = chart.baselines[0]
    assert (b.mean, b.average_moving_range) == (10, 2)
    assert b.unpl == pytest.approx(15.32) and b.lnpl == pytest.approx(4.68)
    assert [i for i, p in enumerate(chart.points) if "two_of_three_near_limit" in p.signals] == [10, 12, 14]
    assert not any("outside_limits" in p.signals for p in chart.points)
    # one point above 2 sigma and one below in the same three is not a signal
    values = [*base, 14, 10, 6, 10, 10, 10]
    chart = xmr_chart(months(values), baselines=[(series[0][0], series[9][0])])
    assert not any("two_of_three_near_limit" in p.signals for p in chart.points)


def test_lower_limit_floored_at_zero_for_counts():
    chart = xmr_chart(months(LOW_COUNTS))
    unfloored = xmr_chart(months(LOW_COUNTS), floor_at_zero=False)
    assert unfloored.baselines[0].lnpl < 0
    assert chart.baselines[0].lnpl == 0
    assert chart.baselines[0].unpl == unfloored.baselines[0].unpl


def test_baselines_recalculated_after_a_shift():
    values = [20, 22, 19, 21, 23, 20, 18, 22, 40, 42, 39, 41, 43, 40, 38, 42]
    series = months(values)
    chart = xmr_chart(series, baselines=[("2020-02", "2020-08"), ("2020-09", "2021-04")])
    first, second = chart.baselines
    assert first.mean == pytest.approx(sum(values[1:8]) / 7)
    assert second.mean == pytest.approx(sum(values[8:]) / 8)
    assert near(first.unpl, reference(values, 1, 8).upper_natural_process_limit()[0])
    assert near(second.unpl, reference(values, 8, 16).upper_natural_process_limit()[0])
    assert [p.baseline for p in chart.points] == [0] * 8 + [1] * 8  # the point before the first uses the first
    assert chart.points[8].mean == second.mean and chart.points[7].mean == first.mean
    # With one baseline, the shift is a signal; with the second, it is not.
    assert any(p.signals for p in xmr_chart(series, baselines=[("2020-01", "2020-08")]).points[8:])
    assert not any("outside_limits" in p.signals for p in chart.points)


@pytest.mark.parametrize(
    ("baselines", "words"),
    [
        ([("2019-01", "2020-05")], "not in the series"),
        ([("2020-03", "2020-03")], "fewer than 2 points"),
        ([("2020-05", "2020-03")], "ends before it starts"),
        ([("2020-01", "2020-06"), ("2020-05", "2020-10")], "overlap"),
        ([("2020-07", "2020-10"), ("2020-01", "2020-05")], "overlap or are out of order"),
    ],
)
def test_bad_baselines_are_refused_in_plain_words(baselines, words):
    with pytest.raises(ValueError, match=words):
        xmr_chart(months(STABLE), baselines=baselines)


def test_json_has_the_first_baseline_and_each_point_with_its_signals():
    series = months(SPIKE)
    chart = xmr_chart(series, baselines=[("2020-01", "2020-08"), ("2020-11", "2021-02")])
    data = to_json(chart)
    assert set(data) >= {"mean", "unpl", "lnpl", "url", "baselines", "points"}
    assert data["mean"] == pytest.approx(sum(SPIKE[:8]) / 8)
    assert data["url"] == pytest.approx(chart.baselines[0].average_moving_range * 3.268)
    assert len(data["baselines"]) == 2
    assert [p["period"] for p in data["points"]] == [p for p, _ in series]
    assert all(set(p["signals"]) <= set(SIGNALS) for p in data["points"])
    assert data["points"][9]["signals"] == ["outside_limits"]
    assert "page" not in data and to_json(chart, url="/measures/x/")["page"] == "/measures/x/"


def test_every_signal_has_plain_words():
    assert set(SIGNALS) == {"outside_limits", "run_of_7", "trend_of_7", "two_of_three_near_limit"}
    assert all(words[0].isupper() or words[0].isdigit() for words in SIGNALS.values())
    assert not any("_" in words for words in SIGNALS.values())


values_strategy = st.lists(st.integers(min_value=0, max_value=10_000), min_size=2, max_size=40)


@settings(max_examples=150, deadline=None)
@given(values=values_strategy, shift=st.integers(min_value=-5_000, max_value=5_000))
def test_limits_are_symmetric_and_move_with_a_shift(values, shift):
    chart = xmr_chart(months(values), floor_at_zero=False)
    (b,) = chart.baselines
    assert b.unpl - b.mean == pytest.approx(b.mean - b.lnpl)
    assert b.unpl - b.mean == pytest.approx(2.66 * b.average_moving_range)
    assert min(values) <= b.mean <= max(values)
    shifted = xmr_chart(months([v + shift for v in values]), floor_at_zero=False)
    (s,) = shifted.baselines
    assert s.mean == pytest.approx(b.mean + shift)
    assert s.unpl == pytest.approx(b.unpl + shift) and s.lnpl == pytest.approx(b.lnpl + shift)
    assert s.average_moving_range == pytest.approx(b.average_moving_range) and s.url == pytest.approx(b.url)
    for p, q in zip(chart.points, shifted.points, strict=True):
        for rule in ("run_of_7", "trend_of_7"):
            assert (rule in p.signals) == (rule in q.signals)
    floored = xmr_chart(months(values)).baselines[0]
    assert floored.lnpl == max(b.lnpl, 0)
