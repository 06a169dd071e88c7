"""Published place-based data: street-level crime rows as data.police.uk gives them, and the
English Indices of Deprivation 2019 by LSOA. Neither holds personal data."""

from django.db import models


class PoliceStreetCrime(models.Model):
    """One row of a data.police.uk street-level crime file, as published.

    A row is known by its month, a digest of all its values and which identical row of that month
    it is (1 for the first): anti-social behaviour rows have no Crime ID, and a month's file can
    hold the same row, or the same Crime ID, more than once. Importing the same file again therefore
    finds every row already there.
    """

    month = models.CharField(max_length=7)  # "YYYY-MM"
    digest = models.CharField(max_length=64)  # SHA-256 of the row's values
    occurrence = models.PositiveIntegerField(default=1)
    crime_id = models.CharField(max_length=100, blank=True)
    reported_by = models.CharField(max_length=100)
    falls_within = models.CharField(max_length=100)
    longitude = models.FloatField(null=True, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    location = models.CharField(max_length=200, blank=True)
    lsoa_code = models.CharField(max_length=12, blank=True)
    lsoa_name = models.CharField(max_length=100, blank=True)
    crime_type = models.CharField(max_length=100)
    last_outcome_category = models.CharField(max_length=200, blank=True)
    context = models.TextField(blank=True)
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "street crime row"
        constraints = [
            models.UniqueConstraint(fields=["month", "digest", "occurrence"], name="places_street_crime_natural_key"),
        ]
        indexes = [
            models.Index(fields=["month"], name="places_street_month"),
            models.Index(fields=["crime_type", "month"], name="places_street_type_month"),
            models.Index(fields=["lsoa_code", "month"], name="places_street_lsoa_month"),
        ]

    def __str__(self) -> str:
        return f"{self.month} {self.crime_type}"


class LsoaDeprivation(models.Model):
    """The English Indices of Deprivation 2019 for one LSOA (2011 boundaries): rank 1 is the most
    deprived of 32,844, decile 1 the most deprived tenth."""

    code = models.CharField(max_length=12, unique=True)
    name = models.CharField(max_length=100)
    local_authority_code = models.CharField(max_length=12)
    local_authority_name = models.CharField(max_length=100)
    imd_rank = models.PositiveIntegerField()
    imd_decile = models.PositiveSmallIntegerField(db_index=True)

    class Meta:
        verbose_name = "LSOA deprivation"
        verbose_name_plural = "LSOA deprivation"
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"
