"""Who may change what about people (beyond linkage, which has its own rules)."""

from onecase.accounts.rules import sees_whole_partnership


def may_mark_vip(user) -> bool:
    """Marking a person for extra protection is a partnership decision."""
    return sees_whole_partnership(user)
