"""Audit and disclosure reads, scoped to who may see them."""

from collections import Counter, defaultdict

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from onecase.accounts.models import Agency, Role
from onecase.accounts.rules import is_staff_member, sees_whole_partnership
from onecase.contacts.models import Contact
from onecase.people.models import Address, Household, Person, PersonLink
from onecase.sharing.models import Agreement, Alert, AuditEvent, DisclosureRequest
from onecase.sharing.rules import (
    DECIDING_ROLES,
    identity_agency_ids,
    identity_raised_for,
    may_decide_request,
    may_read_audit,
)

PERSON_VIEWS = (AuditEvent.Action.VIEW, AuditEvent.Action.DISCLOSE, AuditEvent.Action.EXPORT)


def person_agency_ids(person_id: int) -> set[int]:
    """Agencies holding records linked to this person now."""
    return set(
        PersonLink.objects.filter(person_id=person_id, undone_at__isnull=True).values_list(
            "agency_person__agency_id", flat=True
        )
    )


def may_see_access_history(user, person_id: int) -> bool:
    """The partnership, auditors, and the DPO of an agency holding records about the person."""
    if not may_read_audit(user):
        return False
    if sees_whole_partnership(user) or user.role == Role.AUDITOR:
        return True
    return user.agency_id in person_agency_ids(person_id)


def access_history_for(user, *, person_id: int) -> QuerySet[AuditEvent]:
    """Who has looked at this person's records: views, disclosures and exports, newest first."""
    if not may_see_access_history(user, person_id):
        return AuditEvent.objects.none()
    return AuditEvent.objects.filter(object_type="person", object_id=str(person_id), action__in=PERSON_VIEWS)


def audit_events_visible_to(user) -> QuerySet[AuditEvent]:
    """The audit trail: all of it for the partnership and auditors, an agency's own staff's for its DPO."""
    if not may_read_audit(user):
        return AuditEvent.objects.none()
    if sees_whole_partnership(user) or user.role == Role.AUDITOR:
        return AuditEvent.objects.all()
    return AuditEvent.objects.filter(agency_code=user.agency.code)


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


def unusual_access(*, since=None, threshold: int = 50) -> list[dict]:
    """Users who viewed more distinct people than ``threshold`` since ``since`` (default: 24 hours).

    Until caseloads exist every person view counts; key workers' own cases will be excluded.
    """
    since = since or timezone.now() - timezone.timedelta(hours=24)
    rows = (
        AuditEvent.objects.filter(at__gte=since, object_type="person", action__in=PERSON_VIEWS, user__isnull=False)
        .values("user_id", "username", "agency_code")
        .annotate(people=Count("object_id", distinct=True))
        .filter(Q(people__gt=threshold))
        .order_by("-people")
    )
    return list(rows)


# What identifies a person to a viewer. Every name, address, date of birth and agency involvement
# shown about a person comes through these, so the rule (``sharing.rules.identity_agency_ids``)
# holds on every page, list, export and API response.


def identifying_links(user) -> QuerySet[PersonLink]:
    """Current links whose agency record may identify its person to ``user``."""
    links = PersonLink.objects.filter(undone_at__isnull=True)
    if user is None:
        return links
    agencies = identity_agency_ids(user)
    if agencies is None:
        return links
    allowed = Q(agency_person__agency_id__in=sorted(agencies))
    for person_id, raised in identity_raised_for(user).items():
        allowed |= Q(person_id=person_id) if raised is None else Q(
            person_id=person_id, agency_person__agency_id__in=sorted(raised)
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
    spellings: dict[int, Counter] = defaultdict(Counter)
    newest: dict[tuple[int, str], object] = {}
    rows = identifying_links(user).filter(person_id__in=ids).values_list(
        "person_id", "agency_person__given_name", "agency_person__family_name", "agency_person__identity_as_of"
    )
    for person_id, given, family, as_of in rows:
        name = " ".join(part for part in (given.strip(), family.strip()) if part)
        if not name:
            continue
        spellings[person_id][name] += 1
        if (person_id, name) not in newest or (as_of and as_of > newest[(person_id, name)]):
            newest[(person_id, name)] = as_of
    names = {}
    for person_id, counts in spellings.items():
        names[person_id] = max(
            counts, key=lambda n: (counts[n], newest[(person_id, n)] is not None, newest[(person_id, n)] or 0, n)
        )
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
    """Pending requests the user's agency decides (every one for the partnership)."""
    pending = DisclosureRequest.objects.filter(status=DisclosureRequest.Status.PENDING).select_related(
        "owner_agency", "requested_by__agency"
    )
    if not is_staff_member(user):
        return pending.none()
    if sees_whole_partnership(user):
        return pending
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
