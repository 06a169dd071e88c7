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
from django.db import transaction
from django.db.models import Count, Q
from django.http import Http404

from onecase.accounts.models import Agency
from onecase.audit.models import AuditEvent
from onecase.audit.services import audit_record, disclosure_record
from onecase.contacts.models import Contact, DemandClass
from onecase.contacts.rules import may_view_profiles
from onecase.costs.selectors import cost_by
from onecase.people.models import AgencyPerson, Household, Person, PersonLink
from onecase.sharing.models import DataCategory, Tier
from onecase.sharing.purposes import purposes_for
from onecase.sharing.rules import Disclosure, disclosures_for, identity_agency_ids, identity_raised_for
from onecase.sharing.selectors import (
    involved_agencies,
    known_households,
    known_people,
    people_holding_own_records,
    person_names,
)


@dataclass
class AgencyView:
    agency: Agency
    disclosure: Disclosure
    contacts: int = 0
    failures: int = 0
    cost: Decimal = Decimal("0.00")
    records: list = field(default_factory=list)  # AgencyPerson rows, identity at full tier only
    needs: Counter = field(default_factory=Counter)  # needs at summary tier and above
    identity_tier: Tier = Tier.SIGNPOST
    needs_tier: Tier = Tier.SIGNPOST

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


def subject_profile(user, *, kind: str, pk: int, chronology_limit: int = 500) -> Profile:
    """The profile of household or person ``pk`` as ``user`` may see it. Raises Http404/PermissionDenied.

    A subject the user may not identify answers exactly as one that does not exist. Another
    agency's involvement is shown at its tier when its records identify the person to the user,
    and otherwise only as a signpost about a person the user's own agency holds a record of.
    """
    if not may_view_profiles(user):
        raise PermissionDenied("Your role sees aggregate figures only.")
    if kind == "household":
        if not known_households(user, [pk]):
            raise Http404
        subject = Household.objects.select_related("address").get(pk=pk)
        members = list(Person.objects.filter(household_id=pk).values_list("pk", flat=True))
        contacts = Contact.objects.filter(household_id=pk)
    elif kind == "person":
        if not known_people(user, [pk]):
            raise Http404
        subject = Person.objects.get(pk=pk)
        members = [pk]
        contacts = Contact.objects.filter(person_id=pk)
    else:
        raise Http404
    person_ids = sorted(known_people(user, members))
    links = dict(
        PersonLink.objects.filter(person_id__in=members, undone_at__isnull=True).values_list(
            "agency_person_id", "person_id"
        )
    )
    records = list(links)
    held: dict[int, set[int]] = defaultdict(set)  # agency id → the subject's people it holds records of
    for record_id, agency_id in AgencyPerson.objects.filter(pk__in=records).values_list("pk", "agency_id"):
        held[agency_id].add(links[record_id])
    for agency_id, person_id in contacts.order_by().values_list("agency_id", "person_id").distinct():
        held[agency_id].add(person_id)
    signposted = people_holding_own_records(user, members)
    identifying = identity_agency_ids(user)
    raised_for = identity_raised_for(user)
    # Raised for every one of the subject's people (a case on the household, say): that agency identifies them.
    raised: frozenset[int] | None = None
    for member in members:
        more = raised_for.get(member, frozenset())
        raised = more if raised is None else (raised if more is None else raised & more)
    if not members:
        raised = frozenset()
    purposes = purposes_for(user, members)
    views = {}
    for agency in Agency.objects.filter(pk__in=held).order_by("name"):
        found = disclosures_for(user, agency.pk, person_id=pk if kind == "person" else None, purposes=purposes,
                                categories=(DataCategory.IDENTITY, DataCategory.CONTACTS, DataCategory.NEEDS))
        identity, shared = found[DataCategory.IDENTITY], found[DataCategory.CONTACTS]
        identifies = identifying is None or agency.pk in identifying or raised is None or agency.pk in raised
        if identifies and identity.tier >= Tier.SUMMARY:
            # What of its contacts the agreement shares; naming the person alone is no more than a signpost of them.
            views[agency.pk] = AgencyView(
                agency=agency, disclosure=shared if shared.tier >= Tier.SUMMARY else Disclosure(
                    Tier.SIGNPOST, identity.agreement, identity.basis, identity.purpose, identity.purpose_source),
                identity_tier=identity.tier, needs_tier=found[DataCategory.NEEDS].tier,
            )
        elif held[agency.pk] & signposted:
            views[agency.pk] = AgencyView(agency=agency, disclosure=Disclosure(Tier.SIGNPOST, basis="signpost"))
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
    with_needs = [k for k in counted if views[k].needs_tier >= Tier.SUMMARY]
    for agency_id, need in contacts.filter(agency_id__in=with_needs).values_list("agency_id", "need_category__name"):
        views[agency_id].needs[need or "Not yet categorised"] += 1

    full = [k for k, v in views.items() if v.tier >= Tier.FULL]
    named = [k for k, v in views.items() if v.identity_tier >= Tier.FULL]
    people = _people(user, person_ids)
    for record in AgencyPerson.objects.filter(pk__in=records, agency_id__in=named).select_related("agency"):
        views[record.agency_id].records.append(record)
    chronology = list(
        contacts.filter(agency_id__in=full).select_related("agency", "need_category").order_by("-occurred_at")[
            :chronology_limit
        ]
    )
    for contact in chronology:
        # The citizen's words are needs data: shown only where the agreement shares needs in full.
        contact.words_shared = views[contact.agency_id].needs_tier >= Tier.FULL
    return Profile(
        kind=kind,
        subject=subject,
        label=_label(kind, subject, people),
        agencies=list(views.values()),
        people=people,
        chronology=chronology,
    )


def profile_read(user, *, kind: str, pk: int, ip=None, purpose: str = "", search: bool = False) -> Profile:
    """``subject_profile``, recording the view (or the search before opening a case) and, in the
    same transaction, each disclosure of another agency's records about each person shown."""
    profile = subject_profile(user, kind=kind, pk=pk)
    purpose = purpose or f"{kind} profile"
    with transaction.atomic():
        audit_record(user=user, action=AuditEvent.Action.SEARCH if search else AuditEvent.Action.VIEW,
                     object_type=kind, object_id=pk, ip=ip, purpose=purpose,
                     detail={"agencies": len(profile.agencies)})
        for view in profile.agencies:
            if view.agency.pk == user.agency_id:
                continue
            for person in profile.people:
                disclosure_record(user=user, person_id=person["id"], owner_agency_id=view.agency.pk,
                                  disclosure=view.disclosure, purpose=purpose, ip=ip)
    return profile


def _people(user, person_ids: list[int]) -> list[dict]:
    """Each person the user may identify, by their best name, with the agencies they may see involved."""
    names = person_names(user, person_ids)
    agencies = involved_agencies(user, person_ids)
    return [
        {
            "id": person_id,
            "name": names.get(person_id, "Name not recorded"),
            "agencies": [a.name for a in agencies.get(person_id, [])],
        }
        for person_id in person_ids
    ]


def _label(kind: str, subject, people: list[dict]) -> str:
    if kind == "household":
        return subject.address.label
    return people[0]["name"] if people else "Name not recorded"
