from django.core.validators import MinValueValidator
from django.db import models


class CostItem(models.Model):
    """One row of the GMCA Unit Cost Database: a unit cost at its own price years.

    Loaded from the shipped CSV (``costs/data/gmca_unit_costs.csv``); reference data, not edited.
    """

    class Rag(models.TextChoices):
        RED = "R", "Red"
        AMBER = "A", "Amber"
        GREEN = "G", "Green"

    code = models.CharField(max_length=20, unique=True, help_text="GMCA cost code, e.g. CR7.0.")
    parent_code = models.CharField(max_length=20, blank=True, help_text="The headline or subsidiary cost above it.")
    description = models.TextField()
    unit = models.CharField(max_length=100, blank=True)
    agency_level1 = models.CharField(max_length=100, blank=True, help_text="Agency bearing the cost.")
    agency_level2 = models.CharField(max_length=100, blank=True)
    fiscal_value_gbp = models.DecimalField(max_digits=22, decimal_places=10, null=True, blank=True)
    fiscal_price_year = models.CharField(max_length=7, blank=True)
    economic_value_gbp = models.DecimalField(max_digits=22, decimal_places=10, null=True, blank=True)
    economic_price_year = models.CharField(max_length=7, blank=True)
    social_value_gbp = models.DecimalField(max_digits=22, decimal_places=10, null=True, blank=True)
    social_price_year = models.CharField(max_length=7, blank=True)
    is_transfer_payment = models.BooleanField(
        default=False, help_text="The fiscal value is (or includes) a transfer payment such as a benefit."
    )
    quality_rag = models.CharField(max_length=1, choices=Rag.choices, blank=True)
    source = models.TextField(blank=True)
    comment = models.TextField(blank=True)
    outcome_category = models.CharField(max_length=60, blank=True)
    outcome_detail = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.code}: {self.description[:60]}"


class Deflator(models.Model):
    """The GDP deflator: an index per financial year, for uprating prices between years."""

    financial_year = models.CharField(max_length=7, unique=True, help_text="e.g. 2006-07")
    pct_change = models.DecimalField(max_digits=7, decimal_places=3, help_text="% change on the previous year.")
    index = models.DecimalField(max_digits=20, decimal_places=10, help_text="Cumulative index, 1989-90 = 100.")
    is_forecast = models.BooleanField(default=False)

    class Meta:
        ordering = ["financial_year"]

    def __str__(self) -> str:
        return f"{self.financial_year}: {self.index}"


class UnitCost(models.Model):
    """What one contact of a type at an agency costs the public purse: the cost map.

    ``cost_item`` says which GMCA row the figure comes from (if any); a row from the default
    map is that row's fiscal value uprated to ``price_year``. An imported row is a local figure.
    """

    class Origin(models.TextChoices):
        DEFAULT_MAP = "default_map", "Default map (GMCA, uprated)"
        IMPORT = "import", "Imported"

    agency = models.ForeignKey("accounts.Agency", on_delete=models.PROTECT, related_name="unit_costs")
    contact_type = models.CharField(max_length=100)
    unit_cost_gbp = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(0)])
    price_year = models.CharField(max_length=7, blank=True, help_text="Financial year of the prices, e.g. 2019-20.")
    source = models.CharField(max_length=300, blank=True)
    cost_item = models.ForeignKey(
        CostItem,
        to_field="code",
        db_column="cost_code",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="unit_costs",
    )
    notes = models.TextField(blank=True)
    origin = models.CharField(max_length=20, choices=Origin.choices, default=Origin.IMPORT)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["agency__code", "contact_type"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "contact_type"], name="unitcost_agency_type_uniq"),
            models.CheckConstraint(condition=models.Q(unit_cost_gbp__gte=0), name="unitcost_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.agency_id}:{self.contact_type} £{self.unit_cost_gbp}"
