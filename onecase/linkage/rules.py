"""Linkage permission predicates, in the style of onecase/accounts/rules.py.

Who may run linkage, and who may review it: confirm or reject a pair, split a record
out of a person, or undo such a decision. Reviewing needs a reviewing role and sight of
every agency record the decision touches, so a reviewer never decides about records
their selectors would not show them.
"""

from onecase.accounts.models import Role
from onecase.accounts.rules import is_staff_member, sees_people, sees_whole_partnership

REVIEW_ROLES = {Role.PARTNERSHIP_ADMIN, Role.AGENCY_ADMIN, Role.DPO}


def may_run_linkage(user) -> bool:
    """Linkage reads every agency's records, so only the partnership may run it."""
    return sees_whole_partnership(user)


def may_review_linkage(user) -> bool:
    """Partnership administrators, agency administrators and data protection officers review links."""
    return is_staff_member(user) and (user.is_superuser or user.role in REVIEW_ROLES)


def may_see_agency_person(user, agency_person) -> bool:
    if sees_whole_partnership(user):
        return True
    return is_staff_member(user) and user.agency_id is not None and agency_person.agency_id == user.agency_id


def may_review_records(user, *agency_people) -> bool:
    """May ``user`` decide about these agency people (a pair, or a record and its person's others)?"""
    return may_review_linkage(user) and all(may_see_agency_person(user, ap) for ap in agency_people)


def may_search_people(user) -> bool:
    """Staff whose role sees people may search for them; what they find follows the identity rule."""
    return sees_people(user)
