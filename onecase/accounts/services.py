"""Writes for agencies and staff. Each checks permission and audits in the same transaction."""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from onecase.accounts.codes import AGENCY_CODE, normalise_agency_code
from onecase.accounts.models import Agency, ApiToken, Role, Sector, User
from onecase.accounts.rules import (
    may_change_user,
    may_create_agencies,
    may_create_token_for,
    may_create_user,
    may_deactivate,
    may_revoke_token,
    refuses_demo_device,
)
from onecase.accounts.signals import agency_created
from onecase.audit.models import AuditEvent
from onecase.audit.services import audit_record

TOKEN_NAME_MAX = 100
# What user_update changes; passwords go through user_password_set.
USER_FIELDS = frozenset({"username", "first_name", "last_name", "email", "agency", "role", "is_active", "is_staff",
                         "is_superuser", "groups", "user_permissions"})
USER_MANY = frozenset({"groups", "user_permissions"})
TOKEN_DAYS_MAX = 366


@transaction.atomic
def agency_create(*, actor, code: str, name: str, sector: str = Sector.OTHER, contact_route: str | None = None
                  ) -> Agency:
    """Create an agency, or update the name and sector (and, when given, the contact route) of an
    existing one with that code. The admin pages save agencies through it too.

    ``actor`` None is the command line (a trusted operator).
    """
    if actor is not None and not may_create_agencies(actor):
        raise PermissionDenied("Only partnership administrators may create agencies.")
    code = normalise_agency_code(code)
    if not AGENCY_CODE.match(code):
        raise ValidationError("Agency codes use letters, digits, - or _ only (at most 40).")
    if sector not in Sector.values:
        raise ValidationError(f"Unknown sector {sector!r}; choose one of {', '.join(Sector.values)}.")
    fields = {"name": name, "sector": sector}
    if contact_route is not None:
        fields["contact_route"] = contact_route
    agency, created = Agency.objects.update_or_create(code=code, defaults=fields)
    if created:
        agency_created.send(sender=Agency, actor=actor, agency=agency)  # sharing: break-the-glass defaults
    audit_record(
        user=actor,
        action=AuditEvent.Action.CHANGE,
        object_type="agency",
        object_id=agency.pk,
        detail={"code": code, "created": created},
    )
    return agency


@transaction.atomic
def user_create(*, actor, username: str, agency: Agency | None, role: str, password: str | None, email: str = "",
                ip=None) -> User:
    """Create a staff account in ``agency`` with ``role``. Passwords are hashed with Argon2; None: no password
    sign-in until one is set."""
    if actor is not None and not may_create_user(actor, agency, role):
        raise PermissionDenied("You may only create accounts in your own agency, below partnership administrator.")
    if role not in Role.values:
        raise ValidationError(f"Unknown role {role!r}; choose one of {', '.join(Role.values)}.")
    if User.objects.filter(username=username).exists():
        raise ValidationError(f"The username {username!r} is taken.")
    user = User(username=username, agency=agency, role=role, email=email)
    user.set_password(password)  # None: an unusable password
    user.full_clean(exclude=["password"])
    user.save()
    audit_record(
        user=actor,
        action=AuditEvent.Action.CHANGE,
        object_type="user",
        object_id=user.pk,
        ip=ip,
        detail={"created": True, "role": role, "agency": agency.code if agency else ""},
    )
    return user


@transaction.atomic
def user_deactivate(*, actor, user: User, ip=None) -> User:
    """Switch an account off: it cannot sign in and its sessions end. Staff are never deleted,
    so the audit trail keeps who did what."""
    if actor is not None and not may_deactivate(actor, user):
        raise PermissionDenied("You may only switch off accounts in your own agency.")
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
    audit_record(user=actor, action=AuditEvent.Action.CHANGE, object_type="user", object_id=user.pk, ip=ip,
                 detail={"deactivated": True})
    return user


@transaction.atomic
def user_update(*, actor, user: User, ip=None, **fields) -> list[str]:
    """Change an account's name, email, agency, role, on/off or admin-site rights; returns the fields changed.

    Audited with the names of the fields changed, never their values.
    """
    unknown = set(fields) - USER_FIELDS
    if unknown:
        raise ValidationError(f"These account fields cannot be changed here: {', '.join(sorted(unknown))}.")
    if "role" in fields and fields["role"] not in Role.values:
        raise ValidationError(f"Unknown role {fields['role']!r}; choose one of {', '.join(Role.values)}.")
    saved = User.objects.select_for_update().get(pk=user.pk)
    changes = {}
    for name, value in fields.items():
        if name in USER_MANY:
            if {getattr(v, "pk", v) for v in value} != set(getattr(saved, name).values_list("pk", flat=True)):
                changes[name] = value
        elif getattr(saved, name) != value:
            changes[name] = value
    if actor is not None and not may_change_user(actor, saved, changes):
        raise PermissionDenied("You may not make these changes to this account.")
    if not changes:
        return []
    single = {name: value for name, value in changes.items() if name not in USER_MANY}
    for name, value in single.items():
        setattr(saved, name, value)
        setattr(user, name, value)
    saved.full_clean(exclude=["password"])
    if single:
        saved.save(update_fields=sorted(single))
    for name in USER_MANY & set(changes):
        getattr(saved, name).set(changes[name])
    audit_record(user=actor, action=AuditEvent.Action.CHANGE, object_type="user", object_id=saved.pk, ip=ip,
                 detail={"changed": sorted(changes)})
    return sorted(changes)


@transaction.atomic
def user_password_set(*, actor, user: User, password: str | None, ip=None) -> User:
    """Set an account's password (None: no password sign-in). Audited as a change of "password", no value."""
    if actor is not None and not may_change_user(actor, user, dict.fromkeys(["password"])):
        raise PermissionDenied("You may not set this account's password.")
    User.objects.select_for_update().filter(pk=user.pk).first()
    user.set_password(password)
    user.save(update_fields=["password"])
    audit_record(user=actor, action=AuditEvent.Action.CHANGE, object_type="user", object_id=user.pk, ip=ip,
                 detail={"changed": ["password"]})
    return user


@transaction.atomic
def token_create(*, actor, user: User, name: str, days: int | None = None, ip=None) -> tuple[ApiToken, str]:
    """Issue an API token acting as ``user``; returns the token and its secret.

    Only a digest of the secret is stored: show it once. ``days`` defaults to
    ONECASE_API_TOKEN_DAYS. ``actor`` None is the command line; web pages check a fresh
    two-factor code before calling this.
    """
    if actor is not None and not may_create_token_for(actor, user):
        raise PermissionDenied("You may only create API tokens for yourself.")
    if not user.is_active:
        raise ValidationError("API tokens can only be issued to active accounts.")
    name = name.strip()
    if not name:
        raise ValidationError("Enter a name for the token.")
    if len(name) > TOKEN_NAME_MAX:
        raise ValidationError(f"The token name must be {TOKEN_NAME_MAX} characters or fewer.")
    days = settings.ONECASE_API_TOKEN_DAYS if days is None else days
    if not 1 <= days <= TOKEN_DAYS_MAX:
        raise ValidationError(f"A token lasts between 1 and {TOKEN_DAYS_MAX} days.")
    token, secret = ApiToken.objects.create(user=user, expiry=timedelta(days=days), name=name)
    audit_record(
        user=actor, action=AuditEvent.Action.CHANGE, object_type="api_token", object_id=token.pk, ip=ip,
        detail={"issued": True, "user_id": user.pk, "days": days},
    )
    return token, secret


@transaction.atomic
def token_revoke(*, actor, token: ApiToken, ip=None) -> None:
    """Revoke an API token: it stops working at once. ``actor`` None is the command line."""
    if actor is not None and not may_revoke_token(actor, token):
        raise PermissionDenied("You may not revoke this token.")
    token_id, owner_id = token.pk, token.user_id
    token.delete()
    audit_record(
        user=actor, action=AuditEvent.Action.CHANGE, object_type="api_token", object_id=token_id, ip=ip,
        detail={"revoked": True, "user_id": owner_id},
    )


@transaction.atomic
def two_factor_device_create(*, actor: User, ip=None):
    """Give ``actor`` an authenticator to set up (a new secret key), or the one already waiting for its first code.

    Only the signed-in user sets up their own; audited when a key is made.
    """
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if actor is None or not actor.is_authenticated or not actor.is_active:
        raise PermissionDenied("Sign in to set up your authenticator.")
    User.objects.select_for_update().filter(pk=actor.pk).first()  # one key even if the button is pressed twice
    if TOTPDevice.objects.filter(user=actor, confirmed=True).exists():
        raise ValidationError("Your authenticator is already set up.")
    device = TOTPDevice.objects.filter(user=actor, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=actor, name="Authenticator app", confirmed=False)
        audit_record(user=actor, action=AuditEvent.Action.CHANGE, object_type="user", object_id=actor.pk, ip=ip,
                     detail={"two_factor": "authenticator key made"})
    return device


@transaction.atomic
def two_factor_confirm(*, actor: User, device, code: str, ip=None) -> bool:
    """Confirm a new TOTP device with its first code. Audited either way."""
    ok = device.user_id == actor.pk and device.verify_token(code)
    if ok:
        device.confirmed = True
        device.save(update_fields=["confirmed"])
    audit_record(
        user=actor,
        action=AuditEvent.Action.SIGN_IN if ok else AuditEvent.Action.SIGN_IN_FAILED,
        object_type="user",
        object_id=actor.pk,
        ip=ip,
        detail={"two_factor": "set up" if ok else "wrong code at set-up"},
    )
    return ok


@transaction.atomic
def two_factor_verify(*, actor: User, code: str, ip=None):
    """Check a TOTP code against the user's confirmed devices; returns the device or None.

    In production the published demo authenticator never passes (audited as refused).
    """
    from django_otp import match_token

    device = match_token(actor, code)
    if device is not None and refuses_demo_device(device):
        audit_record(user=actor, action=AuditEvent.Action.REFUSED, object_type="user", object_id=actor.pk, ip=ip,
                     detail={"demo_credentials": "authenticator"})
        return None
    audit_record(
        user=actor,
        action=AuditEvent.Action.SIGN_IN if device else AuditEvent.Action.SIGN_IN_FAILED,
        object_type="user",
        object_id=actor.pk,
        ip=ip,
        detail={"two_factor": "verified" if device else "wrong code"},
    )
    return device
