"""Measures: named, described queries over the demand ledger (or an imported series), watched over
time with process behaviour charts. A measure is a definition, never a number typed in, and has no
target by design: a signal on its chart, not a RAG rating, says that something changed."""

from django.conf import settings
from django.db import models

from onecase.concurrency import version_field


class Tier(models.IntegerChoices):
    CITIZEN = 1, "Tier 1: the citizen's perspective"
    FRONT_DOOR = 2, "Tier 2: front doors and leading indicators"
    PARTNERSHIP = 3, "Tier 3: multi-agency measures"


class Period(models.TextChoices):
    MONTH = "month", "Month"
    WEEK = "week", "Week"


class Source(models.TextChoices):
    LEDGER = "ledger", "Contacts in the demand ledger"
    POLICE = "police", "Street crime published by the police"


class Statistic(models.TextChoices):
    CONTACTS = "contacts", "Contacts"
    HOUSEHOLDS = "households", "Households with a contact"
    PEOPLE = "people", "People with a contact"


class DemandFilter(models.TextChoices):
    ANY = "", "Any demand"
    VALUE = "value", "Value demand only"
    FAILURE = "failure", "Failure demand only"


class Cohort(models.TextChoices):
    ALL = "all", "Everyone"
    LIVE_CASE = "live_case", "Households and people with a live case"


class Measure(models.Model):
    """What to count, per month or week, and why; ``slug`` is the code the command line takes.

    A ledger measure counts contacts (or different households or people) matching every filter
    given (an empty list matches all); a police measure reads a published street-crime series.
    """

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=150)
    description = models.TextField(help_text="In plain words: what is counted and why it matters.")
    tier = models.PositiveSmallIntegerField(choices=Tier.choices)
    owner = models.ForeignKey(
        "accounts.Agency",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The agency that owns the measure; empty for the partnership.",
    )
    period = models.CharField(max_length=10, choices=Period.choices, default=Period.MONTH)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.LEDGER)
    statistic = models.CharField(max_length=12, choices=Statistic.choices, default=Statistic.CONTACTS)
    # Ledger filters: codes, each list empty for "any".
    agencies = models.JSONField(default=list, blank=True, help_text="Agency codes.")
    contact_types = models.JSONField(default=list, blank=True, help_text="Contact types as the agencies send them.")
    need_categories = models.JSONField(default=list, blank=True, help_text="Need category codes.")
    demand_class = models.CharField(max_length=10, choices=DemandFilter.choices, default="", blank=True)
    postcode_district = models.CharField(max_length=4, blank=True, help_text="e.g. ST1; empty for anywhere.")
    cohort = models.CharField(max_length=12, choices=Cohort.choices, default=Cohort.ALL)
    # Police street crime series (source "police").
    series_name = models.CharField(max_length=120, blank=True)
    series_lsoa = models.CharField(max_length=9, blank=True, help_text="An LSOA code; empty for the whole area.")
    series_decile = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Index of Multiple Deprivation 2019 decile (1 most deprived) of the LSOAs."
    )
    version = version_field()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tier", "name"]

    def __str__(self) -> str:
        return self.name


class MeasureBaseline(models.Model):
    """A baseline period of a measure: its limits are worked out from these points, and hold until the
    next baseline starts (recalculated after a sustained shift). Added, never changed or deleted."""

    measure = models.ForeignKey(Measure, on_delete=models.CASCADE, related_name="baselines")
    start = models.CharField(max_length=8, help_text="First period, YYYY-MM or YYYY-Www.")
    end = models.CharField(max_length=8, help_text="Last period, YYYY-MM or YYYY-Www.")
    reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["measure", "start"]
        constraints = [models.UniqueConstraint(fields=["measure", "start"], name="measurebaseline_start_uniq")]

    def __str__(self) -> str:
        return f"{self.measure_id}: {self.start} to {self.end}"
