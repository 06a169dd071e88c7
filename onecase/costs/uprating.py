"""Financial years, the GDP deflator index and uprating.

Prices are uprated the way the Unit Cost Database workbook does it: value × index(to year)
÷ index(from year), with the index kept unrounded and the result rounded once, to the penny
(half up). Nothing here needs Django until ``deflator_indices`` reads the database, so the
converter can use it too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal, localcontext

PENNY = Decimal("0.01")
# The stored index keeps 10 decimal places (13 significant figures for an index near 200),
# as precise as the workbook's own floating-point lookup table.
INDEX_PLACES = Decimal("1E-10")
INDEX_BASE = Decimal(100)
_YEAR = re.compile(r"^(\d{4})\s*[-/]\s*(\d{2}|\d{4})$")


class UnknownPriceYear(ValueError):
    """A financial year the deflator table does not cover."""

    def __init__(self, year: str, covered: Iterable[str]):
        covered = sorted(covered)
        self.year = year
        self.first = covered[0] if covered else None
        self.last = covered[-1] if covered else None
        span = f"{self.first} to {self.last}" if covered else "no years (load the reference data)"
        super().__init__(f"the GDP deflator covers {span}; {year} is not in it")


def normalise_financial_year(text) -> str:
    """``2006/07``, ``2006-07`` or ``2006-2007`` as ``2006-07``. Raises ValueError otherwise."""
    value = str(text).strip()
    match = _YEAR.match(value)
    if not match:
        raise ValueError(f"'{value[:20]}' is not a financial year written like 2006-07")
    start, end = int(match.group(1)), match.group(2)
    following = start + 1
    if int(end) != (following % 100 if len(end) == 2 else following):
        raise ValueError(f"'{value[:20]}' is not a financial year: the second year must follow the first")
    return f"{start}-{following % 100:02d}"


def chain_index(pct_changes: Iterable[tuple[str, Decimal]], base: Decimal = INDEX_BASE) -> dict[str, Decimal]:
    """The cumulative index from year-on-year % changes, the first year being ``base``.

    This is the workbook's lookup table: each year's index is the previous one × (1 + % / 100);
    the first year's own % change is not used.
    """
    exact: dict[str, Decimal] = {}
    with localcontext() as ctx:
        ctx.prec = 60
        index: Decimal | None = None
        for year, pct in pct_changes:
            index = base if index is None else index * (1 + Decimal(pct) / 100)
            exact[normalise_financial_year(year)] = index
    return {year: value.quantize(INDEX_PLACES, rounding=ROUND_HALF_UP) for year, value in exact.items()}


def as_decimal(value) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def uprate(value, from_year, to_year, *, indices: Mapping[str, Decimal] | None = None) -> Decimal:
    """``value`` in ``from_year`` prices, expressed in ``to_year`` prices, to the penny.

    ``indices`` (financial year -> index) defaults to the ``Deflator`` table.
    Raises ``UnknownPriceYear`` for a year the deflator does not cover.
    """
    if indices is None:
        indices = deflator_indices()
    start, end = normalise_financial_year(from_year), normalise_financial_year(to_year)
    for year in (start, end):
        if year not in indices:
            raise UnknownPriceYear(year, indices)
    return (as_decimal(value) * indices[end] / indices[start]).quantize(PENNY, rounding=ROUND_HALF_UP)


def deflator_indices() -> dict[str, Decimal]:
    """Financial year -> GDP deflator index, from the database."""
    from onecase.costs.models import Deflator

    return dict(Deflator.objects.values_list("financial_year", "index"))
