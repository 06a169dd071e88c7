"""Household and person profiles: the whole of their demand, disclosed agency by agency.

For each agency holding records, the user sees what ``sharing.rules.disclosure_for`` allows:
full (the records and the chronology), summary (counts, cost, needs and flags) or signpost
(that the agency is involved, and how to contact it). Analysts and auditors see none of it.
The chronology is filtered (person, agency, contact type, dates) and paged in the database.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from onecase.accounts.models import Agency
from onecase.audit.models import AuditEvent
from onecase.audit.services import audit_record, disclosures_record
from onecase.contacts.labels import contact_type_label
from onecase.contacts.models import Contact, DemandClass
from onecase.contacts.rules import may_view_profiles
from onecase.costs.selectors import cost_by
from onecase.people.models import AgencyPerson, Household, Person, PersonLink
from onecase.sharing.models import DataCategory, Tier
from onecase.sharing.purposes import purposes_for
from onecase.sharing.rules import Disclosure, disclosures_for, identity_agency_ids, identity_raised_for
from onecase.sharing.selectors import (
    identity_remembered,
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


CHRONOLOGY_PAGE = 50  # contacts a page, newest first
EXPORT_LIMIT = 20_000  # contacts a download: more than any household holds
ANOTHER_MEMBER = "Another member of the household"


@dataclass(frozen=True)
class ChronologyFilter:
    """Which of the subject's contacts the chronology shows: all of them by default."""

    person_id: int | None = None
    agency_id: int | None = None
    contact_type: str = ""
    since: dt.date | None = None  # inclusive UK dates
    until: dt.date | None = None

    @property
    def active(self) -> bool:
        return any((self.person_id, self.agency_id, self.contact_type, self.since, self.until))


@dataclass
class ChronologyOptions:
    """What the chronology may be filtered by: (value, label) pairs."""

    people: list[tuple[int, str]] = field(default_factory=list)
    agencies: list[tuple[int, str]] = field(default_factory=list)
    contact_types: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Profile:
    kind: str  # "household" or "person"
    subject: Household | Person
    label: str
    agencies: list[AgencyView]
    people: list[dict]
    chronology: list[Contact]  # the rows shown (one page, or the whole download), each with .who and .words_shared
    chronology_page: Page | None = None  # None for a download
    chronology_total: int = 0  # contacts matching the filters
    chronology_available: int = 0  # contacts of agencies seen in full, before filtering
    chronology_options: ChronologyOptions = field(default_factory=ChronologyOptions)
    chronology_filter: ChronologyFilter = field(default_factory=ChronologyFilter)

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


def subject_profile(user, *, kind: str, pk: int, filters: ChronologyFilter | None = None, page=1,
                    export: bool = False, chronology: bool = True) -> Profile:
    """The profile of household or person ``pk`` as ``user`` may see it. Raises Http404/PermissionDenied.

    A subject the user may not identify answers exactly as one that does not exist. Another
    agency's involvement is shown at its tier when its records identify the person to the user,
    and otherwise only as a signpost about a person the user's own agency holds a record of.
    The chronology holds the contacts of agencies seen in full that match ``filters``, newest
    first: page ``page`` of them, every one for an ``export``, none without ``chronology``.
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
    for row in (contacts.filter(agency_id__in=with_needs).order_by().values("agency_id", "need_category__name")
                .annotate(n=Count("pk"))):
        views[row["agency_id"]].needs[row["need_category__name"] or "Not yet categorised"] += row["n"]

    full = [k for k, v in views.items() if v.tier >= Tier.FULL]
    named = [k for k, v in views.items() if v.identity_tier >= Tier.FULL]
    people = _people(user, person_ids)
    for record in (AgencyPerson.objects.filter(pk__in=records, agency_id__in=named).select_related("agency")
                   .prefetch_related("links")):  # each record's match and method, shown with it
        views[record.agency_id].records.append(record)
    profile = Profile(
        kind=kind,
        subject=subject,
        label=_label(kind, subject, people),
        agencies=list(views.values()),
        people=people,
        chronology=[],
        chronology_filter=filters or ChronologyFilter(),
    )
    if chronology:
        _chronology(profile, contacts.filter(agency_id__in=full), views, page=page, export=export)
    return profile


def _chronology(profile: Profile, seen: QuerySet[Contact], views: dict[int, AgencyView], *, page, export: bool):
    """Fill in the profile's chronology from ``seen`` (the subject's contacts at agencies seen in
    full): the filter choices, the count, and the rows of one page (or all, for an export)."""
    options = profile.chronology_options
    names = {p["id"]: p["name"] for p in profile.people}
    if profile.kind == "household":
        members = set(seen.order_by().values_list("person_id", flat=True).distinct())
        options.people = [(p["id"], p["name"]) for p in profile.people if p["id"] in members]
    options.agencies = [(v.agency.pk, v.agency.name) for v in profile.agencies if v.tier >= Tier.FULL]
    options.contact_types = [(t, contact_type_label(t)) for t in
                             seen.order_by("contact_type").values_list("contact_type", flat=True).distinct()]
    profile.chronology_available = seen.count()
    rows = _filtered(seen, profile.chronology_filter, known=set(names), agencies={a for a, _ in options.agencies})
    rows = rows.select_related("agency", "need_category").order_by("-occurred_at", "-pk")
    if export:
        profile.chronology = list(rows[:EXPORT_LIMIT])
        profile.chronology_total = len(profile.chronology)
    else:
        profile.chronology_page = Paginator(rows, CHRONOLOGY_PAGE).get_page(page)
        profile.chronology = list(profile.chronology_page.object_list)
        profile.chronology_total = profile.chronology_page.paginator.count
    for contact in profile.chronology:
        # The citizen's words are needs data: shown only where the agreement shares needs in full.
        contact.words_shared = views[contact.agency_id].needs_tier >= Tier.FULL
        contact.type_label = contact_type_label(contact.contact_type)
        # Never an id: someone the user may not identify is described, not named.
        contact.who = names.get(contact.person_id) or (
            ANOTHER_MEMBER if contact.person_id and profile.kind == "household" else "Name not recorded")


def _filtered(contacts: QuerySet[Contact], filters: ChronologyFilter, *, known: set[int], agencies: set[int]
              ) -> QuerySet[Contact]:
    """``contacts`` narrowed by ``filters``; a person the user may not identify, or an agency they do
    not see in full, matches nothing."""
    if filters.person_id is not None:
        contacts = contacts.filter(person_id=filters.person_id) if filters.person_id in known else contacts.none()
    if filters.agency_id is not None:
        contacts = contacts.filter(agency_id=filters.agency_id) if filters.agency_id in agencies else contacts.none()
    if filters.contact_type:
        contacts = contacts.filter(contact_type=filters.contact_type)
    if filters.since:
        contacts = contacts.filter(occurred_at__gte=_start_of(filters.since))
    if filters.until:
        contacts = contacts.filter(occurred_at__lt=_start_of(filters.until + dt.timedelta(days=1)))
    return contacts


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time()))


@identity_remembered()
def profile_read(user, *, kind: str, pk: int, ip=None, purpose: str = "", search: bool = False,
                 filters: ChronologyFilter | None = None, page=1, export: bool = False) -> Profile:
    """``subject_profile``, recording the view (the search before opening a case, which shows no
    chronology; or, with ``export``, the download of the filtered chronology) and, in the same
    transaction, each disclosure of another agency's records about each person shown.

    A page shows every agency's figures about each person the user may identify, and its
    chronology rows, which may be about another member of the household: both are recorded. A
    download holds only the rows, so only the people and agencies of its rows are recorded.
    """
    profile = subject_profile(user, kind=kind, pk=pk, filters=filters, page=page, export=export,
                              chronology=not search)
    purpose = purpose or (f"{kind} chronology" if export else f"{kind} profile")
    views = {view.agency.pk: view for view in profile.agencies}
    rows = {(c.person_id, c.agency_id) for c in profile.chronology if c.agency_id != user.agency_id}
    shown = set() if export else {(person["id"], agency_id) for person in profile.people for agency_id in views
                                  if agency_id != user.agency_id}
    shown |= rows
    detail = {"agencies": len(profile.agencies)}
    if profile.chronology_page is not None or export:
        detail.update(contacts=len(profile.chronology), matching=profile.chronology_total,
                      filtered=profile.chronology_filter.active)
    if profile.chronology_page is not None:
        detail["page"] = profile.chronology_page.number
    action = AuditEvent.Action.EXPORT if export else AuditEvent.Action.SEARCH if search else AuditEvent.Action.VIEW
    with transaction.atomic():
        audit_record(user=user, action=action, object_type=kind, object_id=pk, ip=ip, purpose=purpose, detail=detail)
        disclosures_record(user=user, purpose=purpose, ip=ip, disclosures=[
            # A contact linked to the household alone (no person) is recorded against the household.
            ("person", person_id, agency_id, views[agency_id].disclosure) if person_id is not None
            else (kind, profile.subject.pk, agency_id, views[agency_id].disclosure)
            for person_id, agency_id in sorted(shown, key=lambda pair: (pair[0] is None, pair[0] or 0, pair[1]))
        ])
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
