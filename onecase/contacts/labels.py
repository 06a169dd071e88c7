"""The ledger's codes in words: contact types and agencies, from this one place."""

from onecase.accounts.models import Agency


def contact_type_label(contact_type: str) -> str:
    """A contact type in words: ``rent_arrears_contact`` → "Rent arrears contact"."""
    words = " ".join((contact_type or "").replace("_", " ").split())
    return words[:1].upper() + words[1:] if words else "Not recorded"


def agency_names() -> dict[str, str]:
    """{agency code: agency name} for every agency in the partnership (reference data, not personal)."""
    return dict(Agency.objects.values_list("code", "name"))
