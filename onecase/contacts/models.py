import pghistory
import pgtrigger
from django.db import models
from django.db.models import Q


class DemandClass(models.TextChoices):
    VALUE = "value", "Value demand"
    FAILURE = "failure", "Failure demand"
    UNKNOWN = "unknown", "Unknown"


# Columns as the agency sent them (the import writes them), and the classifications staff set by hand.
AGENCY_SUPPLIED = ("agency_id", "record_id", "agency_person_id", "occurred_at", "contact_type", "presenting_need",
                   "outcome", "staff_role", "source_system", "address_line", "postcode", "uprn")


def _history_condition() -> str:
    """An update is kept when an agency-supplied column or a classification made by hand changes.

    What linkage and the classifiers derive (person, household, address, demand class and need
    category while not set by hand) is refreshed in bulk and can be derived again, so it is not.
    """
    old = ", ".join(f'OLD."{c}"' for c in AGENCY_SUPPLIED)
    new = ", ".join(f'NEW."{c}"' for c in AGENCY_SUPPLIED)
    return (
        f"ROW({old}) IS DISTINCT FROM ROW({new})"
        ' OR OLD."demand_class_manual" IS DISTINCT FROM NEW."demand_class_manual"'
        ' OR OLD."need_category_manual" IS DISTINCT FROM NEW."need_category_manual"'
        ' OR (NEW."demand_class_manual" AND OLD."demand_class" IS DISTINCT FROM NEW."demand_class")'
        ' OR (NEW."need_category_manual" AND OLD."need_category_id" IS DISTINCT FROM NEW."need_category_id")'
    )


# Every delete, and every update of what agencies send or staff decide, bulk and queryset
# updates included, is kept by PostgreSQL triggers (each event a snapshot of the whole row).
@pghistory.track(
    pghistory.UpdateEvent(condition=pgtrigger.Condition(_history_condition())),
    pghistory.DeleteEvent(),
    append_only=True,
)
class Contact(models.Model):
    """One interaction between a citizen and an agency: a row of the demand ledger.

    Its foreign keys are not database constraints (docs/adr/0008-bulk-contact-import.md): the
    import checks agency and agency person set-based as it loads, the other keys are derived by
    linkage and the classifiers, and deletes are guarded by Django (PROTECT, SET_NULL).
    """

    agency = models.ForeignKey(
        "accounts.Agency", on_delete=models.PROTECT, related_name="contacts", db_index=False, db_constraint=False
    )
    record_id = models.CharField(max_length=100)
    agency_person = models.ForeignKey(
        "people.AgencyPerson", on_delete=models.PROTECT, related_name="contacts", db_index=False, db_constraint=False
    )
    occurred_at = models.DateTimeField()
    contact_type = models.CharField(max_length=100)
    presenting_need = models.TextField(blank=True, help_text="In the citizen's own words.")
    outcome = models.CharField(max_length=200, blank=True)
    staff_role = models.CharField(max_length=100, blank=True)
    source_system = models.CharField(max_length=100, blank=True)
    address_line = models.CharField(max_length=300, blank=True, help_text="Address at the time, as recorded.")
    postcode = models.CharField(max_length=16, blank=True)
    uprn = models.CharField(max_length=12, blank=True)
    address = models.ForeignKey(
        "people.Address", on_delete=models.SET_NULL, null=True, blank=True, related_name="contacts", db_index=False,
        db_constraint=False,
    )
    # Resolved by linkage: derived from the agency person's active link, refreshed with it.
    person = models.ForeignKey(
        "people.Person", on_delete=models.SET_NULL, null=True, blank=True, related_name="contacts", db_index=False,
        db_constraint=False,
    )
    household = models.ForeignKey(
        "people.Household", on_delete=models.SET_NULL, null=True, blank=True, related_name="contacts", db_index=False,
        db_constraint=False,
    )
    demand_class = models.CharField(
        max_length=10, choices=DemandClass.choices, default=DemandClass.UNKNOWN, db_default=DemandClass.UNKNOWN
    )
    demand_class_manual = models.BooleanField(
        default=False, db_default=False, help_text="Set by a member of staff, not by the repeat rule."
    )
    need_category = models.ForeignKey(
        "contacts.NeedCategory", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False,
        db_constraint=False,
    )
    need_category_manual = models.BooleanField(
        default=False, db_default=False, help_text="Set by a member of staff, not by keywords."
    )
    imported_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "record_id"], name="contact_agency_record_uniq"),
        ]
        indexes = [
            models.Index(fields=["agency", "occurred_at"], name="contact_agency_month_idx"),
            models.Index(fields=["agency_person", "occurred_at"], name="contact_person_idx"),
            models.Index(
                fields=["address", "occurred_at"], name="contact_address_idx", condition=Q(address__isnull=False)
            ),
            models.Index(fields=["occurred_at"], name="contact_occurred_idx"),
            models.Index(
                fields=["person", "occurred_at"], name="contact_resolved_person_idx", condition=Q(person__isnull=False)
            ),
            models.Index(
                fields=["household", "occurred_at"],
                name="contact_household_idx",
                condition=Q(household__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agency_id}:{self.record_id}"


class NeedCategory(models.Model):
    """A category of need behind what citizens ask for. Default: Supporting Families outcomes."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=300, blank=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "name"]
        verbose_name_plural = "need categories"

    def __str__(self) -> str:
        return self.name


class NeedKeyword(models.Model):
    """A word or phrase in a presenting need that places it in a category. Editable."""

    category = models.ForeignKey(NeedCategory, on_delete=models.CASCADE, related_name="keywords")
    phrase = models.CharField(max_length=100, unique=True, help_text="Lower case; matched as whole words.")

    class Meta:
        ordering = ["category__order", "phrase"]

    def __str__(self) -> str:
        return f"{self.phrase} → {self.category_id}"


class DemandKind(models.TextChoices):
    """What demand is counted for: the contact's resolved household, person or address."""

    HOUSEHOLD = "household", "Household"
    PERSON = "person", "Person"
    ADDRESS = "address", "Address"


class DemandCount(models.Model):
    """Contacts per household, person or address (``kind``, ``subject_id``), agency and contact type.

    Derived from the ledger and kept exact by database triggers on ``contacts_contact``
    (migration 0008), whoever writes it; bulk writers may pause them and rebuild
    (``onecase.contacts.bulk``). Read by the demand ranking. See docs/adr/0009-demand-counts.md.
    """

    kind = models.CharField(max_length=10, choices=DemandKind.choices)
    subject_id = models.BigIntegerField()
    agency = models.ForeignKey(
        "accounts.Agency", on_delete=models.DO_NOTHING, related_name="+", db_index=False, db_constraint=False
    )
    contact_type = models.CharField(max_length=100)
    contacts = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "subject_id", "agency", "contact_type"], name="demandcount_subject_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject_id} at {self.agency_id}, {self.contact_type}: {self.contacts}"


class DemandTotal(models.Model):
    """Contacts per household, person or address, at every agency: the sum of its DemandCount rows."""

    kind = models.CharField(max_length=10, choices=DemandKind.choices)
    subject_id = models.BigIntegerField()
    contacts = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "subject_id"], name="demandtotal_subject_uniq"),
        ]
        indexes = [models.Index(fields=["kind", "-contacts", "subject_id"], name="demandtotal_rank_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject_id}: {self.contacts}"


class DemandDay(models.Model):
    """Contacts per agency and day (the UTC date of ``occurred_at``).

    Kept exact by database triggers on ``contacts_contact`` (migration 0009), whoever writes it, so
    that the partnership's contacts per month are read from a few hundred rows, not the ledger
    (``contacts.demand.partnership_monthly``). Moving contacts between people and households
    leaves it as it is.
    """

    agency = models.ForeignKey(
        "accounts.Agency", on_delete=models.DO_NOTHING, related_name="+", db_index=False, db_constraint=False
    )
    day = models.DateField()
    contacts = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agency", "day"], name="demandday_agency_day_uniq")]

    def __str__(self) -> str:
        return f"{self.agency_id} on {self.day}: {self.contacts}"
