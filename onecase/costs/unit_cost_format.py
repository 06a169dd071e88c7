"""The unit cost file: its columns, and validating each row.

Files are read with the contact import's reader (CSV or XLSX, BOM and CRLF accepted) and
problems use its ``Problem`` type, so they read ``line N, column C: reason``. Nothing here
writes to the database; the lookups it needs (agencies, cost codes, deflator) are passed in.
See docs/unit-costs.md for the format.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from onecase.costs.uprating import UnknownPriceYear, normalise_financial_year, uprate
from onecase.imports.contact_format import AGENCY_CODE, Layout, Problem, normalise_agency_code

REQUIRED = ("agency", "contact_type", "unit_cost_gbp")
OPTIONAL = ("price_year", "source", "cost_code", "notes")
KNOWN = frozenset((*REQUIRED, *OPTIONAL))
MAX_LENGTH = {"agency": 40, "contact_type": 100, "source": 300, "cost_code": 20, "notes": 2000}
AMOUNT = re.compile(r"^-?\d+(\.\d+)?$")
MAX_AMOUNT = Decimal("1E10")
CREATE_AGENCY_FIRST = "create it (onecase create_agency) or import its contacts first"


@dataclass(frozen=True)
class CostCode:
    """What validation needs to know of a GMCA row."""

    code: str
    fiscal_value_gbp: Decimal | None
    fiscal_price_year: str


@dataclass(frozen=True)
class UnitCostRow:
    line: int
    agency_id: int
    contact_type: str
    unit_cost_gbp: Decimal
    price_year: str
    source: str
    cost_code: str | None
    notes: str


def read_layout(header: list[str]) -> tuple[Layout, list[Problem]]:
    names = [h.strip().lstrip("\ufeff").lower() for h in header]
    index: dict[str, int] = {}
    problems: list[Problem] = []
    ignored: list[str] = []
    for position, name in enumerate(names):
        if name in KNOWN:
            if name in index:
                problems.append(Problem(1, name, "this column appears twice"))
            index[name] = position
        elif name:
            ignored.append(header[position].strip().lstrip("\ufeff"))
    problems.extend(Problem(1, name, "required column is missing") for name in REQUIRED if name not in index)
    return Layout(index=index, ignored=ignored), problems


def parse_amount(text: str) -> Decimal:
    """Pounds, e.g. ``718.50``, ``£1,250`` or ``0``. Raises ValueError with the reason."""
    cleaned = text.replace(",", "").replace(" ", "")
    cleaned = cleaned[1:] if cleaned.startswith("£") else cleaned
    if not AMOUNT.match(cleaned):
        raise ValueError(f"'{text[:30]}' is not an amount in pounds, e.g. 718.50")
    amount = Decimal(cleaned)
    if amount < 0:
        raise ValueError("must not be negative")
    if amount.as_tuple().exponent < -2:
        raise ValueError("has more than 2 decimal places; give pounds and pence")
    if amount >= MAX_AMOUNT:
        raise ValueError("is too large")
    return amount


class RowValidator:
    """Turns raw rows into ``UnitCostRow`` or problems.

    ``agencies`` maps upper-case agency code -> id; ``cost_codes`` maps upper-case code ->
    ``CostCode``; ``indices`` is the deflator, used when a row gives a cost code but no cost.
    """

    def __init__(
        self,
        layout: Layout,
        *,
        agencies: Mapping[str, int],
        cost_codes: Mapping[str, CostCode],
        indices: Mapping[str, Decimal],
    ):
        self.agencies = agencies
        self.cost_codes = cost_codes
        self.indices = indices
        self.latest_year = max(indices) if indices else ""
        self.seen: dict[tuple[str, str], int] = {}
        self._positions = [(name, layout.index.get(name)) for name in sorted(KNOWN)]

    def validate(self, line: int, values: list[str]) -> tuple[UnitCostRow | None, list[Problem]]:
        width = len(values)
        got = {
            name: values[position].strip() if position is not None and position < width else ""
            for name, position in self._positions
        }
        problems: list[Problem] = []
        for name, limit in MAX_LENGTH.items():
            if len(got[name]) > limit:
                problems.append(Problem(line, name, f"is longer than {limit} characters"))

        agency_id = None
        code = normalise_agency_code(got["agency"])
        if not code:
            problems.append(Problem(line, "agency", "is empty"))
        elif not AGENCY_CODE.match(code):
            problems.append(Problem(line, "agency", "use letters, digits, - or _ only (at most 40)"))
        else:
            agency_id = self.agencies.get(code)
            if agency_id is None:
                problems.append(Problem(line, "agency", f"unknown agency {code}; {CREATE_AGENCY_FIRST}"))

        contact_type = got["contact_type"]
        if not contact_type:
            problems.append(Problem(line, "contact_type", "is empty"))
        elif code:
            first = self.seen.get((code, contact_type))
            if first is not None:
                problems.append(Problem(line, "contact_type", f"{code} {contact_type} is already on line {first}"))
            else:
                self.seen[(code, contact_type)] = line

        price_year = ""
        if got["price_year"]:
            try:
                price_year = normalise_financial_year(got["price_year"])
            except ValueError as exc:
                problems.append(Problem(line, "price_year", str(exc)))

        cost_code = None
        if got["cost_code"]:
            found = self.cost_codes.get(got["cost_code"].upper())
            if found is None:
                problems.append(Problem(line, "cost_code", f"{got['cost_code'][:20]} is not a GMCA unit cost code"))
            else:
                cost_code = found

        amount = None
        if got["unit_cost_gbp"]:
            try:
                amount = parse_amount(got["unit_cost_gbp"])
            except ValueError as exc:
                problems.append(Problem(line, "unit_cost_gbp", str(exc)))
        elif not got["cost_code"]:
            problems.append(Problem(line, "unit_cost_gbp", "is empty; give the cost, or a cost_code to take its value"))
        elif cost_code is not None and not (got["price_year"] and not price_year):
            amount, problem = self._from_cost_code(line, cost_code, price_year)
            if problem:
                problems.append(problem)
            elif not price_year:
                price_year = self.latest_year

        if problems:
            return None, problems
        return (
            UnitCostRow(
                line=line,
                agency_id=agency_id,
                contact_type=contact_type,
                unit_cost_gbp=amount,
                price_year=price_year,
                source=got["source"],
                cost_code=cost_code.code if cost_code else None,
                notes=got["notes"],
            ),
            [],
        )

    def _from_cost_code(self, line: int, item: CostCode, price_year: str) -> tuple[Decimal | None, Problem | None]:
        """The GMCA fiscal value uprated to ``price_year`` (default: the deflator's latest year)."""
        if item.fiscal_value_gbp is None:
            return None, Problem(line, "unit_cost_gbp", f"is empty and {item.code} has no fiscal value; give the cost")
        try:
            return uprate(
                item.fiscal_value_gbp, item.fiscal_price_year, price_year or self.latest_year, indices=self.indices
            ), None
        except UnknownPriceYear as exc:
            return None, Problem(line, "price_year", f"{exc}; give unit_cost_gbp for these prices")
