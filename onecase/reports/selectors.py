"""Partnership-level counts. Aggregates only: no personal data leaves these functions."""

from django.db.models import Count, Exists, OuterRef, QuerySet

from onecase.accounts.models import Agency, Role
from onecase.accounts.rules import is_staff_member, sees_whole_partnership
from onecase.contacts.models import Contact
from onecase.people.models import AgencyPerson, Household, Person, PersonLink


def partnership_totals() -> dict[str, int]:
    """Whole-partnership totals, for operators at the command line.

    People are those with at least one active link: a person emptied by a reviewer's
    decision (their records merged into another, or split out) is kept but not counted.
    """
    active = PersonLink.objects.filter(person=OuterRef("pk"), undone_at__isnull=True)
    return {
        "agencies": Agency.objects.count(),
        "source_people": AgencyPerson.objects.count(),
        "contacts": Contact.objects.count(),
        "people": Person.objects.filter(Exists(active)).count(),
        "households": Household.objects.count(),
    }


def aggregate_agencies_for(user) -> QuerySet[Agency]:
    """Agencies whose figures ``user`` may see in aggregate: all for the partnership and analysts."""
    if not is_staff_member(user):
        return Agency.objects.none()
    if sees_whole_partnership(user) or user.role == Role.ANALYST:
        return Agency.objects.all()
    return Agency.objects.filter(pk=user.agency_id)


def agency_counts_for(user) -> list[dict]:
    """One row per agency ``user`` may count: code, name, sector, contacts and agency people."""
    agencies = list(aggregate_agencies_for(user).order_by("name"))
    ids = [a.pk for a in agencies]
    contacts = dict(
        Contact.objects.filter(agency_id__in=ids).values_list("agency_id").annotate(n=Count("id")).order_by()
    )
    people = dict(
        AgencyPerson.objects.filter(agency_id__in=ids).values_list("agency_id").annotate(n=Count("id")).order_by()
    )
    return [
        {"agency": agency, "contacts": contacts.get(agency.pk, 0), "source_people": people.get(agency.pk, 0)}
        for agency in agencies
    ]
