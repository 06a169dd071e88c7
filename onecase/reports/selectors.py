"""Partnership-level counts. Aggregates only: no personal data leaves these functions."""

from django.db.models import Count

from onecase.accounts.models import Agency
from onecase.accounts.selectors import agencies_visible_to
from onecase.contacts.models import Contact
from onecase.contacts.selectors import contacts_visible_to
from onecase.people.models import AgencyPerson, Household, Person
from onecase.people.selectors import agency_people_visible_to


def partnership_totals() -> dict[str, int]:
    """Whole-partnership totals, for operators at the command line."""
    return {
        "agencies": Agency.objects.count(),
        "source_people": AgencyPerson.objects.count(),
        "contacts": Contact.objects.count(),
        "people": Person.objects.count(),
        "households": Household.objects.count(),
    }


def agency_counts_for(user) -> list[dict]:
    """One row per agency ``user`` may see: code, name, sector, contacts and agency people."""
    contacts = dict(
        contacts_visible_to(user).values_list("agency_id").annotate(n=Count("id")).values_list("agency_id", "n")
    )
    people = dict(
        agency_people_visible_to(user).values_list("agency_id").annotate(n=Count("id")).values_list("agency_id", "n")
    )
    return [
        {
            "agency": agency,
            "contacts": contacts.get(agency.pk, 0),
            "source_people": people.get(agency.pk, 0),
        }
        for agency in agencies_visible_to(user).order_by("name")
    ]
