from django.conf import settings
from django.db import models
from django.db.models import Q

# One household or one person, never both: the check a case or an agenda item carries.
ONE_SUBJECT = (Q(household__isnull=False) & Q(person__isnull=True)) | (
    Q(household__isnull=True) & Q(person__isnull=False)
)


class SubjectMixin:
    """For models about one household or one person (``household`` and ``person`` foreign keys)."""

    @property
    def subject_kind(self) -> str:
        return "household" if self.household_id else "person"

    @property
    def subject_id(self) -> int:
        return self.household_id or self.person_id


class Address(models.Model):
    """A resolved, normalised address. A UPRN, when known, is the strongest key."""

    uprn = models.CharField(max_length=12, blank=True, db_index=True)
    postcode = models.CharField(max_length=8, blank=True, db_index=True, help_text="Canonical form, e.g. ST1 4HH.")
    number = models.CharField(max_length=20, blank=True, help_text="House or flat number.")
    flat = models.CharField(max_length=20, blank=True, help_text="Flat, apartment or unit number.")
    street = models.CharField(max_length=200, blank=True)
    line = models.CharField(max_length=300, blank=True, help_text="Display form.")
    key = models.CharField(
        max_length=300, unique=True, null=True, blank=True,
        help_text="Linkage key: u:<UPRN>, or p:<postcode>|<flat>|<number>|<street> as normalised.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "addresses"

    def __str__(self) -> str:
        return f"Address {self.pk}"

    @property
    def label(self) -> str:
        """How pages and reports name the address: its display form, or its parts."""
        if self.line:
            return self.line
        parts = [self.flat and f"Flat {self.flat}", self.number, self.street.title(), self.postcode]
        return ", ".join(p for p in parts if p) or f"Address {self.pk}"


class Household(models.Model):
    """The people linked to one resolved address."""

    address = models.OneToOneField(Address, on_delete=models.PROTECT, related_name="household")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Household {self.pk}"


class Person(models.Model):
    """The partnership's resolved view of one real person: a set of linked agency people."""

    household = models.ForeignKey(
        Household, on_delete=models.SET_NULL, null=True, blank=True, related_name="members"
    )
    # db_default too: linkage writes people set-based, naming only the columns it fills.
    vip = models.BooleanField(
        "extra protection", default=False, db_default=False,
        help_text="A public figure, a member of staff or anyone else whose records draw curiosity: every view "
                  "by someone without a case or pull-in link to them alerts the data protection officers.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "people"

    def __str__(self) -> str:
        return f"Person {self.pk}"


class AgencyPerson(models.Model):
    """One agency's record of a person, as that agency knows them. Never edited by linkage."""

    agency = models.ForeignKey("accounts.Agency", on_delete=models.PROTECT, related_name="people")
    person_ref = models.CharField(max_length=100)
    given_name = models.CharField(max_length=100, blank=True)
    family_name = models.CharField(max_length=100, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    sex = models.CharField(max_length=20, blank=True)
    address_line = models.CharField(max_length=300, blank=True)
    postcode = models.CharField(max_length=16, blank=True)
    uprn = models.CharField(max_length=12, blank=True)
    nhs_number = models.CharField(max_length=12, blank=True)
    identity_as_of = models.DateTimeField(
        null=True, blank=True, help_text="When the contact these identity fields came from happened."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "person_ref"], name="agencyperson_agency_ref_uniq"),
        ]
        verbose_name = "agency person"
        verbose_name_plural = "agency people"

    def __str__(self) -> str:
        return f"{self.agency_id}:{self.person_ref}"


class PersonLink(models.Model):
    """Links an agency person to a person, with the match probability. Undone, never deleted."""

    class Method(models.TextChoices):
        AUTOMATIC = "automatic", "Automatic (linkage)"
        CONFIRMED = "confirmed", "Confirmed by a reviewer"
        SPLIT = "split", "Split by a reviewer"
        LOGGED = "logged", "Logged by staff"

    agency_person = models.ForeignKey(AgencyPerson, on_delete=models.CASCADE, related_name="links")
    # Indexed by personlink_person_idx; the staff columns are rarely searched. Fewer indexes
    # keep writing a million links quick.
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="links", db_index=False)
    match_probability = models.FloatField()
    method = models.CharField(max_length=20, choices=Method.choices, default=Method.AUTOMATIC)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    address = models.ForeignKey(
        Address, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False,
        help_text="The resolved address of this agency record (linkage output; the record itself is unchanged).",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agency_person"], condition=Q(undone_at__isnull=True), name="personlink_one_active"
            ),
        ]
        indexes = [models.Index(fields=["person", "undone_at"], name="personlink_person_idx")]

    def __str__(self) -> str:
        return f"{self.agency_person_id} -> {self.person_id} ({self.match_probability:.3f})"
