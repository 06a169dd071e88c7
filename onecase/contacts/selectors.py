"""The demand ledger, scoped to what the signed-in user may see."""

from django.db.models import QuerySet

from onecase.accounts.rules import NO_PERSON_ACCESS, is_staff_member, sees_whole_partnership
from onecase.contacts.models import Contact


def contacts_visible_to(user) -> QuerySet[Contact]:
    """Contacts ``user`` may see as records (``accounts.rules.may_see_records_of``)."""
    if not is_staff_member(user) or user.role in NO_PERSON_ACCESS:
        return Contact.objects.none()
    if sees_whole_partnership(user):
        return Contact.objects.all()
    return Contact.objects.filter(agency_id=user.agency_id)

