"""Who may load place-based data."""

from onecase.accounts.rules import sees_whole_partnership


def may_import_place_data(user) -> bool:
    """Street crime and deprivation serve the whole partnership, so only partnership administrators load them."""
    return sees_whole_partnership(user)
