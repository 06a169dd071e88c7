"""Outcomes per need category, in the style of the Supporting Families outcomes.

For each need on a closed case: better, the same or worse at closure (``Need.outcome``) and six
months after closure (``Need.followup_outcome``), each recorded with its evidence by the key
worker. A **sustained** outcome is one that holds six months after closure: better at closure
and still better six months on. Six months on is **not yet due** until six calendar months (UK
dates) have passed since the case closed; an outcome nobody recorded (an imported case, or a
follow-up not yet done) is **not recorded**, never guessed. Live cases are left out: nothing
has ended yet.

``outcome_summary`` is pure; ``outcomes_for`` reads the needs of the cases it is given (the
caller scopes them) and adds them up. Counts only: no words, no evidence, no names.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import QuerySet

from onecase.cases.impact import FOLLOWUP_MONTHS, add_months, local_date, today_in_uk
from onecase.cases.models import Case, Need, Status

NOT_CATEGORISED = "Not yet categorised"
RESULTS = ("better", "same", "worse")
AT_CLOSURE = (*RESULTS, "not_recorded")
SIX_MONTHS = (*RESULTS, "not_yet_due", "not_recorded")
LABELS = {"better": "Better", "same": "The same", "worse": "Worse", "not_recorded": "Not recorded",
          "not_yet_due": "Not yet due"}


@dataclass(frozen=True)
class NeedOutcome:
    """One need on a closed case, as the aggregation needs it."""

    category: str
    at_closure: str  # better, same, worse or "" (not recorded)
    six_months: str  # the same, six months after closure
    closed_on: dt.date


@dataclass
class OutcomeCounts:
    category: str
    needs: int = 0
    at_closure: dict[str, int] = field(default_factory=lambda: dict.fromkeys(AT_CLOSURE, 0))
    six_months: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SIX_MONTHS, 0))
    sustained: int = 0

    def add(self, need: NeedOutcome, today: dt.date) -> None:
        self.needs += 1
        closure = need.at_closure if need.at_closure in RESULTS else "not_recorded"
        self.at_closure[closure] += 1
        if today < add_months(need.closed_on, FOLLOWUP_MONTHS):
            later = "not_yet_due"
        else:
            later = need.six_months if need.six_months in RESULTS else "not_recorded"
        self.six_months[later] += 1
        if closure == "better" and later == "better":
            self.sustained += 1

    def as_dict(self) -> dict:
        return {"category": self.category, "needs": self.needs, "at_closure": dict(self.at_closure),
                "six_months": dict(self.six_months), "sustained": self.sustained}


@dataclass
class OutcomeSummary:
    categories: list[OutcomeCounts]
    total: OutcomeCounts
    cases_not_recorded: int = 0  # closed imported cases with no needs: their outcomes were never recorded

    def as_dict(self) -> dict:
        return {"categories": [c.as_dict() for c in self.categories], "total": self.total.as_dict(),
                "cases_not_recorded": self.cases_not_recorded}


def outcome_summary(needs: Iterable[NeedOutcome], *, today: dt.date, cases_not_recorded: int = 0) -> OutcomeSummary:
    """Per need category (by name, uncategorised last) and in total: better, the same or worse at
    closure and six months on, sustained, not yet due and not recorded."""
    by_category: dict[str, OutcomeCounts] = {}
    total = OutcomeCounts("All needs")
    for need in needs:
        name = need.category or NOT_CATEGORISED
        by_category.setdefault(name, OutcomeCounts(name)).add(need, today)
        total.add(need, today)
    ordered = sorted(by_category.values(), key=lambda c: (c.category == NOT_CATEGORISED, c.category))
    return OutcomeSummary(ordered, total, cases_not_recorded)


def need_outcomes(cases: QuerySet[Case]) -> tuple[list[NeedOutcome], int]:
    """The needs of the closed ``cases``, and how many closed imported cases have no needs at all."""
    closed = cases.filter(status=Status.CLOSED, closed_at__isnull=False).order_by()
    rows = (
        Need.objects.filter(case__in=closed.values("pk"))
        .values_list("category__name", "outcome", "followup_outcome", "case__closed_at")
        .order_by("case_id", "pk")
    )
    needs = [NeedOutcome(category or "", outcome, later, local_date(closed_at))
             for category, outcome, later, closed_at in rows]
    without = closed.exclude(imported_ref="").exclude(needs__isnull=False).count()
    return needs, without


def outcomes_for(cases: QuerySet[Case], *, today: dt.date | None = None) -> OutcomeSummary:
    """``outcome_summary`` of the closed cases among ``cases``."""
    needs, without = need_outcomes(cases)
    return outcome_summary(needs, today=today or today_in_uk(), cases_not_recorded=without)
