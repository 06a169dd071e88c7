"""Linkage reads: the review queue, decisions and runs, and the records behind a person or
household with their linkage evidence, scoped to what the user may see.

A review item is shown only to a reviewer who may see both of its agency records, the
same rule the review services apply (onecase/linkage/rules.py). A person or household is
shown through the agency records the user may see, and not at all if there are none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from onecase.accounts.rules import is_staff_member, sees_whole_partnership
from onecase.audit.models import AuditEvent
from onecase.audit.services import audit_record
from onecase.linkage.evidence import records_evidence
from onecase.linkage.models import LinkDecision, LinkRun, ReviewItem
from onecase.linkage.rules import may_review_linkage
from onecase.people.models import AgencyPerson, Household, Person, PersonLink
from onecase.people.selectors import active_links_visible_to


def _both_visible(user, a: str = "agency_person_a", b: str = "agency_person_b") -> Q:
    return Q(**{f"{a}__agency_id": user.agency_id, f"{b}__agency_id": user.agency_id})


def review_queue_for(user) -> QuerySet[ReviewItem]:
    """Open review items ``user`` may decide, most probable first, with both agency records."""
    if not may_review_linkage(user):
        return ReviewItem.objects.none()
    items = ReviewItem.objects.filter(status=ReviewItem.Status.OPEN).select_related(
        "agency_person_a__agency", "agency_person_b__agency", "run"
    )
    if not sees_whole_partnership(user):
        items = items.filter(_both_visible(user))
    return items.order_by("-match_probability", "id")


def review_item_for(user, item_id: int) -> ReviewItem | None:
    """One review item (any status) if ``user`` may review it, else None."""
    if not may_review_linkage(user):
        return None
    items = ReviewItem.objects.select_related("agency_person_a__agency", "agency_person_b__agency", "run")
    if not sees_whole_partnership(user):
        items = items.filter(_both_visible(user))
    return items.filter(pk=item_id).first()


def decisions_for(user, *, agency_person_id: int | None = None) -> QuerySet[LinkDecision]:
    """Reviewers' decisions ``user`` may see (all their records visible), newest first, undone ones included."""
    if not may_review_linkage(user):
        return LinkDecision.objects.none()
    decisions = LinkDecision.objects.select_related("agency_person__agency", "other__agency", "decided_by", "undone_by")
    if agency_person_id is not None:
        decisions = decisions.filter(
            Q(agency_person_id=agency_person_id) | Q(other_id=agency_person_id)
            | Q(pairs__agency_person_a_id=agency_person_id) | Q(pairs__agency_person_b_id=agency_person_id)
        ).distinct()
    if not sees_whole_partnership(user):
        decisions = decisions.filter(agency_person__agency_id=user.agency_id).filter(
            Q(other__isnull=True) | Q(other__agency_id=user.agency_id)
        )
    return decisions.order_by("-decided_at", "-id")


def link_runs_for(user) -> QuerySet[LinkRun]:
    """Link runs (counts and parameters only) for partnership administrators."""
    if not sees_whole_partnership(user):
        return LinkRun.objects.none()
    return LinkRun.objects.order_by("-started_at", "-id")


def current_model() -> dict:
    """Parameters of the last finished run, or the untrained priors."""
    run = LinkRun.objects.filter(status=LinkRun.Status.FINISHED).exclude(model={}).order_by("-id").first()
    if run is not None:
        return run.model
    from onecase.linkage.engine import untrained_parameters

    return untrained_parameters(1000)


@dataclass
class RecordDetail:
    """One agency record behind a person, with why it is linked there."""

    agency_person: AgencyPerson
    link: PersonLink
    best_match: AgencyPerson | None = None
    match_probability: float | None = None
    match_weight: float | None = None
    evidence: list[dict] = field(default_factory=list)
    decisions: list = field(default_factory=list)
    review_items: list = field(default_factory=list)


@dataclass
class PersonDetail:
    person: Person
    records: list[RecordDetail]
    household: Household | None
    hidden_records: int = 0


@dataclass
class HouseholdDetail:
    household: Household
    members: list[PersonDetail]


def _records(user, person: Person, *, with_evidence: bool) -> tuple[list[RecordDetail], int]:
    links = list(active_links_visible_to(user).filter(person=person).order_by("agency_person__agency__code",
                                                                               "agency_person__person_ref"))
    total = PersonLink.objects.filter(person=person, undone_at__isnull=True).count()
    details = [RecordDetail(agency_person=link.agency_person, link=link) for link in links]
    if with_evidence and len(details) > 1:
        pairs = records_evidence([d.agency_person for d in details], current_model())
        by_id = {d.agency_person.pk: d for d in details}
        for (a, b), found in sorted(pairs.items()):
            for this, other in ((a, b), (b, a)):
                detail = by_id[this]
                if detail.match_probability is None or found["match_weight"] > detail.match_weight:
                    detail.best_match = by_id[other].agency_person
                    detail.match_probability = found["match_probability"]
                    detail.match_weight = found["match_weight"]
                    detail.evidence = found["evidence"]
    ids = [d.agency_person.pk for d in details]
    if ids:
        decisions = LinkDecision.objects.filter(pairs__agency_person_a_id__in=ids).distinct() | \
            LinkDecision.objects.filter(pairs__agency_person_b_id__in=ids).distinct()
        decisions = list(decisions.select_related("decided_by", "undone_by").prefetch_related("pairs"))
        items = list(ReviewItem.objects.filter(status=ReviewItem.Status.OPEN, agency_person_a_id__in=ids)
                     | ReviewItem.objects.filter(status=ReviewItem.Status.OPEN, agency_person_b_id__in=ids))
        for detail in details:
            pk = detail.agency_person.pk
            detail.decisions = sorted(
                {d for d in decisions for p in d.pairs.all() if pk in (p.agency_person_a_id, p.agency_person_b_id)},
                key=lambda d: (d.decided_at, d.pk), reverse=True,
            )
            detail.review_items = [i for i in items if pk in (i.agency_person_a_id, i.agency_person_b_id)]
    return details, total - len(details)


def person_detail_for(user, person_id: int) -> PersonDetail | None:
    """A person through the agency records ``user`` may see, each with its link and evidence; None if none."""
    person = Person.objects.select_related("household__address").filter(pk=person_id).first()
    if person is None or not is_staff_member(user):
        return None
    records, hidden = _records(user, person, with_evidence=True)
    if not records:
        return None
    return PersonDetail(person=person, records=records, household=person.household, hidden_records=hidden)


def household_detail_for(user, household_id: int) -> HouseholdDetail | None:
    """A household: its address and the people in it that ``user`` may see records of; None if none."""
    household = Household.objects.select_related("address").filter(pk=household_id).first()
    if household is None or not is_staff_member(user):
        return None
    members = []
    for person in household.members.order_by("id"):
        records, hidden = _records(user, person, with_evidence=False)
        if records:
            members.append(PersonDetail(person=person, records=records, household=household, hidden_records=hidden))
    if not members:
        return None
    return HouseholdDetail(household=household, members=members)


def review_viewed(user, object_type: str, object_id="", *, ip=None, **counts) -> None:
    """Record that a reviewer opened a linkage review page (ids and counts only)."""
    audit_record(user=user, action=AuditEvent.Action.VIEW, object_type=object_type, object_id=object_id,
                 purpose="linkage review", ip=ip, detail=counts)


def person_detail_read(user, person_id: int, *, ip=None) -> PersonDetail | None:
    """``person_detail_for``, recording the view when there is something to see."""
    detail = person_detail_for(user, person_id)
    if detail is not None:
        review_viewed(user, "person", person_id, ip=ip, records=len(detail.records))
    return detail


def household_detail_read(user, household_id: int, *, ip=None) -> HouseholdDetail | None:
    """``household_detail_for``, recording the view when there is something to see."""
    detail = household_detail_for(user, household_id)
    if detail is not None:
        review_viewed(user, "household", household_id, ip=ip, people=len(detail.members))
    return detail
