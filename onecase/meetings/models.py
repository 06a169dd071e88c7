"""Multi-agency meetings: a case is talked about once, by every agency around the table.

A series (a MARAC, an ASB case review, a complex case panel, a team around the family) is
chaired by one agency and attended by its member agencies. Each meeting has attendees (who
cost their hours at their role's hourly rate), an agenda of households and people (the ids of
``export_links``), research notes from each agency before the meeting, decisions whose actions
are written back to the case, and minutes read only by the people they are sent to.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from onecase.people.models import ONE_SUBJECT, SubjectMixin
from onecase.sharing.models import Purpose


class MeetingType(models.TextChoices):
    MARAC = "marac", "MARAC (multi-agency risk assessment conference)"
    ASB_CASE_REVIEW = "asb_case_review", "ASB case review"
    COMPLEX_CASE_PANEL = "complex_case_panel", "Complex case panel"
    TEAM_AROUND_FAMILY = "team_around_family", "Team around the family"


# The purpose each type of meeting carries into disclosures (``sharing.purposes``).
MEETING_PURPOSES = {
    MeetingType.MARAC: Purpose.MARAC,
    MeetingType.ASB_CASE_REVIEW: Purpose.ASB_CASE_REVIEW,
    MeetingType.COMPLEX_CASE_PANEL: Purpose.KEY_WORK,
    MeetingType.TEAM_AROUND_FAMILY: Purpose.KEY_WORK,
}


class Series(models.Model):
    """A standing meeting: its type, its chair's agency and its member agencies."""

    kind = models.CharField("type", max_length=30, choices=MeetingType.choices)
    name = models.CharField(max_length=200, unique=True)
    chair_agency = models.ForeignKey(
        "accounts.Agency", on_delete=models.PROTECT, related_name="meeting_series_chaired"
    )
    members = models.ManyToManyField(
        "accounts.Agency", related_name="meeting_series", blank=True,
        help_text="The member agencies (the chair's agency is always a member).",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "series"

    def __str__(self) -> str:
        return self.name


class Meeting(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        HELD = "held", "Held"
        CANCELLED = "cancelled", "Cancelled"

    series = models.ForeignKey(Series, on_delete=models.PROTECT, related_name="meetings")
    held_on = models.DateField("date")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-held_on", "-id"]
        indexes = [models.Index(fields=["series", "held_on"], name="meeting_series_date_idx")]

    def __str__(self) -> str:
        return f"{self.series.name}, {self.held_on.day} {self.held_on:%B %Y}"

    @property
    def title(self) -> str:
        return str(self)


class AttendeeRole(models.Model):
    """A role around the table and what an hour of it costs. An editable table (admin pages)."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    hourly_rate_gbp = models.DecimalField(
        "hourly rate (£)", max_digits=8, decimal_places=2, validators=[MinValueValidator(Decimal("0.00"))],
        help_text="Salary and on-costs for one hour, in pounds.",
    )
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "name"]

    def __str__(self) -> str:
        return self.name


class Attendee(models.Model):
    """Someone at the meeting: their agency, role and the hours the meeting took (preparation included)."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="attendees")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="meetings_attended"
    )
    name = models.CharField(max_length=200)
    agency = models.ForeignKey("accounts.Agency", on_delete=models.PROTECT, related_name="+")
    role = models.ForeignKey(AttendeeRole, on_delete=models.PROTECT, related_name="attendees")
    hours = models.DecimalField(
        max_digits=5, decimal_places=2,
        validators=[MinValueValidator(Decimal("0.25")), MaxValueValidator(Decimal("24"))],
    )

    class Meta:
        ordering = ["agency__name", "name", "id"]

    def __str__(self) -> str:
        return f"Attendee {self.pk}"


class AgendaItem(SubjectMixin, models.Model):
    """A household or person to be talked about, why, and the case it belongs to (if any)."""

    class Rule(models.TextChoices):
        MANUAL = "", "Added by hand"
        MARAC_REPEAT = "marac_repeat", "Repeat: domestic abuse since a MARAC in the last 12 months"
        MARAC_CONTACTS = "marac_contacts", "Domestic-abuse contacts in 12 months"
        ASB_TRIGGER = "asb_trigger", "ASB case review trigger"

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="agenda")
    household = models.ForeignKey(
        "people.Household", on_delete=models.PROTECT, null=True, blank=True, related_name="agenda_items"
    )
    person = models.ForeignKey(
        "people.Person", on_delete=models.PROTECT, null=True, blank=True, related_name="agenda_items"
    )
    case = models.ForeignKey(
        "cases.Case", on_delete=models.SET_NULL, null=True, blank=True, related_name="agenda_items"
    )
    reason = models.TextField()
    proposed_automatically = models.BooleanField(default=False)
    rule = models.CharField(max_length=20, choices=Rule.choices, blank=True, default=Rule.MANUAL)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["added_at", "id"]
        constraints = [
            models.CheckConstraint(condition=ONE_SUBJECT, name="agendaitem_one_subject"),
            models.UniqueConstraint(
                fields=["meeting", "household"], condition=Q(household__isnull=False), name="agendaitem_household_once"
            ),
            models.UniqueConstraint(
                fields=["meeting", "person"], condition=Q(person__isnull=False), name="agendaitem_person_once"
            ),
        ]

    def __str__(self) -> str:
        return f"Agenda item {self.pk}"


class ResearchNote(models.Model):
    """What one agency found in its records about an agenda item, before the meeting."""

    item = models.ForeignKey(AgendaItem, on_delete=models.CASCADE, related_name="research")
    agency = models.ForeignKey("accounts.Agency", on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["agency__name", "created_at", "id"]

    def __str__(self) -> str:
        return f"Research note {self.pk}"


class Decision(models.Model):
    """What the meeting decided about an agenda item; its actions are written to the case."""

    item = models.ForeignKey(AgendaItem, on_delete=models.CASCADE, related_name="decisions")
    text = models.TextField()
    actions = models.ManyToManyField("cases.Action", blank=True, related_name="+")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["recorded_at", "id"]

    def __str__(self) -> str:
        return f"Decision {self.pk}"


class Minutes(models.Model):
    """The meeting's minutes, with a restricted distribution: the named recipients only
    (and the chair's agency administrators and partnership administrators)."""

    meeting = models.OneToOneField(Meeting, on_delete=models.CASCADE, related_name="minutes")
    text = models.TextField()
    recipients = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="meeting_minutes_received")
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    written_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "minutes"

    def __str__(self) -> str:
        return f"Minutes of meeting {self.meeting_id}"
