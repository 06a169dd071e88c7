"""Agencies and staff, scoped to what the signed-in user may see."""

from django.db.models import QuerySet

from onecase.accounts.models import Agency
from onecase.accounts.rules import IMPORT_ROLES, is_staff_member, sees_whole_partnership


def agencies_visible_to(user) -> QuerySet[Agency]:
    """Agencies whose records ``user`` may see: all for the partnership, otherwise their own."""
    if not is_staff_member(user):
        return Agency.objects.none()
    if sees_whole_partnership(user):
        return Agency.objects.all()
    return Agency.objects.filter(pk=user.agency_id)


def import_agencies_for(user) -> QuerySet[Agency]:
    """Agencies ``user`` may import for (the same rule as ``may_import_for``)."""
    if sees_whole_partnership(user):
        return Agency.objects.all()
    if is_staff_member(user) and user.role in IMPORT_ROLES:
        return Agency.objects.filter(pk=user.agency_id)
    return Agency.objects.none()
