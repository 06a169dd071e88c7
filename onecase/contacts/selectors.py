"""The demand ledger, scoped to what the signed-in user may see."""

from django.db.models import QuerySet
from django.http import Http404

from onecase.accounts.rules import sees_people, sees_whole_partnership
from onecase.audit.models import AuditEvent
from onecase.audit.services import audit_record
from onecase.contacts.labels import contact_type_label
from onecase.contacts.models import Contact, NeedCategory
from onecase.contacts.rules import may_log_contacts
from onecase.costs.models import UnitCost

# Contact types any agency may log, whatever its own system calls its contacts.
LOGGED_TYPES = ("concern", "other")


def contacts_visible_to(user) -> QuerySet[Contact]:
    """Contacts ``user`` may see as records (``accounts.rules.may_see_records_of``)."""
    if not sees_people(user):
        return Contact.objects.none()
    if sees_whole_partnership(user):
        return Contact.objects.all()
    return Contact.objects.filter(agency_id=user.agency_id)



def contact_read(user, pk: int, *, ip=None) -> Contact:
    """``contact_for``, recording the view."""
    contact = contact_for(user, pk)
    audit_record(user=user, action=AuditEvent.Action.VIEW, object_type="contact", object_id=contact.pk, ip=ip)
    return contact


def contact_for(user, pk: int) -> Contact:
    """One contact the user may see as a record; otherwise 404, whether or not it exists."""
    contact = contacts_visible_to(user).select_related("agency", "need_category").filter(pk=pk).first()
    if contact is None:
        raise Http404("No such contact.")
    return contact


def need_categories() -> QuerySet[NeedCategory]:
    """The need categories, by name (reference data, not personal)."""
    return NeedCategory.objects.order_by("name")


def log_contact_types(user) -> list[tuple[str, str]]:
    """The contact types ``user`` may log for their agency, as (value, label): those its contacts use
    and its unit costs name, by label, then a concern and other (none for a role that logs nothing)."""
    if not may_log_contacts(user):
        return []
    used = set(Contact.objects.filter(agency_id=user.agency_id).order_by().values_list("contact_type", flat=True)
               .distinct())
    used |= set(UnitCost.objects.filter(agency_id=user.agency_id).values_list("contact_type", flat=True))
    used -= set(LOGGED_TYPES)
    ordered = sorted(((t, contact_type_label(t)) for t in used if t), key=lambda choice: choice[1].casefold())
    return ordered + [(t, contact_type_label(t)) for t in LOGGED_TYPES]
