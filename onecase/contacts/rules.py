"""Who may change the demand ledger's classifications."""

from onecase.accounts.models import Role
from onecase.accounts.rules import is_staff_member, sees_people, sees_whole_partnership

RECLASSIFY_ROLES = {Role.AGENCY_ADMIN, Role.KEY_WORKER, Role.PRACTITIONER}
# Roles that meet citizens (or administer the agency's records) log single contacts and concerns.
LOG_ROLES = {Role.AGENCY_ADMIN, Role.KEY_WORKER, Role.PRACTITIONER, Role.FRONT_DOOR, Role.VOLUNTARY_PARTNER}


def may_reclassify(user, contact) -> bool:
    """Staff of the contact's own agency (or the partnership) may correct its classification."""
    if not is_staff_member(user):
        return False
    return sees_whole_partnership(user) or (user.agency_id == contact.agency_id and user.role in RECLASSIFY_ROLES)


def may_view_profiles(user) -> bool:
    """Household and person profiles: roles that see person-level records."""
    return sees_people(user)


def may_log_contacts(user) -> bool:
    """Staff of an agency in a role that meets citizens log contacts and concerns, for their own agency only."""
    return is_staff_member(user) and user.agency_id is not None and user.role in LOG_ROLES


def may_read_demand_reports(user) -> bool:
    """Partnership demand reports (failure demand, demands in context): staff, but not auditors, who
    read the audit trail and not the demand ledger."""
    return is_staff_member(user) and user.role != Role.AUDITOR
