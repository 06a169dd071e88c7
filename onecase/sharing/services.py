"""Audit writes. Called inside the transaction of the action they record."""

from onecase.sharing.models import AuditEvent


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


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None
