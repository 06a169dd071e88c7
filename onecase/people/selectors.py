"""Agency people, people and households, scoped to what the signed-in user may see.

Partnership administrators see every agency's records; everyone else sees their own
agency's records only, so a person or household is shown through the records the user
may see, and not at all if there are none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import QuerySet

from onecase.accounts.rules import is_staff_member, sees_whole_partnership
from onecase.people.models import AgencyPerson, Household, Person, PersonLink


def agency_people_visible_to(user) -> QuerySet[AgencyPerson]:
    """Agency people ``user`` may see: all for the partnership, otherwise their own agency's."""
    if not is_staff_member(user):
        return AgencyPerson.objects.none()
    if sees_whole_partnership(user):
        return AgencyPerson.objects.all()
    return AgencyPerson.objects.filter(agency_id=user.agency_id)


def active_links_visible_to(user) -> QuerySet[PersonLink]:
    """Current links of the agency people ``user`` may see."""
    return PersonLink.objects.filter(
        undone_at__isnull=True, agency_person__in=agency_people_visible_to(user)
    ).select_related("agency_person__agency", "address")


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
    from onecase.linkage.evidence import records_evidence
    from onecase.linkage.models import LinkDecision, ReviewItem
    from onecase.linkage.selectors import current_model

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
