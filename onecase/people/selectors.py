"""Agency people and their links to people, scoped to what the signed-in user may see.

Partnership administrators see every agency's records; everyone else sees their own
agency's records only.
"""

from __future__ import annotations

from django.db.models import QuerySet

from onecase.accounts.rules import is_staff_member, sees_whole_partnership
from onecase.people.models import AgencyPerson, Person, PersonLink


def agency_people_visible_to(user) -> QuerySet[AgencyPerson]:
    """Agency people ``user`` may see: all for the partnership, otherwise their own agency's."""
    if not is_staff_member(user):
        return AgencyPerson.objects.none()
    if sees_whole_partnership(user):
        return AgencyPerson.objects.all()
    return AgencyPerson.objects.filter(agency_id=user.agency_id)


def active_links_visible_to(user) -> QuerySet[PersonLink]:
    """Current links of the agency people ``user`` may see."""
    return PersonLink.objects.filter(
        undone_at__isnull=True, agency_person__in=agency_people_visible_to(user)
    ).select_related("agency_person__agency", "address")


def household_members(household_ids) -> dict[int, list[int]]:
    """{household id: its people's ids}, for expanding a household subject into the people it concerns.
    Ids only: what identifies them to a viewer is the identity rule's to decide."""
    members: dict[int, list[int]] = {}
    ids = {h for h in household_ids if h}
    if ids:
        for pk, household in Person.objects.filter(household_id__in=ids).values_list("pk", "household_id"):
            members.setdefault(household, []).append(pk)
    return members
