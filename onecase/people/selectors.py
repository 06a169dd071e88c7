"""Agency people, people and households, scoped to what the signed-in user may see."""

from django.db.models import QuerySet

from onecase.accounts.rules import is_staff_member, sees_whole_partnership
from onecase.people.models import AgencyPerson


def agency_people_visible_to(user) -> QuerySet[AgencyPerson]:
    """Agency people ``user`` may see: all for the partnership, otherwise their own agency's."""
    if not is_staff_member(user):
        return AgencyPerson.objects.none()
    if sees_whole_partnership(user):
        return AgencyPerson.objects.all()
    return AgencyPerson.objects.filter(agency_id=user.agency_id)
