"""Leading indicators: Pearson's r per lag checked against numpy on data shifted here, a series that leads
another by 3 months found at lag 3, and the caveat in plain words."""

import random

import numpy as np
import pytest

from onecase.measures.forecast import next_periods
from onecase.measures.leading import lagged_correlation


def monthly(values, first="2021-01"):
    return list(zip([first, *next_periods(first, len(values) - 1)], values, strict=True))


def noisy(n, seed):
    rng = random.Random(seed)
    return [rng.gauss(50, 10) for _ in range(n)]


def test_r_at_each_lag_matches_numpy_on_shifted_data():
    leader_values, follower_values = noisy(30, 1), noisy(30, 2)
    lead = lagged_correlation(monthly(leader_values), monthly(follower_values), max_lag=6)
    assert [c.lag for c in lead.lags] == list(range(7))
    for c in lead.lags:
        x = np.array(leader_values[: 30 - c.lag])  # leader at t ...
        y = np.array(follower_values[c.lag :])  # ... against follower at t + lag
        assert c.n == 30 - c.lag
        assert c.r == pytest.approx(np.corrcoef(x, y)[0, 1])
        assert 0 <= c.p_value <= 1


def test_a_series_leading_another_by_three_is_found_at_lag_3():
    driver = noisy(40, 7)
    noise = noisy(40, 8)
    follower = [0.0, 0.0, 0.0] + [2 * d + 0.3 * e for d, e in zip(driver, noise[3:], strict=False)]
    lead = lagged_correlation(monthly(driver), monthly(follower[:40]), max_lag=6)
    assert lead.best is not None and lead.best.lag == 3
    assert lead.best.r > 0.9 and lead.best.p_value < 0.001
    assert "3 months later" in lead.caveat
    assert "7 lags were tried" in lead.caveat and "0.05 divided by 7" in lead.caveat and "passes" in lead.caveat


def test_only_the_periods_both_have_are_paired():
    leader = monthly([1, 3, 2, 5, 4, 6, 8, 7], first="2021-01")
    follower = monthly([2, 6, 4, 10, 8, 12, 16, 14], first="2021-03")  # starts two months later
    lead = lagged_correlation(leader, follower, max_lag=3)
    by_lag = {c.lag: c for c in lead.lags}
    # lag 2 pairs leader 2021-01.. with follower 2021-03..: all 8, and follower is twice the leader
    assert by_lag[2].n == 8 and by_lag[2].r == pytest.approx(1.0)
    assert by_lag[0].n == 6 and by_lag[3].n == 7
    assert lead.best.lag == 2


def test_a_negative_match_counts_by_its_size():
    values = noisy(24, 3)
    lead = lagged_correlation(monthly(values), monthly([100 - v for v in values]), max_lag=2)
    assert lead.best.lag == 0 and lead.best.r == pytest.approx(-1.0)
    assert "opposite directions" in lead.caveat and "in the same month" in lead.caveat


def test_the_caveat_names_the_points_and_that_correlation_is_not_cause():
    lead = lagged_correlation(monthly(noisy(12, 4)), monthly(noisy(12, 5)), max_lag=4)
    assert lead.best is not None
    assert f"over {lead.best.n} months" in lead.caveat
    assert "not a cause" in lead.caveat and "by chance" in lead.caveat
    assert "5 lags were tried" in lead.caveat


def test_too_little_in_common_says_so():
    lead = lagged_correlation(monthly([1, 2, 3]), monthly([3, 2, 1]), max_lag=2)
    assert lead.lags == () and lead.best is None and "Too few months" in lead.caveat
    flat = lagged_correlation(monthly([5] * 10), monthly(noisy(10, 6)), max_lag=2)
    assert flat.best is None


def test_weekly_series():
    weeks = ["2023-W50", *next_periods("2023-W50", 29)]
    driver = noisy(30, 9)
    follower = [0.0] + driver[:-1]
    lead = lagged_correlation(list(zip(weeks, driver, strict=True)), list(zip(weeks, follower, strict=True)))
    assert lead.best.lag == 1 and lead.best.r == pytest.approx(1.0) and "1 week later" in lead.caveat
