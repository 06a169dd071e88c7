"""Who may change unit costs."""

from onecase.accounts.rules import sees_whole_partnership


def may_manage_unit_costs(user) -> bool:
    """Unit costs serve the whole partnership, so only partnership administrators set them."""
    return sees_whole_partnership(user)
