"""A matched comparison group, so that savings are not just regression to the mean.

For each closed case, in order of opening (then case id), the comparison is the subject of the
same kind (household or person) that has never had a case, on it, its household or its people,
whose demand in the case's before window was nearest the case's: the smallest
|Δ cost| / max(case cost, £1) + |Δ contacts| / max(case contacts, 1), the lower id on a tie.
Each subject is used once. Its demand is then counted over the case's own after window (the same
dates, up to today), so the difference in differences is
(case after − case before) − (comparison after − comparison before).

Not scoped to a user: it returns subject ids. Pages, the API and analysts get ``aggregate`` only.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from django.db.models import Count

from onecase.cases.impact import (
    WINDOW_MONTHS,
    ZERO,
    case_dates,
    case_ref,
    case_windows,
    local_midnight,
    prices_for,
    today_in_uk,
)
from onecase.cases.models import Case
from onecase.contacts.models import Contact
from onecase.people.models import Person

METHOD = (
    "Each closed case is matched with one household (or person, for a person case) that has never had a "
    "case and whose contacts and their cost in the same months before the case opened were nearest the "
    "case's. Both are then counted over the months after the case closed. The difference in differences is "
    "the case's change less its match's change: what the case changed beyond what happened anyway."
)


def demand_in(kind: str, since: dt.date, until: dt.date, ids=None) -> dict[int, tuple[int, Decimal]]:
    """{household or person id: (contacts, cost)} on UK local dates ``[since, until)``."""
    key = f"{kind}_id"
    contacts = Contact.objects.filter(occurred_at__gte=local_midnight(since), occurred_at__lt=local_midnight(until),
                                      **{f"{key}__isnull": False})
    if ids is not None:
        contacts = contacts.filter(**{f"{key}__in": list(ids)})
    rows = list(contacts.order_by().values(key, "agency_id", "contact_type").annotate(n=Count("pk")).values_list(
        key, "agency_id", "contact_type", "n"))
    prices = prices_for((a, t) for _, a, t, _ in rows)
    found: dict[int, list] = defaultdict(lambda: [0, ZERO])
    for subject, agency_id, contact_type, n in rows:
        found[subject][0] += n
        price = prices.get((agency_id, contact_type))
        if price is not None:
            found[subject][1] += price.fiscal_gbp * n
    return {subject: (n, cost) for subject, (n, cost) in found.items()}


def subjects_with_cases(kind: str) -> set[int]:
    """Households (or people) that have had a case on them, on their household or on one of their people."""
    on_households = set(Case.objects.filter(household__isnull=False).values_list("household_id", flat=True))
    on_people = set(Case.objects.filter(person__isnull=False).values_list("person_id", flat=True))
    if kind == "household":
        return on_households | set(Person.objects.filter(pk__in=on_people, household__isnull=False)
                                   .values_list("household_id", flat=True))
    return on_people | set(Person.objects.filter(household_id__in=on_households).values_list("pk", flat=True))


def nearest(target: tuple[int, Decimal], candidates: dict[int, tuple[int, Decimal]], used: set[int]) -> int | None:
    """The candidate nearest ``target`` (contacts, cost), deterministically; None if none is left."""
    n, cost = target
    best = None
    for subject, (m, other) in candidates.items():
        if subject in used:
            continue
        score = abs(other - cost) / max(cost, Decimal(1)) + Decimal(abs(m - n)) / max(n, 1)
        if best is None or (score, subject) < best:
            best = (score, subject)
    return None if best is None else best[1]


def matched_comparison(cases: Sequence[Case], *, months: int = WINDOW_MONTHS, today: dt.date | None = None) -> dict:
    """Each closed case with its match: raw before/after for both and the difference in differences."""
    today = today or today_in_uk()
    excluded = {kind: subjects_with_cases(kind) for kind in ("household", "person")}
    used: dict[str, set[int]] = {"household": set(), "person": set()}
    pairs, left_out = [], []
    for case in sorted(cases, key=lambda c: (c.opened_at, c.pk)):
        opened_on, closed_on = case_dates(case)
        if closed_on is None:
            left_out.append({"case_ref": case_ref(case), "reason": "The case is still open."})
            continue
        kind = "household" if case.household_id else "person"
        subject = case.household_id or case.person_id
        windows = case_windows(opened_on, closed_on, months=months, today=today)
        before, after = windows["before"], windows["after"]
        pool = demand_in(kind, before.starts_on, before.counted_until)
        mine = pool.get(subject, (0, ZERO))
        candidates = {s: v for s, v in pool.items() if s not in excluded[kind]}
        match = nearest(mine, candidates, used[kind])
        if match is None:
            left_out.append({"case_ref": case_ref(case), "reason": "No subject without a case is left to match."})
            continue
        used[kind].add(match)
        later = demand_in(kind, after.starts_on, after.counted_until, ids=[subject, match])
        case_after, match_after = later.get(subject, (0, ZERO)), later.get(match, (0, ZERO))
        match_before = candidates[match]
        pairs.append({
            "case_id": case.pk, "case_ref": case_ref(case), "subject": kind, "comparison_id": match,
            "after_complete": after.complete,
            "case": _change(mine, case_after), "comparison": _change(match_before, match_after),
        })
        pairs[-1]["difference_in_differences"] = {
            key: pairs[-1]["case"]["change"][key] - pairs[-1]["comparison"]["change"][key]
            for key in ("contacts", "cost_gbp")
        }
    return {"method": METHOD, "months": months, "pairs": pairs, "left_out": left_out, **aggregate(pairs)}


def _change(before: tuple[int, Decimal], after: tuple[int, Decimal]) -> dict:
    return {
        "before": {"contacts": before[0], "cost_gbp": before[1]},
        "after": {"contacts": after[0], "cost_gbp": after[1]},
        "change": {"contacts": after[0] - before[0], "cost_gbp": after[1] - before[1]},
    }


def aggregate(pairs: Sequence[dict]) -> dict:
    """Cohort figures only (no subject ids): raw before/after for cases and matches, and the difference."""
    totals = {}
    for side in ("case", "comparison"):
        totals[side] = {
            when: {key: sum((p[side][when][key] for p in pairs), ZERO if key == "cost_gbp" else 0)
                   for key in ("contacts", "cost_gbp")}
            for when in ("before", "after", "change")
        }
    did = {key: totals["case"]["change"][key] - totals["comparison"]["change"][key] for key in ("contacts", "cost_gbp")}
    per_case = ({"contacts": round(did["contacts"] / len(pairs), 1),
                 "cost_gbp": (did["cost_gbp"] / len(pairs)).quantize(Decimal("0.01"))} if pairs else None)
    return {"matched": len(pairs), "cases_total": totals["case"], "comparison_total": totals["comparison"],
            "difference_in_differences": did, "difference_in_differences_per_case": per_case}
