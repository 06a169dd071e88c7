"""Who may see and change the partnership's measures."""

from onecase.accounts.rules import sees_whole_partnership
from onecase.reports.rules import may_see_cohort_impact


def may_see_measures(user) -> bool:
    """Measures are partnership aggregates: the partnership's administrators and analysts (who
    commission and evaluate) see them, as they see cohort aggregates; ``None`` is the command line."""
    return may_see_cohort_impact(user)


def may_edit_measures(user) -> bool:
    """Partnership administrators define measures and their baselines; ``None`` is the command line."""
    return user is None or sees_whole_partnership(user)
