"""Leading indicators: how closely one series (a Tier 2 front door such as rent arrears) moves with another
(a Tier 3 outcome) some periods later. Pearson's r at each lag, on the periods both series have, with its
number of points and p-value, and a caveat in plain words. Pure functions, no database.

Trying several lags and picking the strongest makes a chance match likelier, so the caveat says how many
lags were tried and the stricter p-value a match would need to stand out (Bonferroni: 0.05 divided by
the number of lags tried).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from onecase.measures.forecast import period_offset

Series = Sequence[tuple[str, float]]
MIN_PAIRS = 4  # fewer points than this say nothing about a correlation
ALPHA = 0.05


@dataclass(frozen=True)
class LagCorrelation:
    lag: int
    r: float
    n: int
    p_value: float


@dataclass(frozen=True)
class Lead:
    lags: tuple[LagCorrelation, ...]
    best: LagCorrelation | None
    caveat: str


def _unit(series: Series) -> str:
    return "week" if series and "-W" in series[0][0] else "month"


def lagged_correlation(leader: Series, follower: Series, *, max_lag: int = 6) -> Lead:
    """Pearson's r between ``leader`` at each period and ``follower`` ``lag`` periods later, for lags 0 to
    ``max_lag``, on the periods both have; the strongest by size of r, and a caveat in plain words.

    A lag with fewer than 4 shared points, or where either side does not vary, is left out.
    """
    from scipy.stats import pearsonr

    later = {str(p): float(v) for p, v in follower}
    lags = []
    for lag in range(max_lag + 1):
        pairs = [(float(v), later[k]) for p, v in leader if (k := period_offset(str(p), lag)) in later]
        if len(pairs) < MIN_PAIRS:
            continue
        xs, ys = zip(*pairs, strict=True)
        if len(set(xs)) < 2 or len(set(ys)) < 2:
            continue
        result = pearsonr(xs, ys)
        r, p = float(result.statistic), float(result.pvalue)
        if math.isfinite(r):
            lags.append(LagCorrelation(lag=lag, r=r, n=len(pairs), p_value=p))
    best = max(lags, key=lambda c: abs(c.r)) if lags else None
    return Lead(lags=tuple(lags), best=best, caveat=_caveat(best, len(lags), _unit(leader)))


def _caveat(best: LagCorrelation | None, tried: int, unit: str) -> str:
    if best is None:
        return (
            f"Too few {unit}s in common to say anything: each lag needs at least {MIN_PAIRS} {unit}s where both "
            "series have a value, and both must vary."
        )
    strict = ALPHA / tried
    later = f"in the same {unit}" if best.lag == 0 else f"{best.lag} {unit}{'s' if best.lag != 1 else ''} later"
    direction = "rise and fall together" if best.r > 0 else "move in opposite directions"
    said = (
        f"The closest match is {later}: a correlation of {best.r:.2f} over {best.n} {unit}s "
        f"(the two tend to {direction}). "
    )
    chance = (
        f"{tried} lags were tried, so one of them can look strong by chance; to count as more than chance the "
        f"match would need a p-value below {strict:.3f} (0.05 divided by {tried}), and this one's is "
        f"{best.p_value:.3f}, so it {'passes' if best.p_value < strict else 'does not pass'} that test. "
    )
    few = f"With only {best.n} {unit}s, a correlation can easily arise by chance. " if best.n < 24 else ""
    return (
        said
        + chance
        + few
        + "A correlation is not a cause: both may follow something else, such as the season or a change in how "
        "things are recorded."
    )
