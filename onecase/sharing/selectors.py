"""Audit and disclosure reads, scoped to who may see them."""

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from onecase.accounts.models import Agency, Role
from onecase.accounts.rules import is_staff_member, sees_whole_partnership
from onecase.audit.services import audit_trail_read
from onecase.contacts.models import Contact
from onecase.people.models import Address, Household, Person, PersonLink
from onecase.sharing.models import Agreement, Alert, AnomalyRule, AuditEvent, DataCategory, DisclosureRequest, Tier
from onecase.sharing.purposes import purposes_for
from onecase.sharing.rules import (
    DECIDING_ROLES,
    disclosure_for,
    identity_agency_ids,
    identity_raised_for,
    may_decide_request,
    may_export_sar,
    may_read_audit,
    may_see_access_history,
    rules_remembered,
)

PERSON_VIEWS = (AuditEvent.Action.VIEW, AuditEvent.Action.DISCLOSE, AuditEvent.Action.EXPORT)


def person_agency_ids(person_id: int) -> set[int]:
    """Agencies holding records linked to this person now."""
    return set(
        PersonLink.objects.filter(person_id=person_id, undone_at__isnull=True).values_list(
            "agency_person__agency_id", flat=True
        )
    )


def access_history_for(user, *, person_id: int) -> QuerySet[AuditEvent]:
    """Who has looked at this person's records: views, disclosures and exports, newest first.

    The partnership and auditors see every one. An agency's data protection officer sees what
    concerns their agency: its own staff's views and exports, and each disclosure of its records,
    to whoever they went. Another agency's disclosure to a third would tell them who else holds
    records about the person, which the identity rule decides, not the audit trail.
    """
    if not may_see_access_history(user, person_id):
        return AuditEvent.objects.none()
    events = AuditEvent.objects.filter(object_type="person", object_id=str(person_id), action__in=PERSON_VIEWS)
    if sees_whole_partnership(user) or user.role == Role.AUDITOR:
        return events
    return events.filter(
        Q(agency_code=user.agency.code) | Q(action=AuditEvent.Action.DISCLOSE, detail__owner_agency_id=user.agency_id)
    )


def audit_events_visible_to(user) -> QuerySet[AuditEvent]:
    """The audit trail: all of it for the partnership and auditors, an agency's own staff's for its DPO."""
    if not may_read_audit(user):
        return AuditEvent.objects.none()
    if sees_whole_partnership(user) or user.role == Role.AUDITOR:
        return AuditEvent.objects.all()
    return AuditEvent.objects.filter(agency_code=user.agency.code)


def audit_trail_for(user, *, since=None, until=None, username: str = "") -> QuerySet[AuditEvent]:
    """``audit_events_visible_to(user)`` (all of it for ``user=None``, an operator at the command
    line) from the UK day ``since`` to the UK day ``until``, both included, oldest first."""
    events = AuditEvent.objects.all() if user is None else audit_events_visible_to(user)
    zone = timezone.get_current_timezone()
    if since is not None:
        events = events.filter(at__gte=dt.datetime.combine(since, dt.time.min, tzinfo=zone))
    if until is not None:
        events = events.filter(at__lt=dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, tzinfo=zone))
    if username:
        events = events.filter(username=username)
    return events.order_by("at", "id")


def audit_row(event: AuditEvent) -> dict:
    """One event as the command line and the API give it."""
    return {"user": event.username, "agency": event.agency_code, "action": event.action,
            "object_type": event.object_type, "object_id": event.object_id, "purpose": event.purpose,
            "at": event.at.isoformat()}


def audit_rows_read(user, events, *, ip=None, page: str = "api") -> list[dict]:
    """``events`` (one page of ``audit_trail_for``) as rows, recording that ``user`` read them."""
    rows = [audit_row(event) for event in events]
    audit_trail_read(user=user, page=page, ip=ip, shown=len(rows))
    return rows


def data_protection_read(user, *, caseload=None, ip=None) -> dict:
    """The DPO page: the agency's alerts and the last day's unusual access, recording the read."""
    alerts = list(alerts_for(user)[:100])
    unusual = unusual_access(user, caseload=caseload)
    audit_trail_read(user=user, page="data protection", ip=ip, alerts=len(alerts), unusual=len(unusual))
    return {"alerts": alerts, "unusual": unusual}


def alerts_for(user) -> QuerySet[Alert]:
    """Alerts for the user's agency (DPOs), or all of them (partnership)."""
    if not is_staff_member(user):
        return Alert.objects.none()
    if sees_whole_partnership(user):
        return Alert.objects.all()
    if user.role != Role.DPO:
        return Alert.objects.none()
    return Alert.objects.filter(agency_id=user.agency_id)


def agreements_visible_to(user) -> QuerySet[Agreement]:
    """Every agreement for the partnership; the agreements an agency is party to for its staff."""
    if not is_staff_member(user):
        return Agreement.objects.none()
    if sees_whole_partnership(user):
        return Agreement.objects.all()
    return Agreement.objects.filter(parties__agency_id=user.agency_id).distinct()


@dataclass(frozen=True)
class Finding:
    """One user's access that one rule finds unusual: the people it is about (ids only)."""

    user_id: int
    username: str
    agency_code: str
    rule: str
    people: frozenset[int]

    @property
    def rule_label(self) -> str:
        return AnomalyRule(self.rule).label


def anomaly_settings() -> dict:
    """The thresholds of ``access_findings``: ``ONECASE_ACCESS_ANOMALY`` over these defaults."""
    return {**ANOMALY_DEFAULTS, **getattr(settings, "ONECASE_ACCESS_ANOMALY", {})}


ANOMALY_DEFAULTS = {
    "volume_people": 50,  # more distinct people than this in the window
    "unlinked_people": 0,  # more people than this with no case or pull-in link to the viewer
    "working_hours": (7, 20),  # UK local time: views from 20:00 to 07:00 are out of hours
    "working_days": (0, 1, 2, 3, 4),  # Monday to Friday; weekend views are out of hours
}


def _out_of_hours(at, rules: dict) -> bool:
    local = timezone.localtime(at)
    start, end = rules["working_hours"]
    return local.weekday() not in rules["working_days"] or not (start <= local.hour < end)


def access_findings(*, since, until=None, caseload: Callable[[set[int]], dict[int, set[int]]] | None = None
                    ) -> list[Finding]:
    """Unusual views of people between ``since`` and ``until`` (now), for the whole partnership.

    Rules: many people (volume), out of hours, people with no case or pull-in link to the
    viewer (unlinked), people marked for extra protection (vip). ``caseload`` gives, for user
    ids, the people each works with on a case they hold or are pulled into (``cases.selectors.
    caseload_people``); views of those people are never unusual. Not scoped: detection and
    ``unusual_access`` scope what they show.
    """
    rules = anomaly_settings()
    events = AuditEvent.objects.filter(at__gte=since, object_type="person", action__in=PERSON_VIEWS,
                                       user__isnull=False)
    if until is not None:
        events = events.filter(at__lt=until)
    viewed: dict[int, set[int]] = defaultdict(set)
    late: dict[int, set[int]] = defaultdict(set)
    who: dict[int, tuple[str, str]] = {}
    for user_id, username, agency_code, object_id, at in events.values_list(
        "user_id", "username", "agency_code", "object_id", "at"
    ).iterator():
        if not object_id.isdigit():
            continue
        viewed[user_id].add(int(object_id))
        who[user_id] = (username, agency_code)
        if _out_of_hours(at, rules):
            late[user_id].add(int(object_id))
    linked = caseload(set(viewed)) if caseload and viewed else {}
    everyone = set().union(*viewed.values()) if viewed else set()
    vips = set(Person.objects.filter(pk__in=sorted(everyone), vip=True).values_list("pk", flat=True))
    findings = []
    for user_id, people in sorted(viewed.items()):
        own = linked.get(user_id, set())
        unlinked = people - own
        found = {
            AnomalyRule.VOLUME: unlinked if len(unlinked) > rules["volume_people"] else set(),
            AnomalyRule.OUT_OF_HOURS: late[user_id] - own,
            AnomalyRule.UNLINKED: unlinked if len(unlinked) > rules["unlinked_people"] else set(),
            AnomalyRule.VIP: unlinked & vips,
        }
        findings += [Finding(user_id, *who[user_id], rule.value, frozenset(ids)) for rule, ids in found.items() if ids]
    return findings


def unusual_access(user, *, since=None, until=None, caseload=None) -> list[dict]:
    """Unusual access since ``since`` (default: the last 24 hours) that ``user`` may see.

    The partnership and auditors see all of it. A DPO sees their own agency's staff's unusual
    access in full, and other agencies' staff's only where it touched people their agency holds
    records about (counting only those people). Nobody else sees any.
    """
    if not may_read_audit(user):
        return []
    since = since or timezone.now() - timezone.timedelta(hours=24)
    findings = access_findings(since=since, until=until, caseload=caseload)
    sees_all = sees_whole_partnership(user) or user.role == Role.AUDITOR
    held: set[int] = set()
    if not sees_all:
        everyone = set().union(*(f.people for f in findings)) if findings else set()
        held = set(PersonLink.objects.filter(
            undone_at__isnull=True, person_id__in=sorted(everyone), agency_person__agency_id=user.agency_id,
        ).values_list("person_id", flat=True))
    rows = []
    for finding in findings:
        if sees_all or finding.agency_code == user.agency.code:
            people = len(finding.people)
        else:
            people = len(finding.people & held)
        if people:
            rows.append({"user_id": finding.user_id, "username": finding.username,
                         "agency_code": finding.agency_code, "rule": finding.rule,
                         "rule_label": finding.rule_label, "people": people})
    return sorted(rows, key=lambda row: (-row["people"], row["username"], row["rule"]))


# What identifies a person to a viewer. Every name, address, date of birth and agency involvement
# shown about a person comes through these, so the rule (``sharing.rules.identity_agency_ids``)
# holds on every page, list, export and API response.


# A read that asks several of these selectors about the same people (a page, a search) works out
# what identifies people to its user, and the agreements in force, once.
identity_remembered = rules_remembered


def _identity(user) -> tuple[frozenset[int] | None, dict[int, frozenset[int] | None]]:
    return identity_agency_ids(user), identity_raised_for(user)


def identifying_links(user) -> QuerySet[PersonLink]:
    """Current links whose agency record may identify its person to ``user``."""
    links = PersonLink.objects.filter(undone_at__isnull=True)
    if user is None:
        return links
    agencies, raised_for = _identity(user)
    if agencies is None:
        return links
    allowed = Q(agency_person__agency_id__in=sorted(agencies))
    # People raised to the same agencies share one condition: a key worker's caseload is one IN list.
    people: dict[frozenset[int] | None, list[int]] = defaultdict(list)
    for person_id, raised in raised_for.items():
        people[raised].append(person_id)
    for raised, ids in people.items():
        allowed |= Q(person_id__in=sorted(ids)) if raised is None else Q(
            person_id__in=sorted(ids), agency_person__agency_id__in=sorted(raised)
        )
    return links.filter(allowed)


def _sees_all(user) -> bool:
    return user is None or identity_agency_ids(user) is None


def known_people(user, ids) -> set[int]:
    """The people among ``ids`` whom ``user`` may identify. Others answer as if they did not exist."""
    ids = list(ids)
    if not ids:
        return set()
    if _sees_all(user):
        return set(Person.objects.filter(pk__in=ids).values_list("pk", flat=True))
    return set(identifying_links(user).filter(person_id__in=ids).values_list("person_id", flat=True).distinct())


def person_known_to(user, pk: int) -> Person:
    """The person ``pk`` if ``user`` may identify them; otherwise 404, exactly as a missing id."""
    person = Person.objects.filter(pk=pk).first() if known_people(user, [pk]) else None
    if person is None:
        raise Http404("No such person.")
    return person


def household_known_to(user, pk: int) -> Household:
    """The household ``pk`` if ``user`` may identify someone in it; otherwise 404, exactly as a missing id."""
    household = Household.objects.filter(pk=pk).first() if known_households(user, [pk]) else None
    if household is None:
        raise Http404("No such household.")
    return household


def agencies_to_ask(user, person: Person) -> QuerySet[Agency]:
    """Agencies involved with ``person`` (as ``user`` may see) whose records ``user`` sees below full:
    the ones an access request may go to."""
    involved = involved_agencies(user, [person.pk]).get(person.pk, [])
    purposes = purposes_for(user, [person.pk])
    below = [a.pk for a in involved if a.pk != user.agency_id and disclosure_for(
        user, a.pk, person_id=person.pk, category=DataCategory.CONTACTS, purposes=purposes).tier < Tier.FULL]
    return Agency.objects.filter(pk__in=below)


def sar_subject_for(user, pk: int) -> Person:
    """The person a subject access bundle is about. Permission before existence: 403 for anyone who
    may not export it (``may_export_sar``), so the answer says nothing about which people exist."""
    if not may_export_sar(user, pk):
        raise PermissionDenied("Only a data protection officer of an agency holding records may export this.")
    person = Person.objects.filter(pk=pk).first()
    if person is None:
        raise Http404("No such person.")
    return person


def known_households(user, ids) -> set[int]:
    """The households among ``ids`` with at least one person ``user`` may identify."""
    ids = list(ids)
    if not ids:
        return set()
    if _sees_all(user):
        return set(Household.objects.filter(pk__in=ids).values_list("pk", flat=True))
    return set(
        identifying_links(user).filter(person__household_id__in=ids)
        .values_list("person__household_id", flat=True).distinct()
    )


def known_addresses(user, ids) -> set[int]:
    """The addresses among ``ids`` that a record identifying someone to ``user`` places them at."""
    ids = list(ids)
    if not ids:
        return set()
    if _sees_all(user):
        return set(Address.objects.filter(pk__in=ids).values_list("pk", flat=True))
    links = identifying_links(user)
    found = set(links.filter(address_id__in=ids).values_list("address_id", flat=True).distinct())
    found |= set(links.filter(person__household__address_id__in=ids)
                 .values_list("person__household__address_id", flat=True).distinct())
    agencies = identity_agency_ids(user) if user is not None else None
    contacts = Contact.objects.filter(address_id__in=ids)
    if agencies is not None:
        contacts = contacts.filter(agency_id__in=sorted(agencies))
    found |= set(contacts.order_by().values_list("address_id", flat=True).distinct())
    return found


def person_names(user, ids) -> dict[int, str]:
    """{person id: name} from the records that identify each person to ``user``: the most common
    spelling across those records, ties going to the most recent. People without one are left out."""
    ids = list(ids)
    if not ids:
        return {}
    # A spelling ignores letter case and spacing (one agency's system writes family names in capitals);
    # it is shown as most of its records write it, in mixed case where any does.
    spellings: dict[int, Counter] = defaultdict(Counter)
    written: dict[tuple[int, str], Counter] = defaultdict(Counter)
    newest: dict[tuple, object] = {}
    rows = identifying_links(user).filter(person_id__in=ids).values_list(
        "person_id", "agency_person__given_name", "agency_person__family_name", "agency_person__identity_as_of"
    )
    for person_id, given, family, as_of in rows:
        name = " ".join(f"{given} {family}".split())
        if not name:
            continue
        spelling = name.casefold()
        spellings[person_id][spelling] += 1
        written[(person_id, spelling)][name] += 1
        for key in ((person_id, spelling), (person_id, spelling, name)):
            if key not in newest or (as_of and (newest[key] is None or as_of > newest[key])):
                newest[key] = as_of

    def recent(key) -> tuple:
        return (newest[key] is not None, newest[key] or 0)

    names = {}
    for person_id, counts in spellings.items():
        spelling = max(counts, key=lambda s: (counts[s], *recent((person_id, s)), s))
        forms = written[(person_id, spelling)]
        names[person_id] = max(forms, key=lambda n: (
            not any(len(w) > 1 and (w.isupper() or w.islower()) for w in n.split()),
            forms[n], *recent((person_id, spelling, n)), n,
        ))
    return names


def people_holding_own_records(user, ids) -> set[int]:
    """The people among ``ids`` of whom ``user``'s own agency holds a record (every one, for the
    partnership): only about them may a signpost name the other agencies involved."""
    ids = list(ids)
    if not ids or user is None or not is_staff_member(user):
        return set(ids) if user is None else set()
    links = PersonLink.objects.filter(undone_at__isnull=True, person_id__in=ids)
    if not sees_whole_partnership(user):
        links = links.filter(agency_person__agency_id=user.agency_id)
    return set(links.values_list("person_id", flat=True).distinct())


def involved_agencies(user, person_ids) -> dict[int, list[Agency]]:
    """{person id: agencies whose involvement ``user`` may see}: those whose records identify the
    person to them, and, for people their own agency holds, every agency holding a record (a signpost)."""
    person_ids = list(person_ids)
    if not person_ids:
        return {}
    identifying = set(identifying_links(user).filter(person_id__in=person_ids).values_list("pk", flat=True))
    signposted = people_holding_own_records(user, person_ids)
    found: dict[int, set[int]] = defaultdict(set)
    for pk, person_id, agency_id in PersonLink.objects.filter(
        undone_at__isnull=True, person_id__in=person_ids
    ).values_list("pk", "person_id", "agency_person__agency_id"):
        if pk in identifying or person_id in signposted:
            found[person_id].add(agency_id)
    agencies = {a.pk: a for a in Agency.objects.filter(pk__in={a for ids in found.values() for a in ids})}
    return {
        person_id: sorted((agencies[a] for a in found.get(person_id, ())), key=lambda a: a.name)
        for person_id in person_ids
    }


def disclosure_requests_to_decide(user) -> QuerySet[DisclosureRequest]:
    """Pending requests the user's agency decides: only the owning agency's administrators and DPOs."""
    pending = DisclosureRequest.objects.filter(status=DisclosureRequest.Status.PENDING).select_related(
        "owner_agency", "requested_by__agency"
    )
    if not is_staff_member(user):
        return pending.none()
    if user.role in DECIDING_ROLES and user.agency_id:
        return pending.filter(owner_agency_id=user.agency_id)
    return pending.none()


def disclosure_requests_made_by(user) -> QuerySet[DisclosureRequest]:
    """The user's own requests."""
    if not is_staff_member(user):
        return DisclosureRequest.objects.none()
    return DisclosureRequest.objects.filter(requested_by=user).select_related("owner_agency")


def disclosure_request_to_decide(user, pk: int) -> DisclosureRequest:
    """A request the user may decide; 404 whether it is someone else's or missing."""
    found = DisclosureRequest.objects.filter(pk=pk).select_related("owner_agency").first()
    if found is None or not may_decide_request(user, found):
        raise Http404("No such request.")
    return found
