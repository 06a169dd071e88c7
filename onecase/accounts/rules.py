"""Permission predicates: one set, used by views, API, CLI and templates alike.

Each predicate answers "may this user …?"; the selectors answer "which may they see?"
with the same rules, so a list can never show what a detail page would refuse.
"""

from django.conf import settings

from onecase.accounts.demo_credentials import is_demo_device_key, is_demo_password
from onecase.accounts.models import Agency, Role

# Roles that may load their agency's exports into the shared ledger.
IMPORT_ROLES = {Role.PARTNERSHIP_ADMIN, Role.AGENCY_ADMIN}
# Roles that never see person-level records of any agency (aggregates or audit only).
NO_PERSON_ACCESS = {Role.ANALYST, Role.AUDITOR}


def is_staff_member(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


def sees_people(user) -> bool:
    """An active member of staff whose role sees person-level records (not analysts or auditors)."""
    return is_staff_member(user) and user.role not in NO_PERSON_ACCESS


def sees_whole_partnership(user) -> bool:
    """Partnership administrators (and superusers) see every agency's records."""
    return is_staff_member(user) and (user.is_superuser or user.role == Role.PARTNERSHIP_ADMIN)


def may_see_records_of(user, agency_id: int) -> bool:
    """May ``user`` see the person-level records ``agency_id`` holds, as that agency holds them?

    Another agency's records reach a user only through disclosure (``sharing.rules``).
    """
    if not sees_people(user):
        return False
    return sees_whole_partnership(user) or user.agency_id == agency_id


def may_import_for(user, agency: Agency | None) -> bool:
    """May ``user`` import contacts for ``agency`` (None: an agency named in the file)?"""
    if not is_staff_member(user):
        return False
    if sees_whole_partnership(user):
        return True
    return (
        user.role in IMPORT_ROLES
        and user.agency_id is not None
        and agency is not None
        and agency.pk == user.agency_id
    )


def may_create_agencies(user) -> bool:
    return sees_whole_partnership(user)


def refuses_demo_password(password: str) -> bool:
    """Is ``password`` a published demo password, which production never accepts?"""
    return bool(getattr(settings, "PRODUCTION", False)) and is_demo_password(password)


def refuses_demo_device(device) -> bool:
    """Is ``device`` the published demo authenticator, which production never accepts?"""
    return bool(getattr(settings, "PRODUCTION", False)) and is_demo_device_key(getattr(device, "key", ""))


# Admin-site rights over accounts: only superusers change them.
PRIVILEGE_FIELDS = frozenset({"is_staff", "is_superuser", "groups", "user_permissions"})


def may_change_user(actor, user, changes: dict) -> bool:
    """May ``actor`` make ``changes`` (field: new value) to the account ``user``?

    Superusers any; partnership administrators any but admin-site rights; agency administrators
    their own agency's staff, who stay in that agency and below partnership administrator.
    """
    if not is_staff_member(actor):
        return False
    if actor.is_superuser:
        return True
    if PRIVILEGE_FIELDS & set(changes):
        return False
    if actor.role == Role.PARTNERSHIP_ADMIN:
        return True
    if actor.role != Role.AGENCY_ADMIN or actor.agency_id is None or user.agency_id != actor.agency_id:
        return False
    agency = changes.get("agency", user.agency_id)
    return getattr(agency, "pk", agency) == actor.agency_id and changes.get("role", user.role) != Role.PARTNERSHIP_ADMIN


def may_create_user(actor, agency, role: str) -> bool:
    """May ``actor`` create an account in ``agency`` with ``role``? The partnership any; an agency
    administrator in their own agency, below partnership administrator (as ``may_change_user``)."""
    if not is_staff_member(actor):
        return False
    if actor.is_superuser or sees_whole_partnership(actor):
        return True
    return (actor.role == Role.AGENCY_ADMIN and agency is not None and actor.agency_id == agency.pk
            and role != Role.PARTNERSHIP_ADMIN)


def may_create_token_for(user, owner) -> bool:
    """May ``user`` issue an API token that acts as ``owner``? Only for themselves, or as partnership admin."""
    if not is_staff_member(user) or not owner.is_active:
        return False
    return owner.pk == user.pk or sees_whole_partnership(user)


def may_revoke_token(user, token) -> bool:
    """Its owner, an agency administrator of the owner's agency, or a partnership administrator."""
    if not is_staff_member(user):
        return False
    if sees_whole_partnership(user) or token.user_id == user.pk:
        return True
    return (
        user.role == Role.AGENCY_ADMIN
        and user.agency_id is not None
        and token.user.agency_id == user.agency_id
    )


def may_deactivate(actor, user) -> bool:
    """Partnership administrators switch off any account; agency administrators their agency's."""
    if not is_staff_member(actor) or actor.pk == user.pk:
        return False
    if sees_whole_partnership(actor):
        return True
    return actor.role == Role.AGENCY_ADMIN and actor.agency_id is not None and actor.agency_id == user.agency_id
