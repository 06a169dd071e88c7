"""Audit and disclosure reads, scoped to who may see them."""

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from onecase.accounts.models import Role
from onecase.accounts.rules import is_staff_member, sees_whole_partnership
from onecase.people.models import PersonLink
from onecase.sharing.models import Agreement, Alert, AuditEvent
from onecase.sharing.rules import may_read_audit

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
