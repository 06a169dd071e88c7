"""Case reads, scoped to the user: lists, the dashboard, the API and exports start here."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from onecase.accounts.models import Agency, Role, User
from onecase.accounts.rules import is_staff_member, sees_people, sees_whole_partnership
from onecase.audit.services import disclosures_record
from onecase.cases.models import LIVE_STATUSES, Action, Case, CaseEvent, Grant, Section
from onecase.cases.rules import (
    CASE_HOLDING_ROLES,
    CASE_WORKING_ROLES,
    grants_in_force_q,
    is_case_team,
    may_manage_case,
    may_open_case_on,
    may_open_cases,
    purposes_on_case,
    sections_visible,
)
from onecase.contacts.labels import contact_type_label
from onecase.contacts.models import Contact
from onecase.costs.selectors import cost_by
from onecase.people.models import Household, Person
from onecase.people.selectors import household_members
from onecase.sharing.models import AuditEvent, DataCategory, Purpose, Tier
from onecase.sharing.rules import Disclosure, disclosure_for, disclosures_for
from onecase.sharing.selectors import (
    identity_remembered,
    known_households,
    known_people,
    people_holding_own_records,
    person_names,
)
from onecase.sharing.services import audit_record, disclosure_record

EXPIRING_DAYS = 7


def drift_days() -> int:
    return int(getattr(settings, "ONECASE_CASE_DRIFT_DAYS", 28))


def cases_visible_to(user) -> QuerySet[Case]:
    """Cases the user may open: their own, their agency's (case roles), and those they are pulled into."""
    cases = Case.objects.select_related("key_worker", "agency", "household__address", "person")
    if not sees_people(user):
        return cases.none()
    if sees_whole_partnership(user):
        return cases
    scope = Q(key_worker=user)
    if user.role in CASE_WORKING_ROLES and user.agency_id:
        scope |= Q(agency_id=user.agency_id)
    pulled_in = Grant.objects.filter(grants_in_force_q(), case=OuterRef("pk"), invitee=user)
    return cases.filter(scope | Q(Exists(pulled_in)))


def case_subject_for(user, *, household_id: int | None = None, person_id: int | None = None) -> Household | Person:
    """The household or person ``user`` may open a case on. 403 for a role that opens no cases; a
    subject they may not identify answers 404, exactly as one that does not exist."""
    if not may_open_cases(user):
        raise PermissionDenied("Your role does not open cases.")
    subject = None
    if may_open_case_on(user, household_id=household_id, person_id=person_id):
        if household_id is not None:
            subject = Household.objects.filter(pk=household_id).first()
        elif person_id is not None:
            subject = Person.objects.filter(pk=person_id).first()
    if subject is None:
        raise Http404("No such household or person.")
    return subject


def _active_staff(roles) -> QuerySet[User]:
    return User.objects.filter(is_active=True, role__in=roles, agency__isnull=False).select_related("agency")


def case_holders_for(user) -> QuerySet[User]:
    """Staff ``user`` may make key worker of a new case (``may_open_case_for``): themselves, or
    (administrators) their agency's case holders, or (the partnership) anyone's."""
    if not may_open_cases(user):
        return User.objects.none()
    holders = _active_staff(CASE_HOLDING_ROLES)
    if sees_whole_partnership(user):
        return holders.order_by("agency__code", "username")
    if user.role == Role.AGENCY_ADMIN:
        return holders.filter(agency_id=user.agency_id).order_by("username")
    return holders.filter(pk=user.pk)


def new_key_workers_for(user, case: Case) -> QuerySet[User]:
    """Staff ``user`` may transfer ``case`` to: any active case holder but its key worker, for
    someone who may manage the case; nobody for anyone else."""
    if not may_manage_case(user, case):
        return User.objects.none()
    return _active_staff(CASE_HOLDING_ROLES).exclude(pk=case.key_worker_id).order_by("agency__code", "username")


def grant_invitees_for(user, case: Case) -> QuerySet[User]:
    """Staff ``user`` may pull into ``case``: anyone active in a case role but its key worker, for
    someone who may manage the case; nobody for anyone else."""
    if not may_manage_case(user, case):
        return User.objects.none()
    return _active_staff(CASE_WORKING_ROLES).exclude(pk=case.key_worker_id).order_by("agency__code", "username")


def action_owners_for(user, case: Case) -> QuerySet[User]:
    """Staff who may own an action on ``case`` (the key worker, the key worker's agency's case
    workers and those pulled in by a grant in force), for a ``user`` who may see the case."""
    if not sections_visible(user, case):
        return User.objects.none()
    pulled = case.grants.filter(grants_in_force_q()).values_list("invitee_id", flat=True)
    return (
        User.objects.filter(is_active=True, agency__isnull=False)
        .filter(Q(pk=case.key_worker_id) | Q(agency_id=case.agency_id, role__in=CASE_WORKING_ROLES)
                | Q(pk__in=pulled))
        .select_related("agency")
        .order_by("agency__code", "username")
    )


def cases_search(user, *, ip=None, api: bool = False, limit: int = 500) -> list[Case]:
    """The newest cases the user may see, recording the search."""
    cases = list(cases_visible_to(user).order_by("-opened_at", "-pk")[:limit])
    audit_record(user=user, action=AuditEvent.Action.SEARCH, object_type="case", ip=ip,
                 detail={"rows": len(cases), "api": api})
    return cases


def case_read(user, pk: int, *, ip=None, api: bool = False) -> Case:
    """``case_for``, recording the view."""
    case = case_for(user, pk)
    audit_record(user=user, action=AuditEvent.Action.VIEW, object_type="case", object_id=pk, ip=ip,
                 detail={"api": api})
    return case


def case_for(user, pk: int) -> Case:
    """The case, if ``user`` may see it; otherwise 404 (whether or not it exists)."""
    case = cases_visible_to(user).filter(pk=pk).first()
    if case is None:
        raise Http404("No such case.")
    return case


def grant_for(user, case: Case, grant_pk: int) -> Grant:
    """A grant on a case the user may see: the case team sees every grant; an invitee only their own."""
    grant = case.grants.select_related("invitee", "agency", "case").filter(pk=grant_pk).first()
    if grant is None or not (is_case_team(user, case) or grant.invitee_id == user.pk):
        raise Http404("No such pull-in.")
    return grant


def invitation_for(user, case_pk: int, grant_pk: int) -> Grant:
    """An invitation the user may answer (before accepting they cannot see the case itself)."""
    grant = invitations_for(user).filter(pk=grant_pk, case_id=case_pk).first()
    if grant is None:
        raise Http404("No such invitation.")
    return grant


def invitations_for(user) -> QuerySet[Grant]:
    """Invitations waiting for the user's answer (to them, or to any case worker of their agency)."""
    if not is_staff_member(user) or user.role not in CASE_WORKING_ROLES:
        return Grant.objects.none()
    today = timezone.localdate()
    return (
        Grant.objects.filter(state=Grant.State.INVITED, ends_on__gte=today, case__status__in=LIVE_STATUSES)
        .filter(Q(invitee=user) | Q(invitee__isnull=True, agency_id=user.agency_id))
        .select_related("case", "case__key_worker", "agency")
    )


@dataclass
class Entry:
    """One line of the chronology: a contact at an agency, or an event on the case."""

    at: dt.datetime
    source: str  # "contact" or "case"
    agency: str
    title: str
    detail: str = ""
    who: str = ""
    person_id: int | None = None  # a contact: the person it is about
    agency_id: int | None = None  # a contact: the agency holding it
    shared_under: str = ""  # another agency's contact: the agreement and purpose relied on


@dataclass
class Chronology:
    entries: list[Entry]
    disclosures: dict[int, Disclosure] = field(default_factory=dict)
    withheld_agencies: int = 0


def subject_contacts(case: Case) -> QuerySet[Contact]:
    if case.household_id:
        return Contact.objects.filter(household_id=case.household_id)
    return Contact.objects.filter(person_id=case.person_id)


def chronology_for(user, case: Case, *, limit: int = 300) -> Chronology:
    """The subject's contacts at every agency the user may see in full, merged with case events."""
    sections = sections_visible(user, case)
    if not sections:
        raise PermissionDenied("You may not see this case.")
    events = case.events.select_related("actor", "agency").filter(Q(section="") | Q(section__in=sections))
    entries = [
        Entry(at=e.at, source="case", agency=e.agency.code if e.agency else "", title=e.get_kind_display(),
              detail=e.summary, who=e.actor.username if e.actor else "system")
        for e in events[:limit]
    ]
    disclosures: dict[int, Disclosure] = {}
    withheld = 0
    if Section.CHRONOLOGY in sections:
        contacts = subject_contacts(case)
        person_id = case.person_id
        agency_ids = set(contacts.order_by().values_list("agency_id", flat=True).distinct())
        purposes = purposes_on_case(user, case)
        words: set[int] = set()
        for agency_id in agency_ids:
            found = disclosures_for(user, agency_id, person_id=person_id, purposes=purposes,
                                    categories=(DataCategory.CONTACTS, DataCategory.NEEDS))
            disclosures[agency_id] = found[DataCategory.CONTACTS]
            if found[DataCategory.NEEDS].tier >= Tier.FULL:
                words.add(agency_id)
        full = [a for a, d in disclosures.items() if d.tier >= Tier.FULL]
        withheld = len(agency_ids) - len(full)
        codes = dict(Agency.objects.filter(pk__in=full).values_list("pk", "code"))
        relied_on = {agency_id: disclosures[agency_id].relied_on for agency_id in full}  # once per agency, not per row
        # Only the columns shown: a few hundred whole contacts with their agency and category cost more to build.
        for at, agency_id, contact_type, presenting_need, need, contact_person_id in (
            contacts.filter(agency_id__in=full).order_by("-occurred_at").values_list(
                "occurred_at", "agency_id", "contact_type", "presenting_need", "need_category__name", "person_id"
            )[:limit]
        ):
            need = need or ""
            said = presenting_need if agency_id in words else "Presenting need not shared under the agreement"
            entries.append(Entry(at=at, source="contact", agency=codes[agency_id],
                                 title=contact_type_label(contact_type),
                                 detail=said + (f" ({need})" if need and agency_id in words else ""),
                                 person_id=contact_person_id, agency_id=agency_id,
                                 shared_under=relied_on[agency_id]))
    entries.sort(key=lambda e: e.at, reverse=True)
    return Chronology(entries=entries[:limit], disclosures=disclosures, withheld_agencies=withheld)


@identity_remembered()
def chronology_read(user, case: Case, *, ip=None, api: bool = False, limit: int = 300) -> Chronology:
    """``chronology_for``, recording the view of the case and, in the same transaction, each
    disclosure of another agency's contacts about each person shown (person and household cases)."""
    chronology = chronology_for(user, case, limit=limit)
    shown = sorted({(e.person_id, e.agency_id) for e in chronology.entries
                    if e.source == "contact" and e.person_id and e.agency_id != user.agency_id})
    with transaction.atomic():
        audit_record(user=user, action=AuditEvent.Action.VIEW, object_type="case", object_id=case.pk, ip=ip,
                     purpose="chronology", detail={"entries": len(chronology.entries), "api": api,
                                                   "sections": sorted(sections_visible(user, case))})
        disclosures_record(user=user, purpose=f"case {case.reference} chronology", ip=ip, disclosures=[
            ("person", person_id, agency_id, chronology.disclosures[agency_id]) for person_id, agency_id in shown
        ])
    return chronology


@dataclass
class CaseCosts:
    since: dt.date
    until: dt.date
    rows: list[dict]
    total_contacts: int
    total_cost: Decimal
    other_contacts: int = 0
    other_cost: Decimal = Decimal("0")


def case_costs_for(user, case: Case) -> CaseCosts:
    """The cost of the subject's demand in the 12 months before the case opened, by agency.

    Agencies the user may see only as a signpost are totalled together, not named.
    """
    if not sections_visible(user, case):
        raise PermissionDenied("You may not see this case.")
    until = case.opened_at
    since = until - dt.timedelta(days=365)
    contacts = subject_contacts(case).filter(occurred_at__gte=since, occurred_at__lt=until)
    counts = dict(contacts.order_by().values("agency_id").annotate(n=Count("pk")).values_list("agency_id", "n"))
    costs = cost_by(contacts, "agency_id")
    agencies = {a.pk: a for a in Agency.objects.filter(pk__in=counts)}
    rows, other_n, other_cost = [], 0, Decimal("0")
    purposes = purposes_on_case(user, case)
    for agency_id, n in counts.items():
        cost = costs.get(agency_id, Decimal("0"))
        disclosure = disclosure_for(user, agency_id, person_id=case.person_id, category=DataCategory.CONTACTS,
                                    purposes=purposes)
        if disclosure.tier >= Tier.SUMMARY:
            rows.append({"agency": agencies[agency_id], "contacts": n, "cost": cost, "disclosure": disclosure})
        else:
            other_n, other_cost = other_n + n, other_cost + cost
    rows.sort(key=lambda r: (-r["cost"], r["agency"].name))
    return CaseCosts(since=since.date(), until=until.date(), rows=rows, total_contacts=sum(counts.values()),
                     total_cost=sum(costs.values(), Decimal("0")), other_contacts=other_n, other_cost=other_cost)


def case_costs_read(user, case: Case, *, ip=None, export: bool = False) -> CaseCosts:
    """``case_costs_for``, recording the view (or export) and each agency's figures disclosed."""
    costs = case_costs_for(user, case)
    subject, subject_id = ("person", case.person_id) if case.person_id else ("household", case.household_id)
    with transaction.atomic():
        audit_record(user=user, action=AuditEvent.Action.EXPORT if export else AuditEvent.Action.VIEW,
                     object_type="case", object_id=case.pk, purpose="case costs", ip=ip,
                     detail={"agencies": len(costs.rows)})
        for row in costs.rows:
            if row["agency"].pk != user.agency_id:
                disclosure_record(user=user, person_id=subject_id, owner_agency_id=row["agency"].pk,
                                  disclosure=row["disclosure"],
                                  purpose=f"case {case.reference} costs", ip=ip, object_type=subject)
    return costs


def drift_alerts(case: Case, *, today: dt.date | None = None) -> list[str]:
    """Why a live case is drifting: nobody on the team has worked it lately, or actions are overdue in two agencies."""
    if not case.is_live:
        return []
    today = today or timezone.localdate()
    alerts = []
    quiet = (today - timezone.localtime(case.last_activity_at).date()).days
    if quiet >= drift_days():
        alerts.append(f"No one on the team has recorded anything for {quiet} days.")
    overdue = (
        case.actions.filter(done_at__isnull=True, due_on__lt=today).order_by().values("agency__name").distinct()
    )
    names = sorted(r["agency__name"] for r in overdue)
    if len(names) >= 2:
        alerts.append(f"Actions are overdue in {len(names)} agencies: {', '.join(names)}.")
    return alerts


def subject_label(user, case: Case) -> str:
    """The case's subject as ``user`` may identify it: a household's address, a person's best name."""
    if case.household_id:
        known = known_households(user, [case.household_id])
        return case.household.address.label if known else "A household your agency holds no record of"
    return person_names(user, [case.person_id]).get(case.person_id) or (
        "Name not recorded" if known_people(user, [case.person_id]) else "A person your agency holds no record of"
    )


def duplicate_message(user, case: Case) -> str:
    """Why a second case may not be opened, naming the open case and its key worker only to a user
    who may see that case."""
    if cases_visible_to(user).filter(pk=case.pk).exists():
        holder = case.key_worker.get_full_name() or case.key_worker.username
        return f"{case.reference} is already open on this subject, held by {holder} ({case.agency.name})."
    return "A case you cannot see is already open on this subject. Ask your agency administrator who holds it."


@dataclass
class SubjectCase:
    """A case on the subject (or its people or household), described as far as the user may see it."""

    status: str
    is_live: bool
    on: str
    case: Case | None = None  # only when the user may see the case
    held_at: str = ""  # the holding agency, as a signpost about a person the user's agency holds


def cases_on_subject(user, *, household_id: int | None = None, person_id: int | None = None) -> dict:
    """Before opening: cases on the subject, on its people (or their household), visible or not.

    A case the user may not see is only said to exist: its reference and key worker are never
    named, and its agency only as a signpost about someone the user's own agency holds a record of.
    """
    if household_id is not None:
        people = list(Person.objects.filter(household_id=household_id).values_list("pk", flat=True))
        kind, pk = "household", household_id
    else:
        people = [person_id]
        kind, pk = "person", person_id
    # The same relation as ownership (``related_cases``), closed cases included.
    cases = sorted({c.pk: c for _, _, c in related_cases(kind, [pk], live=False)}.values(),
                   key=lambda c: (-c.opened_at.timestamp(), -c.pk))
    visible = set(cases_visible_to(user).filter(pk__in=[c.pk for c in cases]).values_list("pk", flat=True))
    names = person_names(user, [c.person_id for c in cases if c.person_id])
    signposted = people_holding_own_records(user, people)
    found = []
    for c in sorted(cases, key=lambda c: (not c.is_live, -c.opened_at.timestamp())):
        if c.household_id:
            on = c.household.address.label
        else:
            on = names.get(c.person_id) or "Someone in this household"
        shown = c.pk in visible
        found.append(SubjectCase(
            status=c.get_status_display(), is_live=c.is_live, on=on, case=c if shown else None,
            held_at=c.agency.name if shown or signposted & ({c.person_id} if c.person_id else set(people)) else "",
        ))
    return {
        "live": [c for c in found if c.is_live],
        "closed": [c for c in found if not c.is_live],
        "all": found,
    }


@dataclass
class MyCases:
    owned: list[Case]
    overdue: list[Action]
    due_soon: list[Action]
    expiring: list[Grant]
    invitations: list[Grant]
    pulled_into: list[Grant]
    drifting: list[tuple[Case, list[str]]]
    unowned: list[Case]


def my_cases_read(user, *, ip=None) -> MyCases:
    """``my_cases``, recording the view."""
    mine = my_cases(user)
    audit_record(user=user, action=AuditEvent.Action.VIEW, object_type="case_list", ip=ip,
                 detail={"cases": len(mine.owned), "invitations": len(mine.invitations)})
    return mine


def my_cases(user) -> MyCases:
    """The key worker's dashboard: their cases, overdue actions, expiring pull-ins and invitations."""
    today = timezone.localdate()
    owned = list(cases_visible_to(user).filter(key_worker=user, status__in=LIVE_STATUSES)
                 .annotate(open_actions=Count("actions", filter=Q(actions__done_at__isnull=True))))
    actions = Action.objects.filter(owner=user, done_at__isnull=True, case__status__in=LIVE_STATUSES).select_related(
        "case", "agency"
    )
    expiring = Grant.objects.filter(
        case__key_worker=user, case__status__in=LIVE_STATUSES, state__in=[Grant.State.INVITED, Grant.State.ACCEPTED],
        ends_on__gte=today, ends_on__lte=today + dt.timedelta(days=EXPIRING_DAYS),
    ).select_related("case", "invitee", "agency")
    pulled = Grant.objects.filter(grants_in_force_q(), invitee=user).select_related("case", "case__key_worker")
    actions = list(actions)
    # An action stays the user's after their pull-in ends; the page names its case without linking to it.
    openable = set(cases_visible_to(user).filter(pk__in={a.case_id for a in actions}).values_list("pk", flat=True))
    for action in actions:
        action.case_openable = action.case_id in openable
    return MyCases(
        owned=owned,
        overdue=[a for a in actions if a.due_on < today],
        due_soon=[a for a in actions if today <= a.due_on <= today + dt.timedelta(days=EXPIRING_DAYS)],
        expiring=list(expiring.order_by("ends_on")),
        invitations=list(invitations_for(user)),
        pulled_into=list(pulled.order_by("ends_on")),
        drifting=[(c, alerts) for c in owned if (alerts := drift_alerts(c, today=today))],
        unowned=list(cases_without_an_owner(user)),
    )


def cases_without_an_owner(user) -> QuerySet[Case]:
    """Live cases whose key worker has left or can no longer hold cases: administrators must transfer them."""
    if not is_staff_member(user) or not (sees_whole_partnership(user) or user.role == Role.AGENCY_ADMIN):
        return Case.objects.none()
    cases = cases_visible_to(user).filter(status__in=LIVE_STATUSES).filter(
        Q(key_worker__is_active=False) | ~Q(key_worker__role__in=CASE_HOLDING_ROLES)
    )
    return cases if sees_whole_partnership(user) else cases.filter(agency_id=user.agency_id)


# Ownership, one rule for every page, export, API and agenda: a person or an address is owned when a
# live case is on it, on its household or on one of its people; a household when a live case is on it
# or on one of its people. A case on the subject itself comes first, then its household's, then its people's.
OWNED_KINDS = ("household", "person", "address")
_ON_SUBJECT, _ON_HOUSEHOLD, _ON_A_PERSON = range(3)


def related_cases(kind: str, ids, *, live: bool = True) -> list[tuple[int, int, Case]]:
    """(subject id, how near, case) for the cases on each of ``ids`` (households, people or
    addresses), on its household or on one of its people: live ones only unless ``live`` is False."""
    ids = sorted(set(ids))
    if kind not in OWNED_KINDS or not ids:
        return []
    cases = Case.objects.select_related("key_worker", "agency", "household__address")
    if live:
        cases = cases.filter(status__in=LIVE_STATUSES)
    cases = cases.annotate(lives_in=F("person__household_id"))
    found: list[tuple[int, int, Case]] = []
    if kind == "person":
        members: dict[int, list[int]] = defaultdict(list)
        for pk, household in Person.objects.filter(pk__in=ids, household_id__isnull=False).values_list(
            "pk", "household_id"
        ):
            members[household].append(pk)
        for case in cases.filter(Q(person_id__in=ids) | Q(household_id__in=sorted(members))):
            if case.person_id:
                found.append((case.person_id, _ON_SUBJECT, case))
            else:
                found += [(pk, _ON_HOUSEHOLD, case) for pk in members[case.household_id]]
        return found
    if kind == "household":
        households = {pk: pk for pk in ids}
    else:
        households = dict(Household.objects.filter(address_id__in=ids).values_list("pk", "address_id"))
    nearest = _ON_SUBJECT if kind == "household" else _ON_HOUSEHOLD
    for case in cases.filter(Q(household_id__in=sorted(households)) | Q(person__household_id__in=sorted(households))):
        if case.household_id:
            found.append((households[case.household_id], nearest, case))
        else:
            found.append((households[case.lives_in], _ON_A_PERSON, case))
    return found


def owning_cases(kind: str, ids) -> dict[int, Case]:
    """{subject id: the live case that owns it} for the households, people or addresses among ``ids``
    that have an owner (the one rule above; the oldest case where two are equally near)."""
    best: dict[int, tuple] = {}
    for subject, nearness, case in related_cases(kind, ids):
        rank = (nearness, case.opened_at, case.pk)
        if subject not in best or rank < best[subject][0]:
            best[subject] = (rank, case)
    return {subject: case for subject, (_, case) in best.items()}


def key_workers_for(kind: str, ids: list[int]) -> dict[int, str]:
    """{subject id: key worker username} for owned subjects (the demand ranking's column; an owned
    subject needs no owner)."""
    return {subject: case.key_worker.username for subject, case in owning_cases(kind, ids).items()}


def recent_events(case: Case, n: int = 5) -> QuerySet[CaseEvent]:
    return case.events.order_by("-at")[:n]


def caseload_people(user_ids) -> dict[int, set[int]]:
    """{user id: people} each user works with: the subjects (people, or a household's members) of
    live cases they are key worker on, and of cases they are pulled into by a grant in force.

    Views of these people are never unusual access (``sharing.selectors.access_findings``).
    """
    user_ids = sorted(set(user_ids))
    if not user_ids:
        return {}
    pairs = set(Case.objects.filter(key_worker_id__in=user_ids, status__in=LIVE_STATUSES)
                .values_list("key_worker_id", "pk"))
    for invitee, accepted_by, case_id in Grant.objects.filter(
        grants_in_force_q(), Q(invitee_id__in=user_ids) | Q(invitee__isnull=True, accepted_by_id__in=user_ids),
        case__status__in=LIVE_STATUSES,
    ).values_list("invitee_id", "accepted_by_id", "case_id"):
        pairs.add((invitee or accepted_by, case_id))
    subjects = {pk: (person, household) for pk, person, household in Case.objects.filter(
        pk__in={case_id for _, case_id in pairs}).values_list("pk", "person_id", "household_id")}
    members = household_members(h for _, h in subjects.values())
    found: dict[int, set[int]] = {}
    for user_id, case_id in pairs:
        person, household = subjects[case_id]
        found.setdefault(user_id, set()).update([person] if person else members.get(household, []))
    return found


def case_work_purposes(user, person_ids: list[int] | None = None) -> list[tuple[int, str, str]]:
    """(person id, purpose, where it comes from) for the people of live cases ``user`` works: key
    work on their own agency's cases, and each pull-in grant's own purpose. A ``sharing.purposes``
    source, so that a disclosure relies on an agreement only for the work in hand."""
    if not sees_people(user) or user.agency_id is None:
        return []
    team = Q(key_worker=user)
    if user.role in CASE_WORKING_ROLES:
        team |= Q(agency_id=user.agency_id)
    cases = Case.objects.filter(status__in=LIVE_STATUSES)
    if person_ids is not None:
        households = Person.objects.filter(pk__in=list(person_ids), household_id__isnull=False)
        cases = cases.filter(Q(person_id__in=list(person_ids)) | Q(household_id__in=households.values("household_id")))
    found = [(pk, person, household, Purpose.KEY_WORK.value)
             for pk, person, household in cases.filter(team).values_list("pk", "person_id", "household_id")]
    found += [(row["case_id"], row["case__person_id"], row["case__household_id"], row["purpose_code"])
              for row in Grant.objects.filter(grants_in_force_q(), invitee=user, case__in=cases)
              .values("case_id", "case__person_id", "case__household_id", "purpose_code")]
    members = household_members(household for _, _, household, _ in found)
    wanted = None if person_ids is None else set(person_ids)
    rows = []
    for case_id, person, household, purpose in found:
        where = f"case {Case(pk=case_id).reference}"
        for person_id in [person] if person else members.get(household, []):
            if wanted is None or person_id in wanted:
                rows.append((person_id, purpose, where))
    return rows


@dataclass
class CaseImpact:
    """A case's before, during and after figures (``cases.impact.case_impact``) as a viewer may see them."""

    figures: dict
    shown: dict[int, Disclosure] = field(default_factory=dict)  # agency id -> what its figures rest on


def case_impact_for(user, case: Case, *, months: int = 12, today: dt.date | None = None) -> CaseImpact:
    """``case_impact`` for the case team: agencies the user may see only as a signpost are totalled
    together as "Other agencies", not named, in every window and in the unit costs used."""
    from onecase.cases.impact import OTHER_AGENCIES, case_impact, fold_agencies

    if not sections_visible(user, case):
        raise PermissionDenied("You may not see this case.")
    figures = case_impact(case, months=months, today=today)
    codes = {code for name in ("before", "during", "after") if name in figures for code in figures[name]["by_agency"]}
    purposes = purposes_on_case(user, case)
    shown, hidden = {}, set()
    for agency in Agency.objects.filter(code__in=codes):
        disclosure = disclosure_for(user, agency.pk, person_id=case.person_id, category=DataCategory.CONTACTS,
                                    purposes=purposes)
        if disclosure.tier >= Tier.SUMMARY:
            shown[agency.pk] = disclosure
        else:
            hidden.add(agency.code)
    for name in ("before", "during", "after"):
        if name in figures:
            fold_agencies(figures[name], hidden, OTHER_AGENCIES)
    return CaseImpact(figures=figures, shown=shown)


def case_impact_read(user, case: Case, *, months: int = 12, today: dt.date | None = None, ip=None,
                     api: bool = False, export: bool = False) -> CaseImpact:
    """``case_impact_for``, recording the view (or export) and each other agency's figures disclosed."""
    impact = case_impact_for(user, case, months=months, today=today)
    subject, subject_id = ("person", case.person_id) if case.person_id else ("household", case.household_id)
    with transaction.atomic():
        audit_record(user=user, action=AuditEvent.Action.EXPORT if export else AuditEvent.Action.VIEW,
                     object_type="case", object_id=case.pk, purpose="case impact", ip=ip,
                     detail={"agencies": len(impact.shown), "months": months, "api": api})
        for agency_id, disclosure in impact.shown.items():
            if agency_id != user.agency_id:
                disclosure_record(user=user, person_id=subject_id, owner_agency_id=agency_id, disclosure=disclosure,
                                  purpose=f"case {case.reference} impact", ip=ip, object_type=subject)
    return impact
