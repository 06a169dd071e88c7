"""Cost per case before, during and after, and the old way against the new way.

Everything here is computed from the case's subject's contacts when asked (a household case:
the household's contacts; a person case: the person's), so a relink shows new figures at once.
Windows are UK local dates (Europe/London), each half-open ``[starts_on, ends_before)``:

- before: ``[opened − N months, opened)``;
- during: ``[opened, closed)``, or up to and including today while the case is live;
- after:  ``[closed, closed + N months)``; counted up to today when it ends later
  (``complete`` is then false; ``annualised_cost_gbp`` is a separate, scaled figure).

These functions are not scoped to a user: pages and the API reach them through
``cases.selectors.case_impact_for`` / ``case_impact_read``; the command line and cohort
aggregates call them directly.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone

from onecase.accounts.models import Agency
from onecase.cases.models import Case
from onecase.contacts.models import Contact
from onecase.costs.models import UnitCost
from onecase.costs.uprating import PENNY, UnknownPriceYear, deflator_indices, uprate

LONDON = ZoneInfo("Europe/London")
WINDOW_MONTHS = 12
MIN_PROJECTION_MONTHS = 6
BAND_LEVEL = 0.95
ZERO = Decimal("0.00")

PROJECTION_METHOD = (
    "For each case we count the contacts and their cost in each calendar month before the case opened "
    "and in each whole calendar month after it closed. The old way fits a straight line (ordinary least "
    "squares) to the months before the case and extends it over the months after closure; the new way fits "
    "a straight line to the months after closure and reads it over the same months. A month is never "
    "projected below zero. The band is the 95% prediction interval of the total over those months, from "
    "the scatter of the months about the line. No projection is made from fewer than 6 months of data. "
    "A group of cases adds up its cases' projections, and their bands as independent."
)


# Dates ----------------------------------------------------------------------------------------


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` calendar months later (or earlier), kept to the month's last day."""
    years, month0 = divmod(day.month - 1 + months, 12)
    year, month = day.year + years, month0 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def local_date(at: dt.datetime) -> dt.date:
    return at.astimezone(LONDON).date()


def local_midnight(day: dt.date) -> dt.datetime:
    """The instant a UK local date begins (GMT or BST, as it falls)."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=LONDON)


def today_in_uk() -> dt.date:
    return timezone.now().astimezone(LONDON).date()


FOLLOWUP_MONTHS = 6  # a sustained outcome holds this many months after closure


def followup_due_on(case: Case) -> dt.date | None:
    """The UK date a closed case's six-month follow-up falls due (None while the case is live)."""
    _, closed_on = case_dates(case)
    return add_months(closed_on, FOLLOWUP_MONTHS) if closed_on else None


@dataclass(frozen=True)
class Window:
    """Dates ``[starts_on, ends_before)``, counted ``[starts_on, counted_until)``."""

    name: str
    starts_on: dt.date
    ends_before: dt.date | None  # None: a live case's life, which has no end yet
    counted_until: dt.date
    months: int | None = None  # the nominal length of a before or after window

    @property
    def complete(self) -> bool:
        return self.ends_before is not None and self.counted_until >= self.ends_before

    @property
    def days_counted(self) -> int:
        return max(0, (self.counted_until - self.starts_on).days)

    @property
    def days(self) -> int | None:
        return None if self.ends_before is None else (self.ends_before - self.starts_on).days

    def holds(self, day: dt.date) -> bool:
        return self.starts_on <= day < self.counted_until


def case_dates(case: Case) -> tuple[dt.date, dt.date | None]:
    """The UK local dates a case opened and (if it is closed) closed."""
    closed = case.closed_at if case.closed_at and not case.is_live else None
    return local_date(case.opened_at), (local_date(closed) if closed else None)


def case_windows(opened_on: dt.date, closed_on: dt.date | None, *, months: int = WINDOW_MONTHS,
                 today: dt.date) -> dict[str, Window]:
    """The before, during and (for a closed case) after windows, counted up to ``today`` inclusive."""
    if months < 1:
        raise ValueError("the window must be at least one month long")
    tomorrow = today + dt.timedelta(days=1)

    def counted(start: dt.date, end: dt.date) -> dt.date:
        return max(start, min(end, tomorrow))

    before_start = add_months(opened_on, -months)
    windows = {"before": Window("before", before_start, opened_on, counted(before_start, opened_on), months)}
    if closed_on is None:
        windows["during"] = Window("during", opened_on, None, counted(opened_on, tomorrow))
    else:
        windows["during"] = Window("during", opened_on, closed_on, counted(opened_on, closed_on))
        after_end = add_months(closed_on, months)
        windows["after"] = Window("after", closed_on, after_end, counted(closed_on, after_end), months)
    return windows


def month_bounds(start: dt.date, count: int) -> list[tuple[dt.date, dt.date]]:
    """``count`` consecutive calendar months from ``start``: [(from, before), …]."""
    return [(add_months(start, k), add_months(start, k + 1)) for k in range(count)]


# Prices -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Price:
    """What one contact of a type at an agency is worth, by value, with where the figures come from."""

    agency_id: int
    contact_type: str
    fiscal_gbp: Decimal
    price_year: str
    source: str
    cost_code: str
    economic_gbp: Decimal = ZERO
    social_gbp: Decimal = ZERO
    value_price_year: str = ""  # the year the economic and social values are priced at
    transfer: bool = False

    def as_dict(self) -> dict:
        return {
            "contact_type": self.contact_type, "unit_cost_gbp": self.fiscal_gbp, "price_year": self.price_year,
            "source": self.source, "cost_code": self.cost_code, "economic_value_gbp": self.economic_gbp,
            "social_value_gbp": self.social_gbp, "value_price_year": self.value_price_year,
            "transfer_payment": self.transfer,
        }


def _value_at(value, from_year: str, to_year: str, indices) -> tuple[Decimal, str]:
    if value is None:
        return ZERO, ""
    if from_year and to_year:
        try:
            return uprate(value, from_year, to_year, indices=indices), to_year
        except (UnknownPriceYear, ValueError):
            pass
    return Decimal(value).quantize(PENNY, rounding=ROUND_HALF_UP), from_year


def prices_for(pairs: Iterable[tuple[int, str]]) -> dict[tuple[int, str], Price]:
    """The cost map's rows for (agency id, contact type) pairs.

    The fiscal value is the map's unit cost; the economic and social values are those of the
    GMCA row it is based on, uprated to the unit cost's price year where the deflator covers it.
    A pair with no unit cost has no price (it costs nothing and is counted as unpriced).
    """
    pairs = set(pairs)
    if not pairs:
        return {}
    agency_ids = {a for a, _ in pairs}
    rows = UnitCost.objects.filter(agency_id__in=agency_ids).select_related("cost_item")
    indices = None
    prices = {}
    for row in rows:
        if (row.agency_id, row.contact_type) not in pairs:
            continue
        item = row.cost_item
        economic, social, year = ZERO, ZERO, ""
        if item is not None:
            if indices is None:
                indices = deflator_indices()
            economic, year_e = _value_at(item.economic_value_gbp, item.economic_price_year, row.price_year, indices)
            social, year_s = _value_at(item.social_value_gbp, item.social_price_year, row.price_year, indices)
            year = year_e or year_s
        prices[(row.agency_id, row.contact_type)] = Price(
            agency_id=row.agency_id, contact_type=row.contact_type, fiscal_gbp=row.unit_cost_gbp,
            price_year=row.price_year, source=row.source, cost_code=row.cost_item_id or "",
            economic_gbp=economic, social_gbp=social, value_price_year=year,
            transfer=bool(item and item.is_transfer_payment),
        )
    return prices


# Figures ----------------------------------------------------------------------------------------


def _money(value) -> Decimal:
    return Decimal(value).quantize(PENNY, rounding=ROUND_HALF_UP)


def price_counts(counts: Mapping[tuple[int, str], int], prices: Mapping[tuple[int, str], Price],
                 agencies: Mapping[int, tuple[str, str]]) -> dict:
    """Contacts and cost of ``counts`` ((agency id, contact type) -> contacts), by agency and by value.

    ``agencies``: agency id -> (code, name). Public value is fiscal (less transfer payments)
    + economic + social; transfer payments are shown apart and never counted in it.
    """
    by_agency: dict[str, dict] = {}
    fiscal = economic = social = transfer = ZERO
    used, unpriced = [], 0
    for (agency_id, contact_type), n in sorted(counts.items(), key=lambda kv: (agencies[kv[0][0]][0], kv[0][1])):
        code, name = agencies[agency_id]
        row = by_agency.setdefault(code, {"name": name, "contacts": 0, "cost_gbp": ZERO})
        row["contacts"] += n
        price = prices.get((agency_id, contact_type))
        if price is None:
            unpriced += n
            continue
        cost = price.fiscal_gbp * n
        row["cost_gbp"] += cost
        fiscal += cost
        economic += price.economic_gbp * n
        social += price.social_gbp * n
        if price.transfer:
            transfer += cost
        used.append({"agency": code, "contacts": n, **price.as_dict()})
    return {
        "contacts": sum(counts.values()),
        "cost_gbp": _money(fiscal),
        "by_agency": dict(sorted(by_agency.items(), key=lambda kv: (-kv[1]["cost_gbp"], kv[0]))),
        "values": {
            "fiscal_gbp": _money(fiscal), "economic_gbp": _money(economic), "social_gbp": _money(social),
            "transfer_payments_gbp": _money(transfer),
            "public_value_gbp": _money(fiscal - transfer + economic + social),
        },
        "unit_costs": used,
        "unpriced_contacts": unpriced,
    }


def window_figures(window: Window, rows: Iterable[tuple[dt.date, int, str]], prices, agencies) -> dict:
    """``price_counts`` of the rows (UK local date, agency id, contact type) inside the window's counted dates."""
    counts = Counter((agency_id, kind) for day, agency_id, kind in rows if window.holds(day))
    figures = {
        "starts_on": window.starts_on, "ends_before": window.ends_before, "counted_until": window.counted_until,
        "complete": window.complete, "days": window.days, "days_counted": window.days_counted,
        **price_counts(counts, prices, agencies),
    }
    if window.months and not window.complete:
        # The raw figure scaled to 12 months: its own key, never in place of the raw cost.
        figures["annualised_cost_gbp"] = (
            _money(figures["cost_gbp"] * window.days * 12 / (window.days_counted * window.months))
            if window.days_counted else None
        )
    return figures


def monthly(rows: Sequence[tuple[dt.date, int, str]], months: list[tuple[dt.date, dt.date]],
            prices: Mapping[tuple[int, str], Price]) -> list[tuple[int, Decimal]]:
    """(contacts, cost) in each of ``months``."""
    series = []
    for start, end in months:
        inside = [(agency_id, kind) for day, agency_id, kind in rows if start <= day < end]
        cost = sum((prices[p].fiscal_gbp for p in inside if p in prices), ZERO)
        series.append((len(inside), cost))
    return series


# Projection -------------------------------------------------------------------------------------


def _line_total(values: Sequence[float], at: Sequence[float], level: float) -> dict:
    """Fit values ~ a + b·month by OLS; the total over months ``at`` and its prediction interval."""
    import numpy as np
    import statsmodels.api as sm
    from scipy import stats

    x = np.arange(len(values), dtype=float)
    y = np.asarray(values, dtype=float)
    fit = sm.OLS(y, sm.add_constant(x)).fit()
    design = sm.add_constant(np.asarray(at, dtype=float), has_constant="add")
    predicted = design @ fit.params
    weights = design.sum(axis=0)
    scale = float(fit.scale) if math.isfinite(fit.scale) else 0.0
    variance = float(weights @ fit.cov_params() @ weights) + len(at) * scale
    spread = float(stats.t.ppf(0.5 + level / 2, fit.df_resid)) * math.sqrt(max(variance, 0.0))
    linear = float(predicted.sum())
    return {
        "projected": float(np.clip(predicted, 0, None).sum()),
        "low": max(0.0, linear - spread),
        "high": max(0.0, linear + spread),
        "per_month_trend": float(fit.params[1]),
    }


def _rounded(line: dict, money: bool) -> dict:
    if money:
        return {k: _money(Decimal(repr(v))) for k, v in line.items()}
    return {k: round(v, 1) for k, v in line.items()}


def project_series(series: Sequence[tuple[int, Decimal]], at: Sequence[float], *, level: float = BAND_LEVEL,
                   what: str) -> dict:
    """A straight-line projection of monthly (contacts, cost) over months ``at`` (0 = the first month of data).

    Fewer than ``MIN_PROJECTION_MONTHS`` months: no projection, and the reason why.
    """
    if len(series) < MIN_PROJECTION_MONTHS:
        return {"made": False, "months_of_data": len(series),
                "reason": f"Only {len(series)} months of data {what}: a projection needs at least "
                          f"{MIN_PROJECTION_MONTHS}."}
    return {
        "made": True,
        "months_of_data": len(series),
        "contacts": _rounded(_line_total([c for c, _ in series], at, level), money=False),
        "cost_gbp": _rounded(_line_total([float(v) for _, v in series], at, level), money=True),
    }


def projection(before: Sequence[tuple[int, Decimal]], after: Sequence[tuple[int, Decimal]] | None, *,
               gap_months: int, horizon: int, level: float = BAND_LEVEL) -> dict:
    """Old way (from ``before``) against new way (from ``after``) over ``horizon`` months from closure.

    ``gap_months``: whole months from opening to closure, between the last month before and the first
    month after. ``after`` is None for a live case (no new way yet).
    """
    old_at = [len(before) + gap_months + j for j in range(horizon)]
    old = project_series(before, old_at, level=level, what="before the case")
    if after is None:
        new = {"made": False, "months_of_data": 0, "reason": "The case is still open: there is no trend after it yet."}
    else:
        new = project_series(after, list(range(horizon)), level=level, what="after the case closed")
    result = {"method": PROJECTION_METHOD, "horizon_months": horizon, "band_level": level,
              "old_way": old, "new_way": new}
    if old["made"] and new["made"]:
        result["difference"] = {
            "contacts": round(old["contacts"]["projected"] - new["contacts"]["projected"], 1),
            "cost_gbp": old["cost_gbp"]["projected"] - new["cost_gbp"]["projected"],
        }
    return result


def cohort_projection(projections: Sequence[dict]) -> dict:
    """The sum of the cases' projections; bands combined as independent (half-widths in quadrature)."""
    result = {"method": PROJECTION_METHOD, "cases": len(projections)}
    for way in ("old_way", "new_way"):
        made = [p[way] for p in projections if p[way]["made"]]
        entry = {"made": bool(made), "cases_projected": len(made), "cases_left_out": len(projections) - len(made)}
        if not made:
            entry["reason"] = "No case has enough months of data for this projection."
        for key, money in (("contacts", False), ("cost_gbp", True)):
            if not made:
                continue
            total = sum(float(m[key]["projected"]) for m in made)
            below = math.sqrt(sum((float(m[key]["projected"]) - float(m[key]["low"])) ** 2 for m in made))
            above = math.sqrt(sum((float(m[key]["high"]) - float(m[key]["projected"])) ** 2 for m in made))
            entry[key] = _rounded({"projected": total, "low": max(0.0, total - below), "high": total + above},
                                  money=money)
        result[way] = entry
    return result


# A case, and a cohort ---------------------------------------------------------------------------


def case_ref(case: Case) -> str:
    """The reference a case is known by: the old system's for an imported case, its own otherwise."""
    return getattr(case, "imported_ref", "") or case.reference


def subject_rows(case: Case, since: dt.date, until: dt.date) -> list[tuple[dt.date, int, str]]:
    """(UK local date, agency id, contact type) of the subject's contacts on ``[since, until)``."""
    contacts = (Contact.objects.filter(household_id=case.household_id) if case.household_id
                else Contact.objects.filter(person_id=case.person_id))
    found = contacts.filter(occurred_at__gte=local_midnight(since), occurred_at__lt=local_midnight(until))
    return [(local_date(at), agency_id, kind)
            for at, agency_id, kind in found.order_by().values_list("occurred_at", "agency_id", "contact_type")]


def agency_labels(ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    return {pk: (code, name) for pk, code, name in Agency.objects.filter(pk__in=set(ids)).values_list(
        "pk", "code", "name")}


def case_impact(case: Case, *, months: int = WINDOW_MONTHS, today: dt.date | None = None,
                horizon: int | None = None) -> dict:
    """Before, during and after figures for one case, and its old-way / new-way projection.

    Money is Decimal to the penny; ``jsonable`` turns the result into JSON types.
    """
    today = today or today_in_uk()
    opened_on, closed_on = case_dates(case)
    windows = case_windows(opened_on, closed_on, months=months, today=today)
    since = windows["before"].starts_on
    until = max(w.counted_until for w in windows.values())
    rows = subject_rows(case, since, until)
    prices = prices_for((a, k) for _, a, k in rows)
    agencies = agency_labels(a for _, a, _ in rows)
    result = {
        "case_id": case.pk, "case_ref": case_ref(case), "subject": "household" if case.household_id else "person",
        "opened_on": opened_on, "closed_on": closed_on, "months": months,
    }
    for name, window in windows.items():
        result[name] = window_figures(window, rows, prices, agencies)

    before_months = month_bounds(windows["before"].starts_on, months)
    before_series = monthly(rows, before_months, prices)
    after_series = None
    gap = 0
    if closed_on is not None:
        after = windows["after"]
        whole = sum(1 for _, end in month_bounds(closed_on, months) if end <= after.counted_until)
        after_series = monthly(rows, month_bounds(closed_on, whole), prices)
        gap = round((closed_on - opened_on).days / (365.25 / 12))
    else:
        gap = round((today - opened_on).days / (365.25 / 12))
    result["projection"] = projection(before_series, after_series, gap_months=gap, horizon=horizon or months)
    return result


def _add_figures(total: dict, figures: dict) -> None:
    total["contacts"] += figures["contacts"]
    total["cost_gbp"] += figures["cost_gbp"]
    total["unpriced_contacts"] += figures["unpriced_contacts"]
    for key, value in figures["values"].items():
        total["values"][key] += value
    for code, row in figures["by_agency"].items():
        into = total["by_agency"].setdefault(code, {"name": row["name"], "contacts": 0, "cost_gbp": ZERO})
        into["contacts"] += row["contacts"]
        into["cost_gbp"] += row["cost_gbp"]


def cohort_totals(impacts: Sequence[dict]) -> dict:
    """Aggregates only: each window's contacts, cost, by agency and by value, summed over the cases."""
    totals: dict = {"cases": len(impacts)}
    for name in ("before", "during", "after"):
        present = [i[name] for i in impacts if name in i]
        total = {"cases": len(present), "cases_complete": sum(1 for f in present if f["complete"]),
                 "contacts": 0, "cost_gbp": ZERO, "unpriced_contacts": 0, "by_agency": {},
                 "values": defaultdict(lambda: ZERO)}
        for figures in present:
            _add_figures(total, figures)
        total["values"] = dict(total["values"])
        total["by_agency"] = dict(sorted(total["by_agency"].items(), key=lambda kv: (-kv[1]["cost_gbp"], kv[0])))
        totals[name] = total
    totals["projection"] = cohort_projection([i["projection"] for i in impacts])
    return totals


def jsonable(value):
    """Decimals as strings (pounds and pence), dates as ISO dates; the rest as it is."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


OTHER_AGENCIES = "Other agencies"


def fold_agencies(figures: dict, hidden: set[str], label: str = OTHER_AGENCIES) -> None:
    """Total the ``hidden`` agencies' figures together under ``label``, naming none of them (in place)."""
    if not hidden:
        return
    folded = {"name": label, "contacts": 0, "cost_gbp": ZERO}
    kept = {}
    for code, row in figures["by_agency"].items():
        if code in hidden:
            folded["contacts"] += row["contacts"]
            folded["cost_gbp"] += row["cost_gbp"]
        else:
            kept[code] = row
    if folded["contacts"]:
        kept[label] = folded
    figures["by_agency"] = kept
    figures["unit_costs"] = [u for u in figures["unit_costs"] if u["agency"] not in hidden]
