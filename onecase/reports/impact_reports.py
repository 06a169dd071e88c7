"""A cohort of cases: which cases (``Cohort``), their figures grouped for the Impact page, and the
savings report's inputs from their demand before and after (docs/impact-method.md).

Not scoped to a user: ``reports.selectors.impact_cohort_read`` and ``savings_read`` are.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation

from django.db.models import QuerySet

from onecase.accounts.models import Agency
from onecase.cases.impact import local_midnight
from onecase.cases.models import Case, Need
from onecase.contacts.models import NeedCategory
from onecase.reports.cba import (
    KEY_WORKER_HOURLY_GBP,
    KEY_WORKER_HOURS_PER_CASE,
    OPTIMISM_BIAS_BY_GRADE,
    CbaInputs,
    inputs_from_demand,
    money,
)

GROUPINGS = {"period": "Quarter the case opened", "agency": "Key worker's agency", "need": "Need category"}
QUARTERS = ("January to March", "April to June", "July to September", "October to December")
NO_NEED = "No need category recorded"


class CohortError(ValueError):
    """A cohort or savings input that cannot be read; the message says which and why."""


@dataclass(frozen=True)
class Cohort:
    """Cases opened between two UK dates (inclusive), by the key worker's agency, with a need category,
    imported or not. Every part is optional: the empty cohort is every case."""

    opened_from: dt.date | None = None
    opened_to: dt.date | None = None
    agency: str = ""  # the key worker's agency code
    need: str = ""  # a need category code
    imported: bool | None = None

    KEYS = ("opened_from", "opened_to", "agency", "need", "imported")

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> Cohort:
        """From strings (a query string, ``key=value`` arguments) or typed values; raises CohortError."""
        values: dict = {}
        for key in cls.KEYS:
            raw = data.get(key)
            if raw in (None, ""):
                continue
            if key in ("opened_from", "opened_to"):
                try:
                    values[key] = raw if isinstance(raw, dt.date) else dt.date.fromisoformat(str(raw))
                except ValueError:
                    raise CohortError(f"{key.replace('_', ' ')}: {raw!r} is not a date written YYYY-MM-DD") from None
            elif key == "imported":
                text = str(raw).lower()
                if text not in ("yes", "no", "true", "false"):
                    raise CohortError("imported: answer yes or no")
                values[key] = text in ("yes", "true")
            else:
                values[key] = str(raw).strip()
        cohort = cls(**values)
        if cohort.opened_from and cohort.opened_to and cohort.opened_to < cohort.opened_from:
            raise CohortError("opened to: the end comes before the start")
        if cohort.agency and not Agency.objects.filter(code=cohort.agency).exists():
            raise CohortError(f"agency: no agency has the code {cohort.agency!r}")
        if cohort.need and not NeedCategory.objects.filter(code=cohort.need).exists():
            raise CohortError(f"need: no need category has the code {cohort.need!r}")
        return cohort

    @classmethod
    def parse(cls, specs: Sequence[str]) -> Cohort:
        """From ``key=value`` words, e.g. ``opened_from=2024-01-01 agency=POLICE``."""
        data = {}
        for spec in specs:
            key, sep, value = spec.partition("=")
            if not sep or key.strip() not in cls.KEYS:
                raise CohortError(f"{spec!r}: write one of {', '.join(k + '=…' for k in cls.KEYS)}")
            data[key.strip()] = value.strip()
        return cls.from_mapping(data)

    def as_query(self) -> dict[str, str]:
        out = {}
        for key in self.KEYS:
            value = getattr(self, key)
            if value is None or value == "":
                continue
            out[key] = ("yes" if value else "no") if key == "imported" else str(value)
        return out

    def cases(self) -> QuerySet[Case]:
        """The cohort's cases, oldest first (not scoped to a user)."""
        cases = Case.objects.select_related("agency")
        if self.opened_from:
            cases = cases.filter(opened_at__gte=local_midnight(self.opened_from))
        if self.opened_to:
            cases = cases.filter(opened_at__lt=local_midnight(self.opened_to + dt.timedelta(days=1)))
        if self.agency:
            cases = cases.filter(agency__code=self.agency)
        if self.need:
            cases = cases.filter(needs__category__code=self.need).distinct()
        if self.imported is not None:
            cases = cases.exclude(imported_ref="") if self.imported else cases.filter(imported_ref="")
        return cases.order_by("opened_at", "pk")

    def describe(self) -> str:
        """The cohort in words."""
        parts = []
        if self.opened_from and self.opened_to:
            parts.append(f"opened from {self.opened_from:%-d %B %Y} to {self.opened_to:%-d %B %Y}")
        elif self.opened_from:
            parts.append(f"opened on or after {self.opened_from:%-d %B %Y}")
        elif self.opened_to:
            parts.append(f"opened on or before {self.opened_to:%-d %B %Y}")
        if self.agency:
            name = Agency.objects.filter(code=self.agency).values_list("name", flat=True).first() or self.agency
            parts.append(f"with a key worker at {name}")
        if self.need:
            name = NeedCategory.objects.filter(code=self.need).values_list("name", flat=True).first() or self.need
            parts.append(f"with a need in {name}")
        if self.imported is not None:
            parts.append("imported from the old system" if self.imported else "opened in OneCase")
        return "All cases" + ("" if not parts else " " + ", ".join(parts))


def quarter(day: dt.date) -> tuple[tuple[int, int], str]:
    q = (day.month - 1) // 3
    return (day.year, q), f"{QUARTERS[q]} {day.year}"


def group_rows(pairs: Sequence[tuple[Case, dict]], by: str) -> list[dict]:
    """One row per group: cases, closed cases, and over the closed cases the raw before and after
    contacts and cost and their difference (after less before). A case with needs in several
    categories counts in each when grouped by need."""
    if by not in GROUPINGS:
        raise CohortError(f"group by: one of {', '.join(GROUPINGS)}")
    needs: dict[int, list[str]] = defaultdict(list)
    if by == "need":
        for case_id, name in (Need.objects.filter(case_id__in=[c.pk for c, _ in pairs])
                              .exclude(category=None).values_list("case_id", "category__name").distinct()):
            needs[case_id].append(name)
    rows: dict = {}
    for case, impact in pairs:
        if by == "period":
            keys = [quarter(impact["opened_on"])]
        elif by == "agency":
            keys = [((0, case.agency.name), case.agency.name)]
        else:
            keys = [((0, name), name) for name in sorted(needs[case.pk])] or [((1, NO_NEED), NO_NEED)]
        for order, label in keys:
            row = rows.setdefault(order, {"label": label, "cases": 0, "closed": 0, "after_complete": 0,
                                          "before_contacts": 0, "before_cost_gbp": Decimal("0.00"),
                                          "after_contacts": 0, "after_cost_gbp": Decimal("0.00")})
            row["cases"] += 1
            if "after" in impact:
                row["closed"] += 1
                row["after_complete"] += impact["after"]["complete"]
                row["before_contacts"] += impact["before"]["contacts"]
                row["before_cost_gbp"] += impact["before"]["cost_gbp"]
                row["after_contacts"] += impact["after"]["contacts"]
                row["after_cost_gbp"] += impact["after"]["cost_gbp"]
    for row in rows.values():
        row["difference_contacts"] = row["after_contacts"] - row["before_contacts"]
        row["difference_cost_gbp"] = row["after_cost_gbp"] - row["before_cost_gbp"]
    return [rows[k] for k in sorted(rows)]


# The savings report's inputs ------------------------------------------------------------------------

PERCENT, WHOLE, POUNDS, GRADE = "percent", "whole", "pounds", "grade"


@dataclass(frozen=True)
class SavingsInput:
    name: str
    label: str
    kind: str
    default: Decimal | int
    hint: str = ""


_defaults = CbaInputs()
SAVINGS_INPUTS: tuple[SavingsInput, ...] = (
    SavingsInput("engagement_rate", "Engagement rate (%)", PERCENT, _defaults.engagement_rate,
                 "The share of the cohort who take part. Leave at 100% for benefits measured from cases."),
    SavingsInput("success_rate", "Success rate (%)", PERCENT, _defaults.success_rate,
                 "The share of those taking part whose outcome is achieved."),
    SavingsInput("deadweight", "Deadweight (%)", PERCENT, _defaults.deadweight,
                 "The share of the change that would have happened anyway."),
    SavingsInput("attribution", "Attribution to other services (%)", PERCENT, _defaults.attribution,
                 "The share of the change owed to other services' work."),
    SavingsInput("drop_off", "Drop-off each year (%)", PERCENT, _defaults.drop_off,
                 "The share of the benefit lost each year after the first."),
    SavingsInput("years", "Years of benefit", WHOLE, _defaults.years, "From 1 to 10."),
    SavingsInput("discount_rate", "Discount rate (%)", PERCENT, _defaults.discount_rate,
                 "HM Treasury Green Book: 3.5%."),
    SavingsInput("cost_per_case_gbp", "Cost of key work per case (£)", POUNDS,
                 KEY_WORKER_HOURS_PER_CASE * KEY_WORKER_HOURLY_GBP,
                 "Paid by the key worker's agency for each case. Default: 60 hours at £30 an hour."),
    SavingsInput("confidence_grade", "Confidence grade of the demand figures", GRADE, 2,
                 "From 1 (audited data) to 6 (expert judgement)."),
    *(SavingsInput(f"optimism_bias_{grade}", f"Optimism-bias correction, grade {grade} (%)", PERCENT, correction)
      for grade, correction in sorted(OPTIMISM_BIAS_BY_GRADE.items())),
)
SAVINGS_INPUT_NAMES = tuple(i.name for i in SAVINGS_INPUTS)


def shown_default(item: SavingsInput) -> str:
    """The default as a person types it: percentages as percent."""
    if item.kind == PERCENT:
        return f"{(Decimal(item.default) * 100).normalize():f}"
    return str(item.default)


def parse_savings_inputs(data: Mapping[str, object]) -> dict:
    """The inputs a report changes, from what was typed (percentages as percent); raises CohortError."""
    values: dict = {}
    for item in SAVINGS_INPUTS:
        raw = data.get(item.name)
        if raw in (None, ""):
            continue
        try:
            number = Decimal(str(raw).strip().rstrip("%").replace(",", "").lstrip("£"))
        except InvalidOperation:
            raise CohortError(f"{item.label}: {raw!r} is not a number") from None
        if not number.is_finite():
            raise CohortError(f"{item.label}: {raw!r} is not a number")
        if item.kind == PERCENT:
            if not 0 <= number <= 100:
                raise CohortError(f"{item.label}: give a percentage from 0 to 100")
            values[item.name] = number / 100
        elif item.kind in (WHOLE, GRADE):
            top = 10 if item.kind == WHOLE else 6
            if number != number.to_integral_value() or not 1 <= number <= top:
                raise CohortError(f"{item.label}: give a whole number from 1 to {top}")
            values[item.name] = int(number)
        else:
            if not 0 <= number <= 10_000_000:
                raise CohortError(f"{item.label}: give an amount from £0 to £10,000,000")
            values[item.name] = money(number)
    return values


def savings_inputs(pairs: Sequence[tuple[Case, dict]], months: int, changes: Mapping[str, object]) -> tuple[
        CbaInputs, dict]:
    """CBA inputs from the closed cases' yearly demand cost by agency before and after, and what was used.

    The before window is scaled to a year (× 12 ÷ months); the after window to a year of what was
    counted (the annualised figure when it is not yet over). A case closed today has nothing after yet
    and is left out.
    """
    before: dict[str, Decimal] = defaultdict(Decimal)
    after: dict[str, Decimal] = defaultdict(Decimal)
    key_work: dict[str, int] = defaultdict(int)
    used = live = too_soon = 0
    for case, impact in pairs:
        later = impact.get("after")
        if later is None:
            live += 1
            continue
        if not later["days_counted"]:
            too_soon += 1
            continue
        used += 1
        yearly = Decimal(12) / months
        scale_after = Decimal(later["days"]) * 12 / (Decimal(later["days_counted"]) * months)
        for row in impact["before"]["by_agency"].values():
            before[row["name"]] += row["cost_gbp"] * yearly
        for row in later["by_agency"].values():
            after[row["name"]] += row["cost_gbp"] * scale_after
        key_work[case.agency.name] += 1
    grades = {g: changes.get(f"optimism_bias_{g}", c) for g, c in OPTIMISM_BIAS_BY_GRADE.items()}
    passed = {f.name: changes[f.name] for f in fields(CbaInputs) if f.name in changes}
    inputs = inputs_from_demand(
        {k: money(v) for k, v in before.items()}, {k: money(v) for k, v in after.items()}, key_work,
        cost_per_case_gbp=changes.get("cost_per_case_gbp", KEY_WORKER_HOURS_PER_CASE * KEY_WORKER_HOURLY_GBP),
        confidence_grade=changes.get("confidence_grade", 2), optimism_bias=grades, **passed)
    return inputs, {"cases_used": used, "cases_live": live, "cases_closed_today": too_soon,
                    "yearly_before_gbp": money(sum(before.values(), Decimal(0))),
                    "yearly_after_gbp": money(sum(after.values(), Decimal(0)))}
