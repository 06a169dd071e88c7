"""Household and person profiles: the whole of their demand, disclosed agency by agency.

For each agency holding records, the user sees what ``sharing.rules.disclosure_for`` allows:
full (the records and the chronology), summary (counts, cost, needs and flags) or signpost
(that the agency is involved, and how to contact it). Analysts and auditors see none of it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import Http404

from onecase.accounts.models import Agency
from onecase.accounts.rules import NO_PERSON_ACCESS, is_staff_member
from onecase.contacts.models import Contact, DemandClass
from onecase.costs.selectors import cost_by
from onecase.people.models import AgencyPerson, Household, Person, PersonLink
from onecase.sharing.models import Tier
from onecase.sharing.rules import Disclosure, disclosure_for


@dataclass
class AgencyView:
    agency: Agency
    disclosure: Disclosure
    contacts: int = 0
    failures: int = 0
    cost: Decimal = Decimal("0.00")
    records: list = field(default_factory=list)  # AgencyPerson rows, full tier only
    needs: Counter = field(default_factory=Counter)  # summary tier and above

    @property
    def tier(self) -> Tier:
        return self.disclosure.tier


@dataclass
class Profile:
    kind: str  # "household" or "person"
    subject: Household | Person
    label: str
    agencies: list[AgencyView]
    people: list[dict]
    chronology: list[Contact]
    hidden_agencies: int

    @property
    def has_records(self) -> bool:
        return any(a.records for a in self.agencies)

    @property
    def contacts_total(self) -> int:
        return sum(a.contacts for a in self.agencies if a.tier >= Tier.SUMMARY)

    @property
    def cost_total(self) -> Decimal:
        return sum((a.cost for a in self.agencies if a.tier >= Tier.SUMMARY), Decimal("0.00"))

    @property
    def failure_share(self) -> float:
        counted = [a for a in self.agencies if a.tier >= Tier.SUMMARY]
        total = sum(a.contacts for a in counted)
        return round(sum(a.failures for a in counted) / total, 4) if total else 0.0

    @property
    def needs(self) -> list[tuple[str, int]]:
        total: Counter = Counter()
        for view in self.agencies:
            if view.tier >= Tier.SUMMARY:
                total.update(view.needs)
        return total.most_common()


def may_view_profiles(user) -> bool:
    return is_staff_member(user) and user.role not in NO_PERSON_ACCESS


def subject_profile(user, *, kind: str, pk: int, chronology_limit: int = 500) -> Profile:
    """The profile of household or person ``pk`` as ``user`` may see it. Raises Http404/PermissionDenied."""
    if not may_view_profiles(user):
        raise PermissionDenied("Your role sees aggregate figures only.")
    if kind == "household":
        subject = Household.objects.select_related("address").filter(pk=pk).first()
        person_ids = list(Person.objects.filter(household_id=pk).values_list("pk", flat=True)) if subject else []
        contacts = Contact.objects.filter(household_id=pk)
    elif kind == "person":
        subject = Person.objects.filter(pk=pk).first()
        person_ids = [pk]
        contacts = Contact.objects.filter(person_id=pk)
    else:
        raise Http404
    if subject is None:
        raise Http404
    links = dict(
        PersonLink.objects.filter(person_id__in=person_ids, undone_at__isnull=True).values_list(
            "agency_person_id", "person_id"
        )
    )
    records = list(links)
    agency_ids = set(contacts.values_list("agency_id", flat=True).distinct()) | set(
        AgencyPerson.objects.filter(pk__in=records).values_list("agency_id", flat=True)
    )
    views = {
        a.pk: AgencyView(agency=a, disclosure=disclosure_for(user, a.pk, person_id=pk if kind == "person" else None))
        for a in Agency.objects.filter(pk__in=agency_ids).order_by("name")
    }
    views = {k: v for k, v in views.items() if v.tier >= Tier.SIGNPOST}
    counted = [k for k, v in views.items() if v.tier >= Tier.SUMMARY]
    for row in (
        contacts.filter(agency_id__in=counted)
        .order_by()
        .values("agency_id")
        .annotate(n=Count("pk"), failures=Count("pk", filter=Q(demand_class=DemandClass.FAILURE)))
    ):
        views[row["agency_id"]].contacts = row["n"]
        views[row["agency_id"]].failures = row["failures"]
    for agency_id, cost in cost_by(contacts.filter(agency_id__in=counted), "agency_id").items():
        views[agency_id].cost = cost
    for agency_id, need in contacts.filter(agency_id__in=counted).values_list("agency_id", "need_category__name"):
        views[agency_id].needs[need or "Not yet categorised"] += 1

    full = [k for k, v in views.items() if v.tier >= Tier.FULL]
    people = _people(person_ids, links, views)
    for record in AgencyPerson.objects.filter(pk__in=records, agency_id__in=full).select_related("agency"):
        views[record.agency_id].records.append(record)
    chronology = list(
        contacts.filter(agency_id__in=full).select_related("agency", "need_category").order_by("-occurred_at")[
            :chronology_limit
        ]
    )
    hidden = len(agency_ids) - len(views)
    return Profile(
        kind=kind,
        subject=subject,
        label=_label(kind, subject, people),
        agencies=list(views.values()),
        people=people,
        chronology=chronology,
        hidden_agencies=hidden,
    )


def _people(person_ids: list[int], links: dict[int, int], views: dict[int, AgencyView]) -> list[dict]:
    """Each person, named by their newest record at an agency the user may see, and its agencies."""
    by_person: dict[int, list[AgencyPerson]] = defaultdict(list)
    visible = AgencyPerson.objects.filter(pk__in=list(links), agency_id__in=list(views)).select_related("agency")
    for record in visible.order_by("-identity_as_of", "pk"):
        by_person[links[record.pk]].append(record)
    people = []
    for person_id in person_ids:
        known = by_person.get(person_id, [])
        named = next((r for r in known if r.family_name or r.given_name), None)
        people.append(
            {
                "id": person_id,
                "name": f"{named.given_name} {named.family_name}".strip() if named else f"Person {person_id}",
                "agencies": sorted({r.agency.code for r in known}),
            }
        )
    return people


def _label(kind: str, subject, people: list[dict]) -> str:
    if kind == "household":
        return subject.address.label
    return people[0]["name"] if people else f"Person {subject.pk}"
