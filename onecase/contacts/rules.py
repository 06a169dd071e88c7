"""Who may change the demand ledger's classifications."""

from onecase.accounts.models import Role
from onecase.accounts.rules import is_staff_member, sees_people, sees_whole_partnership

RECLASSIFY_ROLES = {Role.AGENCY_ADMIN, Role.KEY_WORKER, Role.PRACTITIONER}


def may_reclassify(user, contact) -> bool:
    """Staff of the contact's own agency (or the partnership) may correct its classification."""
    if not is_staff_member(user):
        return False
    return sees_whole_partnership(user) or (user.agency_id == contact.agency_id and user.role in RECLASSIFY_ROLES)


def may_view_profiles(user) -> bool:
    """Household and person profiles: roles that see person-level records."""
    return sees_people(user)
