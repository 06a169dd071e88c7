"""Partnership-level counts and reports. Aggregates only, except a cohort's cases one by one, which follow
the sharing tiers (``cases.selectors.case_impact_read``)."""

import datetime as dt
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, QuerySet

from onecase.accounts.models import Agency, Role
from onecase.accounts.rules import is_staff_member, sees_people, sees_whole_partnership
from onecase.audit.models import AuditEvent
from onecase.audit.services import audit_record
from onecase.cases.impact import WINDOW_MONTHS, case_impact, cohort_totals, jsonable, today_in_uk
from onecase.cases.rules import sections_visible
from onecase.cases.selectors import case_impact_for, case_impact_read, cases_visible_to
from onecase.contacts.models import Contact
from onecase.people.models import AgencyPerson, Household, Person, PersonLink
from onecase.reports.cba import CbaInputs, evaluate
from onecase.reports.comparison import matched_comparison
from onecase.reports.impact_reports import Cohort, group_rows, savings_inputs
from onecase.reports.rules import MIN_COHORT_CASES, cohort_withheld, may_see_cohort_impact


def partnership_totals() -> dict[str, int]:
    """Whole-partnership totals, for operators at the command line.

    People are those with at least one active link: a person emptied by a reviewer's
    decision (their records merged into another, or split out) is kept but not counted.
    """
    active = PersonLink.objects.filter(person=OuterRef("pk"), undone_at__isnull=True)
    return {
        "agencies": Agency.objects.count(),
        "source_people": AgencyPerson.objects.count(),
        "contacts": Contact.objects.count(),
        "people": Person.objects.filter(Exists(active)).count(),
        "households": Household.objects.count(),
    }


def aggregate_agencies_for(user) -> QuerySet[Agency]:
    """Agencies whose figures ``user`` may see in aggregate: all for the partnership and analysts."""
    if not is_staff_member(user):
        return Agency.objects.none()
    if sees_whole_partnership(user) or user.role == Role.ANALYST:
        return Agency.objects.all()
    return Agency.objects.filter(pk=user.agency_id)


def agency_counts_for(user) -> list[dict]:
    """One row per agency ``user`` may count: code, name, sector, contacts and agency people."""
    agencies = list(aggregate_agencies_for(user).order_by("name"))
    ids = [a.pk for a in agencies]
    contacts = dict(
        Contact.objects.filter(agency_id__in=ids).values_list("agency_id").annotate(n=Count("id")).order_by()
    )
    people = dict(
        AgencyPerson.objects.filter(agency_id__in=ids).values_list("agency_id").annotate(n=Count("id")).order_by()
    )
    return [
        {"agency": agency, "contacts": contacts.get(agency.pk, 0), "source_people": people.get(agency.pk, 0)}
        for agency in agencies
    ]


# Impact and savings of a cohort of cases ------------------------------------------------------------


@dataclass
class CohortImpact:
    """A cohort's figures as one viewer may see them: ``cases`` (one by one) only those the sharing
    tiers let them see; ``totals``, ``groups`` and ``comparison`` aggregates (None / empty when withheld)."""

    cohort: Cohort
    months: int
    today: dt.date
    by: str
    case_count: int
    cases: list[dict] = field(default_factory=list)
    totals: dict | None = None
    groups: list[dict] = field(default_factory=list)
    comparison: dict | None = None
    withheld: str = ""

    @property
    def aggregate_only(self) -> bool:
        return not self.cases

    def as_json(self) -> dict:
        """The shape ``onecase impact --json`` and ``/api/v1/impact`` print (JSON types)."""
        return jsonable({
            "cohort": self.cohort.describe(), "months": self.months, "today": self.today,
            "cases": [{k: v for k, v in c.items() if k != "case_id"} for c in self.cases],
            "totals": self.totals, "comparison": self.comparison, "withheld": self.withheld or None,
        })


def _withheld_words() -> str:
    return (f"Fewer than {MIN_COHORT_CASES} cases: the figures would be one family's, so they are not shown. "
            "Choose a wider cohort.")


def _comparison_aggregate(found: dict) -> dict:
    return {k: v for k, v in found.items() if k not in ("pairs", "left_out")} | {"left_out": len(found["left_out"])}


def impact_cohort_for(user, cohort: Cohort, *, months: int = WINDOW_MONTHS, today: dt.date | None = None,
                      by: str = "period", comparison: bool = True, one_by_one: bool = True, ip=None,
                      api: bool = False, export: bool = False, record: bool = False) -> CohortImpact:
    """A cohort's before, during and after figures. ``user`` None is an operator at the command line,
    who sees every case. Otherwise cohort aggregates need ``may_see_cohort_impact``; the cases one by
    one (unless ``one_by_one`` is false, for pages of aggregates) are those the user may see, each
    through ``case_impact_read`` when ``record``."""
    today = today or today_in_uk()
    cases = list(cohort.cases())
    aggregates = may_see_cohort_impact(user)
    report = CohortImpact(cohort=cohort, months=months, today=today, by=by, case_count=len(cases))
    if user is None:
        visible = cases
    elif sees_people(user):
        ids = set(cases_visible_to(user).filter(pk__in=[c.pk for c in cases]).values_list("pk", flat=True))
        visible = [c for c in cases if c.pk in ids and sections_visible(user, c)]
    else:
        visible = []
    if not aggregates and not visible:
        raise PermissionDenied("Only the partnership and analysts see cohort figures.")
    raw = {c.pk: case_impact(c, months=months, today=today) for c in (cases if aggregates else visible)}
    for case in visible if one_by_one or not aggregates else []:
        if user is None:
            report.cases.append(raw[case.pk])
        elif record:
            report.cases.append(case_impact_read(user, case, months=months, today=today, ip=ip, api=api,
                                                 export=export).figures)
        else:
            report.cases.append(case_impact_for(user, case, months=months, today=today).figures)
    counted = cases if aggregates else visible
    if cohort_withheld(user, len(counted), len(visible)):
        report.withheld = _withheld_words()
        return report
    pairs = [(c, raw[c.pk]) for c in counted]
    report.totals = cohort_totals([impact for _, impact in pairs] if aggregates else report.cases)
    report.groups = group_rows(pairs, by)
    if user is not None and len(visible) < len(counted):
        for row in report.groups:
            if row["cases"] < MIN_COHORT_CASES:
                row.update({k: None for k in row if k not in ("label", "cases")}, withheld=True)
    if comparison:
        report.comparison = _comparison_aggregate(matched_comparison(counted, months=months, today=today))
    return report


def impact_cohort_read(user, cohort: Cohort, *, months: int = WINDOW_MONTHS, today: dt.date | None = None,
                       by: str = "period", one_by_one: bool = True, ip=None, api: bool = False,
                       export: bool = False) -> CohortImpact:
    """``impact_cohort_for``, recording the read (counts only), and each case shown one by one with its
    disclosures (``case_impact_read``)."""
    with transaction.atomic():
        report = impact_cohort_for(user, cohort, months=months, today=today, by=by, one_by_one=one_by_one, ip=ip,
                                   api=api, export=export, record=True)
        audit_record(user=user, action=AuditEvent.Action.EXPORT if export else AuditEvent.Action.VIEW,
                     object_type="impact", purpose="cohort impact", ip=ip,
                     detail={"cases": report.case_count, "cases_shown": len(report.cases), "months": months,
                             "api": api, "withheld": bool(report.withheld)})
    return report


@dataclass
class SavingsReport:
    """The savings report of a cohort: the inputs (every one printed), the CBA figures, and the raw
    before and after with the matched comparison."""

    cohort: Cohort
    months: int
    today: dt.date
    case_count: int
    changes: dict
    inputs: CbaInputs | None = None
    used: dict = field(default_factory=dict)
    result: dict | None = None
    comparison: dict | None = None
    withheld: str = ""

    def as_json(self) -> dict:
        return jsonable({
            "cohort": self.cohort.describe(), "months": self.months, "today": self.today,
            "cases": self.case_count, "withheld": self.withheld or None, **self.used,
            "inputs": [{"input": what, "value": value} for what, value in (self.result or {}).get("inputs", [])],
            **{k: v for k, v in (self.result or {}).items() if k != "inputs"},
            "comparison": self.comparison,
        })


def savings_for(user, cohort: Cohort, *, months: int = WINDOW_MONTHS, today: dt.date | None = None,
                changes: dict | None = None) -> SavingsReport:
    """The HM Treasury / GMCA cost-benefit figures for a cohort (aggregates only)."""
    if not may_see_cohort_impact(user):
        raise PermissionDenied("Only the partnership and analysts see savings reports.")
    today = today or today_in_uk()
    cases = list(cohort.cases())
    report = SavingsReport(cohort=cohort, months=months, today=today, case_count=len(cases), changes=changes or {})
    if cohort_withheld(user, len(cases), len(cases) if user is not None and sees_whole_partnership(user) else 0):
        report.withheld = _withheld_words()
        return report
    pairs = [(c, case_impact(c, months=months, today=today)) for c in cases]
    report.inputs, report.used = savings_inputs(pairs, months, report.changes)
    report.result = evaluate(report.inputs)
    report.comparison = _comparison_aggregate(matched_comparison(cases, months=months, today=today))
    return report


def savings_read(user, cohort: Cohort, *, months: int = WINDOW_MONTHS, today: dt.date | None = None,
                 changes: dict | None = None, ip=None, api: bool = False, export: bool = False) -> SavingsReport:
    """``savings_for``, recording the read (counts only)."""
    report = savings_for(user, cohort, months=months, today=today, changes=changes)
    audit_record(user=user, action=AuditEvent.Action.EXPORT if export else AuditEvent.Action.VIEW,
                 object_type="savings", purpose="cohort savings", ip=ip,
                 detail={"cases": report.case_count, "months": months, "api": api,
                         "inputs_changed": len(report.changes)})
    return report
