"""Writes for audit, sharing agreements, disclosure requests and break the glass.

Every function checks permission and writes its audit event in the same transaction.
"""

import datetime as dt
import io
import json
import zipfile

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from onecase.accounts.models import Agency, Role, Sector
from onecase.accounts.rules import sees_people, sees_whole_partnership
from onecase.audit.services import (  # noqa: F401  (read here by older imports)
    audit_record,
    audit_trail_read,
    client_ip,
    disclosure_record,
)
from onecase.concurrency import check_version, lock
from onecase.contacts.models import Contact
from onecase.exports import csv_text
from onecase.people.models import AgencyPerson, PersonLink
from onecase.sharing.models import (
    Agreement,
    AgreementParty,
    Alert,
    AuditEvent,
    BreakGlass,
    BreakGlassRole,
    DataCategory,
    DisclosureRequest,
    Purpose,
    Tier,
)
from onecase.sharing.rules import (
    BREAK_GLASS_ROLES,
    may_break_glass,
    may_decide_request,
    may_export_sar,
    may_manage_agreements,
    may_manage_break_glass,
)
from onecase.sharing.selectors import access_findings

BREAK_GLASS_MINUTES = 60
# Sectors with a statutory duty to safeguard: their key workers and practitioners may break the
# glass unless the partnership switches it off. Voluntary-sector and other agencies start off.
STATUTORY_SECTORS = {Sector.POLICE, Sector.FIRE, Sector.COUNCIL, Sector.HEALTH, Sector.EDUCATION}
BREAK_GLASS_DEFAULT_ROLES = {Role.KEY_WORKER, Role.PRACTITIONER}
REQUEST_DAYS = 30


def agreement_validate(*, data_categories=None, starts_on: dt.date | None = None, ends_on: dt.date | None = None,
                       agencies=None, purpose_codes=None) -> None:
    """Check what is given of an agreement: known data categories and purposes (one at least of
    each), no end before its start, two parties or more.

    The one place these rules live: the services and the admin forms both call it. Raises
    ``ValidationError`` with every problem found.
    """
    problems = []
    if data_categories is not None:
        if not isinstance(data_categories, list) or not all(isinstance(c, str) for c in data_categories):
            problems.append("Data categories must be a list, for example [\"identity\", \"contacts\"].")
        elif unknown := set(data_categories) - set(DataCategory.values):
            problems.append(f"Unknown data categories: {', '.join(sorted(unknown))}. "
                            f"Choose from {', '.join(DataCategory.values)}.")
        elif not data_categories:
            problems.append("Choose at least one data category that the agreement shares.")
    if purpose_codes is not None:
        if not isinstance(purpose_codes, list) or not all(isinstance(c, str) for c in purpose_codes):
            problems.append("Purposes must be a list, for example [\"key_work\"].")
        elif unknown := set(purpose_codes) - set(Purpose.values):
            problems.append(f"Unknown purposes: {', '.join(sorted(unknown))}. Choose from {', '.join(Purpose.values)}.")
        elif not purpose_codes:
            problems.append("Choose at least one purpose the agreement may be relied on for.")
    if starts_on and ends_on and ends_on < starts_on:
        problems.append("The agreement cannot end before it starts.")
    if agencies is not None and len({getattr(a, "pk", a) for a in agencies}) < 2:
        problems.append("An agreement needs at least two agencies.")
    if problems:
        raise ValidationError(problems)


@transaction.atomic
def agreement_create(
    *,
    actor,
    reference: str,
    title: str,
    lawful_basis: str,
    purposes: str,
    purpose_codes: list[str],
    data_categories: list[str],
    starts_on: dt.date,
    parties: dict[Agency, int],
    ends_on: dt.date | None = None,
    review_on: dt.date | None = None,
    signed_document_ref: str = "",
    special_category_condition: str = "",
) -> Agreement:
    """Record a signed information sharing agreement and the tier each party may receive."""
    if actor is not None and not may_manage_agreements(actor):
        raise PermissionDenied("Only partnership administrators may record sharing agreements.")
    agreement_validate(data_categories=data_categories, purpose_codes=purpose_codes, starts_on=starts_on,
                       ends_on=ends_on, agencies=list(parties))
    agreement = Agreement.objects.create(
        reference=reference,
        title=title,
        lawful_basis=lawful_basis,
        purposes=purposes,
        purpose_codes=[code for code in Purpose.values if code in purpose_codes],
        data_categories=sorted(set(data_categories)),
        starts_on=starts_on,
        ends_on=ends_on,
        review_on=review_on,
        signed_document_ref=signed_document_ref,
        special_category_condition=special_category_condition,
    )
    AgreementParty.objects.bulk_create(
        AgreementParty(agreement=agreement, agency=agency, max_tier=int(tier)) for agency, tier in parties.items()
    )
    audit_record(
        user=actor,
        action=AuditEvent.Action.CHANGE,
        object_type="agreement",
        object_id=agreement.pk,
        detail={"created": reference, "parties": sorted(a.code for a in parties)},
    )
    return agreement


@transaction.atomic
def agreement_revoke(*, actor, agreement: Agreement, reason: str, expected_version: int | None = None,
                     ip=None) -> Agreement:
    """Revoke an agreement. The very next request relying on it is refused."""
    if actor is not None and not may_manage_agreements(actor):
        raise PermissionDenied("Only partnership administrators may revoke sharing agreements.")
    if not reason.strip():
        raise ValidationError("Give the reason for revoking the agreement.")
    lock(agreement)
    check_version(agreement, expected_version)
    agreement.revoked_at = timezone.now()
    agreement.revoked_reason = reason[:300]
    agreement.version += 1
    agreement.save(update_fields=["revoked_at", "revoked_reason", "version"])
    audit_record(user=actor, action=AuditEvent.Action.CHANGE, object_type="agreement", object_id=agreement.pk,
                 ip=ip, detail={"revoked": True})
    return agreement


@transaction.atomic
def agreement_save(*, actor, agreement: Agreement, expected_version: int | None = None, ip=None) -> Agreement:
    """Save an agreement edited in the admin pages; a reason in ``revoked_reason`` revokes it now.

    The saved row is locked and its version compared with ``expected_version`` first, so an
    edit made on a stale page never overwrites someone else's.
    """
    if actor is not None and not may_manage_agreements(actor):
        raise PermissionDenied("Only partnership administrators may change sharing agreements.")
    agreement_validate(data_categories=agreement.data_categories, purpose_codes=agreement.purpose_codes,
                       starts_on=agreement.starts_on, ends_on=agreement.ends_on)
    adding = agreement.pk is None
    revoking = False
    if not adding:
        saved = Agreement.objects.select_for_update().get(pk=agreement.pk)
        check_version(saved, expected_version)
        agreement.version = saved.version + 1
        # Once revoked, an agreement stays revoked: the admin form cannot clear it.
        agreement.revoked_at = saved.revoked_at
        revoking = bool(agreement.revoked_reason.strip()) and saved.revoked_at is None
        if revoking:
            agreement.revoked_at = timezone.now()
    agreement.save()
    detail = {"admin": "added" if adding else "changed"}
    if revoking:
        detail["revoked"] = True
    audit_record(user=actor, action=AuditEvent.Action.CHANGE, object_type="agreement", object_id=agreement.pk,
                 ip=ip, detail=detail)
    return agreement


@transaction.atomic
def agreement_parties_set(*, actor, agreement: Agreement, parties: dict[Agency, int], ip=None) -> None:
    """Make ``parties`` (agency: highest tier) the agreement's parties, as the admin pages edit them.

    At least two agencies; a changed tier holds from the very next request.
    """
    if actor is not None and not may_manage_agreements(actor):
        raise PermissionDenied("Only partnership administrators may change sharing agreements.")
    agreement_validate(agencies=list(parties))
    wanted = {agency.pk: int(tier) for agency, tier in parties.items()}
    rows = AgreementParty.objects.select_for_update().filter(agreement=agreement)
    current = {party.agency_id: party for party in rows}
    removed = [agency_id for agency_id in current if agency_id not in wanted]
    AgreementParty.objects.filter(agreement=agreement, agency_id__in=removed).delete()
    changed = [party for agency_id, party in current.items()
               if agency_id in wanted and party.max_tier != wanted[agency_id]]
    for party in changed:
        party.max_tier = wanted[party.agency_id]
    AgreementParty.objects.bulk_update(changed, ["max_tier"])
    added = AgreementParty.objects.bulk_create(
        AgreementParty(agreement=agreement, agency_id=agency_id, max_tier=tier)
        for agency_id, tier in wanted.items() if agency_id not in current
    )
    if removed or changed or added:
        audit_record(user=actor, action=AuditEvent.Action.CHANGE, object_type="agreement", object_id=agreement.pk,
                     ip=ip, detail={"parties": sorted(agency.code for agency in parties),
                                    "added": len(added), "changed": len(changed), "removed": len(removed)})


@transaction.atomic
def disclosure_request_create(
    *, actor, person, owner_agency: Agency, purpose: str, tier: int = Tier.FULL, ip=None
) -> DisclosureRequest:
    """Ask ``owner_agency`` to see more of its records about ``person``, for a stated purpose."""
    if not sees_people(actor) or actor.agency_id is None:
        raise PermissionDenied("Your role cannot request access to records about people.")
    if owner_agency.pk == actor.agency_id:
        raise ValidationError("You already see your own agency's records.")
    if not purpose.strip():
        raise ValidationError("State the purpose of the request.")
    request = DisclosureRequest.objects.create(
        requested_by=actor, person=person, owner_agency=owner_agency, tier=int(tier), purpose=purpose[:300]
    )
    audit_record(user=actor, action=AuditEvent.Action.CHANGE, object_type="disclosure_request",
                 object_id=request.pk, purpose=purpose, ip=ip,
                 detail={"person_id": person.pk, "owner_agency_id": owner_agency.pk, "tier": int(tier)})
    return request


@transaction.atomic
def disclosure_request_decide(
    *, actor, request: DisclosureRequest, approve: bool, note: str = "", days: int = REQUEST_DAYS, ip=None
) -> DisclosureRequest:
    """Approve (for ``days``) or decline a pending request."""
    if not may_decide_request(actor, request):
        raise PermissionDenied("Only the owning agency can decide this request.")
    if request.status != DisclosureRequest.Status.PENDING:
        raise ValidationError("This request has already been decided.")
    now = timezone.now()
    request.status = DisclosureRequest.Status.APPROVED if approve else DisclosureRequest.Status.DECLINED
    request.decided_by = actor
    request.decided_at = now
    request.decision_note = note[:300]
    request.expires_at = now + dt.timedelta(days=days) if approve else None
    request.save()
    audit_record(user=actor, action=AuditEvent.Action.CHANGE, object_type="disclosure_request",
                 object_id=request.pk, ip=ip, detail={"decision": request.status})
    return request


@transaction.atomic
def break_glass(*, actor, person, reason: str, owner_agency_ids: list[int], minutes: int = BREAK_GLASS_MINUTES,
                ip=None) -> BreakGlass:
    """Emergency full access to ``person`` for ``minutes``, with a stated reason.

    The caller must have re-authenticated the user. Each owning agency's DPO is alerted.
    """
    if not may_break_glass(actor):
        raise PermissionDenied("Your role at your agency may not break the glass.")
    if len(reason.strip()) < 10:
        raise ValidationError("State the emergency reason in a sentence.")
    grant = BreakGlass.objects.create(
        user=actor, person=person, reason=reason[:500], expires_at=timezone.now() + dt.timedelta(minutes=minutes)
    )
    Alert.objects.bulk_create(
        Alert(
            agency_id=agency_id,
            kind=Alert.Kind.BREAK_GLASS,
            message=f"{actor.get_username()} broke the glass on person {person.pk} for {minutes} minutes.",
            object_type="break_glass",
            object_id=str(grant.pk),
        )
        for agency_id in sorted(set(owner_agency_ids) - {actor.agency_id})
    )
    audit_record(user=actor, action=AuditEvent.Action.DISCLOSE, object_type="person", object_id=person.pk,
                 purpose=reason, ip=ip, detail={"break_glass": grant.pk, "minutes": minutes})
    return grant


@transaction.atomic
def break_glass_roles_default(*, actor, agency: Agency) -> int:
    """Give ``agency`` the default setting for each role that may break the glass, where it has none.

    On for key workers and practitioners of statutory agencies, off for everyone else. Settings
    already made are kept. Returns how many were added.
    """
    if actor is not None and not may_manage_break_glass(actor):
        raise PermissionDenied("Only partnership administrators may decide who breaks the glass.")
    have = set(BreakGlassRole.objects.filter(agency=agency).values_list("role", flat=True))
    statutory = agency.sector in STATUTORY_SECTORS
    added = BreakGlassRole.objects.bulk_create(
        BreakGlassRole(agency=agency, role=role, allowed=statutory and role in BREAK_GLASS_DEFAULT_ROLES)
        for role in BREAK_GLASS_ROLES
        if role not in have
    )
    if added:
        audit_record(user=actor, action=AuditEvent.Action.CHANGE, object_type="break_glass_role",
                     object_id=agency.pk, detail={"defaults": len(added),
                                                  "allowed": sum(1 for row in added if row.allowed)})
    return len(added)


@transaction.atomic
def break_glass_role_set(*, actor, agency: Agency, role: str, allowed: bool, ip=None) -> BreakGlassRole:
    """Allow, or stop, staff in ``role`` at ``agency`` breaking the glass. The next request follows it."""
    if actor is not None and not may_manage_break_glass(actor):
        raise PermissionDenied("Only partnership administrators may decide who breaks the glass.")
    if role not in BREAK_GLASS_ROLES:
        raise ValidationError(f"{Role(role).label if role in Role.values else role} cannot break the glass.")
    setting, _ = BreakGlassRole.objects.update_or_create(agency=agency, role=role, defaults={"allowed": allowed})
    audit_record(user=actor, action=AuditEvent.Action.CHANGE, object_type="break_glass_role",
                 object_id=setting.pk, ip=ip, detail={"agency": agency.code, "role": role, "allowed": allowed})
    return setting


SAR_IDENTITY = ("given_name", "family_name", "date_of_birth", "sex", "address_line", "postcode", "uprn", "nhs_number")
SAR_CONTACT = ("contact_type", "presenting_need", "outcome", "staff_role", "address_line", "postcode")


@transaction.atomic
def sar_export(*, actor, person, purpose: str = "Subject access request", ip=None) -> bytes:
    """Everything held about ``person`` across agencies, and who it was disclosed to, as a ZIP.

    Contains agency_records.csv, contacts.csv, disclosures.csv and manifest.json.
    """
    if not may_export_sar(actor, person.pk):
        raise PermissionDenied("Only a data protection officer of an agency holding records may export this.")
    records = AgencyPerson.objects.filter(links__person=person, links__undone_at__isnull=True).select_related("agency")
    contacts = Contact.objects.filter(agency_person__in=records).select_related("agency").order_by("occurred_at")
    events = AuditEvent.objects.filter(object_type="person", object_id=str(person.pk)).order_by("at")
    files = {
        "agency_records.csv": csv_text(
            ("agency", "person_ref", *SAR_IDENTITY),
            ((r.agency.code, r.person_ref, *(getattr(r, f) for f in SAR_IDENTITY)) for r in records),
        ),
        "contacts.csv": csv_text(
            ("agency", "record_id", "occurred_at", *SAR_CONTACT),
            ((c.agency.code, c.record_id, c.occurred_at.isoformat(), *(getattr(c, f) for f in SAR_CONTACT))
             for c in contacts),
        ),
        "disclosures.csv": csv_text(
            ("at", "username", "agency", "role", "action", "purpose", "agreement"),
            ((e.at.isoformat(), e.username, e.agency_code, e.role, e.action, e.purpose, e.detail.get("agreement") or "")
             for e in events),
        ),
        "manifest.json": json.dumps(
            {
                "person_id": person.pk,
                "generated_at": timezone.now().isoformat(),
                "agency_records": records.count(),
                "contacts": contacts.count(),
                "access_events": events.count(),
            },
            indent=2,
        ),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, content in files.items():
            bundle.writestr(name, content)
    audit_record(user=actor, action=AuditEvent.Action.EXPORT, object_type="person", object_id=person.pk,
                 purpose=purpose, ip=ip, detail={"subject_access_request": True})
    return buffer.getvalue()


@transaction.atomic
def anomaly_alerts_raise(*, actor=None, day: dt.date | None = None, caseload=None) -> list[Alert]:
    """Raise unusual-access alerts for the UK day ``day`` (default today), for the whole partnership.

    Each finding of ``sharing.selectors.access_findings`` alerts the DPO of every agency holding
    records about the people concerned, once per user, rule, agency and day: running again raises
    nothing new. ``caseload`` is passed on (views of a user's own cases are never unusual).
    Returns the alerts raised now.
    """
    if actor is not None and not sees_whole_partnership(actor):
        raise PermissionDenied("Only the partnership runs unusual-access detection.")
    day = day or timezone.localdate()
    zone = timezone.get_current_timezone()
    since = dt.datetime.combine(day, dt.time.min, tzinfo=zone)
    until = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    findings = access_findings(since=since, until=until, caseload=caseload)
    everyone = sorted(set().union(*(f.people for f in findings))) if findings else []
    holders: dict[int, set[int]] = {}
    for person_id, agency_id in PersonLink.objects.filter(
        undone_at__isnull=True, person_id__in=everyone
    ).values_list("person_id", "agency_person__agency_id"):
        holders.setdefault(agency_id, set()).add(person_id)
    raised = []
    for finding in findings:
        for agency_id, held in sorted(holders.items()):
            people = len(finding.people & held)
            if not people:
                continue
            alert, created = Alert.objects.get_or_create(
                agency_id=agency_id, kind=Alert.Kind.ANOMALY, rule=finding.rule, object_type="user",
                object_id=str(finding.user_id), day=day,
                defaults={"message": f"{finding.rule_label}: {finding.username} ({finding.agency_code}) viewed "
                                     f"{people} of your agency's people on {day:%d %B %Y}."},
            )
            if created:
                audit_record(user=actor, action=AuditEvent.Action.CHANGE, object_type="alert", object_id=alert.pk,
                             detail={"kind": Alert.Kind.ANOMALY.value, "rule": finding.rule,
                                     "user_id": finding.user_id, "agency_id": agency_id, "people": people,
                                     "day": day.isoformat()})
                raised.append(alert)
    return raised
