"""Who may see the partnership's impact and savings reports."""

from onecase.accounts.models import Role
from onecase.accounts.rules import is_staff_member, sees_people, sees_whole_partnership

# A cohort of fewer cases than this is not shown to someone who may not see its cases one by one:
# its totals would be one family's figures.
MIN_COHORT_CASES = 3


def may_see_cohort_impact(user) -> bool:
    """Cohort aggregates (impact and savings): the partnership's administrators and analysts, who
    commission and evaluate; ``None`` is an operator at the command line."""
    if user is None:
        return True
    return is_staff_member(user) and (sees_whole_partnership(user) or user.role == Role.ANALYST)


def cohort_withheld(user, cases: int, cases_seen: int) -> bool:
    """Are a cohort's totals withheld from ``user``: too few cases, and not every one of them theirs to see?"""
    return user is not None and 0 < cases < MIN_COHORT_CASES and cases_seen < cases


def may_read_impact(user) -> bool:
    """Cohort aggregates, or at least one case the user may see one by one (a case team's figures)."""
    from onecase.cases.selectors import cases_visible_to

    return may_see_cohort_impact(user) or (sees_people(user) and cases_visible_to(user).exists())
