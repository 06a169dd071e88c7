"""Writing the audit trail. Every layer above records access through these; they import no domain app."""

import json

from django.db import connection
from django.utils import timezone

from onecase.audit.models import AuditEvent


def audit_record(
    *,
    user,
    action: str,
    object_type: str = "",
    object_id: str | int = "",
    purpose: str = "",
    ip: str | None = None,
    detail: dict | None = None,
) -> AuditEvent:
    """Write one access event. ``detail`` holds ids and counts only, never personal data."""
    authenticated = bool(user is not None and getattr(user, "is_authenticated", False))
    agency = getattr(user, "agency", None) if authenticated else None
    return AuditEvent.objects.create(
        user=user if authenticated else None,
        username=user.get_username() if authenticated else "",
        agency_code=agency.code if agency else "",
        role=getattr(user, "role", "") if authenticated else "",
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        purpose=purpose[:300],
        ip=ip,
        detail=detail or {},
    )


def audit_trail_read(*, user, page: str, object_id: str | int = "", ip=None, **counts: int) -> AuditEvent:
    """Record that ``user`` read the audit trail: which page, and how many rows (counts only)."""
    return audit_record(user=user, action=AuditEvent.Action.VIEW, object_type="audit", object_id=object_id,
                        ip=ip, detail={"page": page, **counts})


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None


def disclosure_record(
    *, user, person_id: int, owner_agency_id: int, disclosure, purpose: str = "", ip=None,
    object_type: str = "person",
) -> AuditEvent:
    """Record that ``owner_agency_id``'s records about a person (or, with ``object_type``
    "household", about a household's people) were disclosed to ``user``.

    ``disclosure`` is the ``sharing.rules.Disclosure`` relied on: its tier, basis, agreement and
    the purpose the agreement was relied on for.
    """
    return audit_record(
        user=user,
        action=AuditEvent.Action.DISCLOSE,
        object_type=object_type,
        object_id=person_id,
        purpose=purpose,
        ip=ip,
        detail={
            "owner_agency_id": owner_agency_id,
            "tier": disclosure.tier.label,
            "basis": disclosure.basis,
            "agreement": disclosure.agreement.reference if disclosure.agreement else None,
            "agreement_purpose": getattr(disclosure, "purpose", "") or None,
        },
    )


def disclosures_record(*, user, disclosures: list[tuple[str, int, int, object]], purpose: str = "",
                       ip=None) -> int:
    """Record many disclosures at once: (object type, object id, owning agency id, Disclosure) each.
    Returns how many were recorded."""
    if not disclosures:
        return 0
    authenticated = bool(user is not None and getattr(user, "is_authenticated", False))
    agency = getattr(user, "agency", None) if authenticated else None
    common = {
        "user": user if authenticated else None,
        "username": user.get_username() if authenticated else "",
        "agency_code": agency.code if agency else "",
        "role": getattr(user, "role", "") if authenticated else "",
        "action": AuditEvent.Action.DISCLOSE,
        "purpose": purpose[:300],
        "ip": ip,
    }
    details: dict[tuple[int, int], dict] = {}  # one detail per owning agency and Disclosure relied on
    rows = []
    for object_type, object_id, owner_agency_id, disclosure in disclosures:
        key = (owner_agency_id, id(disclosure))
        if key not in details:
            details[key] = {
                "owner_agency_id": owner_agency_id,
                "tier": disclosure.tier.label,
                "basis": disclosure.basis,
                "agreement": disclosure.agreement.reference if disclosure.agreement else None,
                "agreement_purpose": getattr(disclosure, "purpose", "") or None,
            }
        rows.append((object_type, str(object_id), details[key]))
    if connection.vendor == "postgresql":
        _insert_disclosures(common, rows)
    else:
        AuditEvent.objects.bulk_create(
            [AuditEvent(**common, object_type=t, object_id=i, detail=detail) for t, i, detail in rows]
        )
    return len(rows)


def _insert_disclosures(common: dict, rows: list[tuple[str, str, dict]]) -> None:
    """One INSERT of ``rows`` (object type, object id, detail) with the columns they share: the
    varying columns go as three arrays, not a placeholder per value and a model instance per row,
    which cost more than the insert itself for the few hundred disclosures of a page."""
    fields = {f.name: f for f in AuditEvent._meta.concrete_fields}
    quote = connection.ops.quote_name
    shared = ["at", "user", "username", "agency_code", "role", "action", "purpose", "ip"]
    values = {**common, "at": timezone.now(), "user": common["user"].pk if common["user"] is not None else None}
    params = [fields[name].get_db_prep_save(values[name], connection) for name in shared]
    columns = [quote(fields[name].column) for name in [*shared, "object_type", "object_id", "detail"]]
    encoded: dict[int, str] = {}
    details = [encoded.setdefault(id(detail), json.dumps(detail)) for _, _, detail in rows]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(AuditEvent._meta.db_table)} ({', '.join(columns)}) "  # noqa: S608
            f"SELECT {', '.join(['%s'] * len(shared))}, r.object_type, r.object_id, r.detail::jsonb "
            "FROM unnest(%s::text[], %s::text[], %s::text[]) AS r(object_type, object_id, detail)",
            [*params, [t for t, _, _ in rows], [i for _, i, _ in rows], details],
        )
