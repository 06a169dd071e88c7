"""Forecasts: seasonal naive checked exactly against values worked out here by hand, exponential smoothing
(statsmodels ETS) checked for sense on series whose continuation is known, and the backtest errors."""

import math
import warnings

import pytest
from scipy.stats import norm

from onecase.measures.forecast import MIN_POINTS, forecast, forecasts, next_periods

# 30 months of a seasonal count with some noise, January 2021 onwards
VALUES = [
    41, 38, 45, 50, 55, 61, 66, 63, 54, 49, 44, 47,
    44, 40, 49, 52, 58, 65, 69, 64, 58, 50, 47, 52,
    46, 43, 51, 55, 60, 66,
]  # fmt: skip


def monthly(values, first="2021-01"):
    return list(zip([first, *next_periods(first, len(values) - 1)], values, strict=True))


def test_next_periods_for_months_and_iso_weeks():
    assert next_periods("2024-11", 3) == ["2024-12", "2025-01", "2025-02"]
    assert next_periods("2020-W52", 3) == ["2020-W53", "2021-W01", "2021-W02"]  # 2020 has 53 ISO weeks
    assert next_periods("2021-W51", 2) == ["2021-W52", "2022-W01"]  # 2021 has 52
    with pytest.raises(ValueError, match="neither a month"):
        next_periods("March", 1)


def test_seasonal_naive_repeats_last_year_with_intervals_from_seasonal_differences():
    series = monthly(VALUES)
    f = forecast(series, method="seasonal_naive", horizon=6, level=0.8)
    assert f.method == "seasonal_naive" and f.level == 0.8
    assert [p.period for p in f.points] == ["2023-07", "2023-08", "2023-09", "2023-10", "2023-11", "2023-12"]
    assert [p.value for p in f.points] == [69, 64, 58, 50, 47, 52]  # July to December 2022
    diffs = [VALUES[t] - VALUES[t - 12] for t in range(12, 30)]
    sigma = math.sqrt(sum(d * d for d in diffs) / len(diffs))
    half = norm.ppf(0.9) * sigma
    for p in f.points:
        assert p.lower == pytest.approx(p.value - half) and p.upper == pytest.approx(p.value + half)
    assert "same month a year before" in f.note and "spread" in f.note


def test_seasonal_naive_interval_widens_after_a_full_season():
    f = forecast(monthly(VALUES), method="seasonal_naive", horizon=13, level=0.8)
    first, thirteenth = f.points[0], f.points[12]
    assert thirteenth.value == first.value == VALUES[30 - 12]
    assert (thirteenth.upper - thirteenth.value) == pytest.approx((first.upper - first.value) * math.sqrt(2))


def test_seasonal_naive_backtest_by_hand():
    f = forecast(monthly(VALUES), method="seasonal_naive", horizon=6)
    train, actual = VALUES[:24], VALUES[24:]
    predicted = train[12:18]  # January to June 2022, a year before the held-out months
    mae = sum(abs(a - p) for a, p in zip(actual, predicted, strict=True)) / 6
    scale = sum(abs(train[t] - train[t - 12]) for t in range(12, 24)) / 12
    assert f.holdout == 6
    assert f.backtest_mae == pytest.approx(mae)
    assert f.backtest_mase == pytest.approx(mae / scale)


def test_short_series_falls_back_to_naive_and_says_so():
    values = [12, 15, 11, 14, 16, 13, 15, 17, 14, 18]
    f = forecast(monthly(values), method="seasonal_naive", horizon=3)
    assert [p.value for p in f.points] == [18, 18, 18]
    diffs = [b - a for a, b in zip(values, values[1:], strict=False)]
    sigma = math.sqrt(sum(d * d for d in diffs) / len(diffs))
    for h, p in enumerate(f.points, start=1):
        assert p.upper - p.value == pytest.approx(norm.ppf(0.9) * sigma * math.sqrt(h))
    assert "naive" in f.note and "no full year" in f.note
    # backtest on 7 months: naive repeats the 7th, scaled by the month-to-month change
    predicted, actual, train = values[6], values[7:], values[:7]
    mae = sum(abs(a - predicted) for a in actual) / 3
    scale = sum(abs(b - a) for a, b in zip(train, train[1:], strict=False)) / 6
    assert f.backtest_mae == pytest.approx(mae) and f.backtest_mase == pytest.approx(mae / scale)


def test_too_short_gives_no_forecast_and_says_why():
    for method in ("ets", "seasonal_naive"):
        f = forecast(monthly([3, 4, 5]), method=method)
        assert f.points == () and f.backtest_mae is None and f.holdout == 0
        assert f"at least {MIN_POINTS}" in f.note and "there are 3" in f.note


def test_no_backtest_when_holding_out_leaves_too_little():
    f = forecast(monthly([3, 4, 5, 4, 6, 5, 7, 6]), method="seasonal_naive", horizon=6)
    assert len(f.points) == 6 and f.backtest_mae is None and f.backtest_mase is None and f.holdout == 0
    assert "No backtest" in f.note


def test_counts_are_not_forecast_below_zero():
    values = [9, 0, 8, 1, 0, 7, 0, 2, 9, 0, 1, 0]
    f = forecast(monthly(values), method="seasonal_naive", horizon=3)
    raw = forecast(monthly(values), method="seasonal_naive", horizon=3, floor_at_zero=False)
    assert min(p.lower for p in raw.points) < 0
    assert all(p.lower >= 0 and p.value >= 0 for p in f.points)
    assert [p.lower for p in f.points] == [max(p.lower, 0) for p in raw.points]


def test_ets_on_a_constant_series_forecasts_the_constant():
    f = forecast(monthly([40] * 18), method="ets", horizon=4)
    assert f.method == "ets" and len(f.points) == 4
    for p in f.points:
        assert p.value == pytest.approx(40, abs=1e-6)
        assert p.lower <= p.value + 1e-9 and p.upper >= p.value - 1e-9
    assert f.backtest_mae == pytest.approx(0, abs=1e-6)


def test_ets_on_a_straight_line_continues_it_roughly():
    values = [100 + 5 * i for i in range(20)]
    f = forecast(monthly(values), method="ets", horizon=4)
    for h, p in enumerate(f.points, start=1):
        continued = 100 + 5 * (19 + h)
        assert p.value == pytest.approx(continued, rel=0.03)  # damped, so a little under the straight line
        assert p.lower <= p.value <= p.upper
    assert "damped trend" in f.note


def test_ets_with_two_seasons_uses_the_season():
    pattern = [10, 12, 15, 20, 26, 30, 31, 28, 22, 17, 13, 11]
    values = [v + 100 for v in pattern] * 3
    f = forecast(monthly(values), method="ets", horizon=12)
    assert "a season" in f.note
    for p, expected in zip(f.points, [v + 100 for v in pattern], strict=True):
        assert p.value == pytest.approx(expected, abs=2)
    short = forecast(monthly(values[:20]), method="ets", horizon=3)
    assert "no season" in short.note


def test_ets_backtest_matches_a_forecast_from_the_earlier_months():
    series = monthly(VALUES)
    f = forecast(series, method="ets", horizon=6)
    earlier = forecast(series[:-6], method="ets", horizon=6)
    mae = sum(abs(p.value - a) for p, a in zip(earlier.points, VALUES[-6:], strict=True)) / 6
    scale = sum(abs(VALUES[t] - VALUES[t - 12]) for t in range(12, 24)) / 12
    assert f.backtest_mae == pytest.approx(mae, rel=1e-6)
    assert f.backtest_mase == pytest.approx(mae / scale, rel=1e-6)


def test_forecasts_gives_both_methods_each_backtested():
    both = forecasts(monthly(VALUES), horizon=6, season=12)
    assert [f.method for f in both] == ["seasonal_naive", "ets"]
    assert all(f.holdout == 6 and f.backtest_mase is not None and len(f.points) == 6 for f in both)
    assert all(f.label and "_" not in f.label and f.note for f in both)


def test_weekly_series_with_a_52_week_season():
    weeks = ["2022-W01", *next_periods("2022-W01", 119)]
    values = [50 + 20 * math.sin(2 * math.pi * i / 52) for i in range(120)]
    f = forecast(list(zip(weeks, values, strict=True)), method="seasonal_naive", season=52, horizon=4)
    assert [p.period for p in f.points] == next_periods(weeks[-1], 4)
    assert [p.value for p in f.points] == pytest.approx(values[120 - 52 : 120 - 48])
    assert "same week" in f.label


def test_no_warnings_escape_and_nothing_is_printed(capsys):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        forecasts(monthly([5, 9, 2, 8, 1, 7, 3, 6, 4, 9, 0, 8, 2, 7]), horizon=6)
    assert [str(w.message) for w in caught] == []
    assert capsys.readouterr() == ("", "")


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="Unknown forecast method"):
        forecast(monthly(VALUES), method="arima")
