"""Who may do what with multi-agency meetings. One set of predicates for views, API and services.

A series is seen by the staff of its member agencies (the chair's agency included) and by the
partnership. The chair's agency runs it: meetings, attendees, agenda and decisions. Every member
agency adds its research notes. Minutes go to named recipients only; the chair's agency
administrators and partnership administrators may read them too. Analysts and auditors see
aggregate costs and overlap counts, never who was talked about.
"""

from onecase.accounts.models import Role
from onecase.accounts.rules import is_staff_member, sees_people, sees_whole_partnership

# Roles in the chair's agency that may run its meetings.
CHAIR_ROLES = {Role.AGENCY_ADMIN, Role.KEY_WORKER, Role.PRACTITIONER}


def member_agency_ids(series) -> set[int]:
    """The series' member agencies, the chair's agency always among them."""
    return {series.chair_agency_id, *series.members.values_list("pk", flat=True)}


def is_member_staff(user, series) -> bool:
    """Staff of a member agency in a role that sees person-level records."""
    return (
        sees_people(user)
        and user.agency_id is not None
        and user.agency_id in member_agency_ids(series)
    )


def may_see_series(user, series) -> bool:
    return sees_whole_partnership(user) or is_member_staff(user, series)


def may_see_meeting(user, meeting) -> bool:
    return may_see_series(user, meeting.series)


def may_create_series(user) -> bool:
    """Series (and who sits on them) are set up by the partnership."""
    return sees_whole_partnership(user)


def is_chair_staff(user, series) -> bool:
    return is_staff_member(user) and user.agency_id == series.chair_agency_id and user.role in CHAIR_ROLES


def may_run_series(user, series) -> bool:
    """Schedule meetings of the series: the chair's agency, or the partnership."""
    return sees_whole_partnership(user) or is_chair_staff(user, series)


def may_manage_meeting(user, meeting) -> bool:
    """Attendees, agenda (by hand or proposed) and decisions: the chair's agency, or the partnership."""
    return may_run_series(user, meeting.series)


def may_add_research(user, item) -> bool:
    """Each member agency adds what its own records say, before the meeting."""
    series = item.meeting.series
    return (sees_whole_partnership(user) and user.agency_id is not None) or is_member_staff(user, series)


def may_write_minutes(user, meeting) -> bool:
    """The chair's agency administrators, or the partnership."""
    if not is_staff_member(user):
        return False
    return sees_whole_partnership(user) or (
        user.role == Role.AGENCY_ADMIN and user.agency_id == meeting.series.chair_agency_id
    )


def may_read_minutes(user, minutes) -> bool:
    """Named recipients, the chair's agency administrators and partnership administrators only."""
    if not is_staff_member(user):
        return False
    if may_write_minutes(user, minutes.meeting):
        return True
    return sees_people(user) and minutes.recipients.filter(pk=user.pk).exists()


def may_receive_minutes(user, series) -> bool:
    """Minutes may be sent to staff of the member agencies (person-level roles)."""
    return is_member_staff(user, series)


def sees_aggregates_only(user) -> bool:
    """Analysts and auditors: costs and overlap counts across every series, no subjects."""
    return is_staff_member(user) and not sees_people(user) and not sees_whole_partnership(user)
