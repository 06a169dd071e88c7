import pghistory
from django.db import models
from django.db.models import Q


class DemandClass(models.TextChoices):
    VALUE = "value", "Value demand"
    FAILURE = "failure", "Failure demand"
    UNKNOWN = "unknown", "Unknown"


# Every update and delete, including bulk and queryset updates, is kept by PostgreSQL triggers.
@pghistory.track(pghistory.UpdateEvent(), pghistory.DeleteEvent(), append_only=True)
class Contact(models.Model):
    """One interaction between a citizen and an agency: a row of the demand ledger."""

    agency = models.ForeignKey("accounts.Agency", on_delete=models.PROTECT, related_name="contacts", db_index=False)
    record_id = models.CharField(max_length=100)
    agency_person = models.ForeignKey(
        "people.AgencyPerson", on_delete=models.PROTECT, related_name="contacts", db_index=False
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
        "people.Address", on_delete=models.SET_NULL, null=True, blank=True, related_name="contacts", db_index=False
    )
    # Resolved by linkage: derived from the agency person's active link, refreshed with it.
    person = models.ForeignKey(
        "people.Person", on_delete=models.SET_NULL, null=True, blank=True, related_name="contacts", db_index=False
    )
    household = models.ForeignKey(
        "people.Household", on_delete=models.SET_NULL, null=True, blank=True, related_name="contacts", db_index=False
    )
    demand_class = models.CharField(
        max_length=10, choices=DemandClass.choices, default=DemandClass.UNKNOWN, db_default=DemandClass.UNKNOWN
    )
    demand_class_manual = models.BooleanField(
        default=False, db_default=False, help_text="Set by a member of staff, not by the repeat rule."
    )
    need_category = models.ForeignKey(
        "contacts.NeedCategory", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
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
