"""Street crime as monthly series: every row (``police_street_all``) and one series per crime type,
optionally for one LSOA or one deprivation decile. Published aggregates: no personal data.

A crime type's series is named ``police_street_`` + the type in lower case with each run of other
characters than a-z and 0-9 turned into one ``_``, trimmed: "Anti-social behaviour" is
``police_street_anti_social_behaviour``.
"""

from __future__ import annotations

import re

from django.db.models import Count, Max, Min

from onecase.places.models import LsoaDeprivation, PoliceStreetCrime

PREFIX = "police_street_"
ALL = "police_street_all"
_OTHER = re.compile(r"[^a-z0-9]+")


def series_name_for(crime_type: str) -> str:
    """The series name of a crime type, e.g. "Anti-social behaviour" -> police_street_anti_social_behaviour."""
    slug = _OTHER.sub("_", crime_type.lower()).strip("_")
    return PREFIX + (slug or "unnamed")


def _crime_types() -> dict[str, list[str]]:
    """Series name -> the crime types (as published) it counts."""
    types: dict[str, list[str]] = {}
    for crime_type in PoliceStreetCrime.objects.order_by("crime_type").values_list("crime_type", flat=True).distinct():
        types.setdefault(series_name_for(crime_type), []).append(crime_type)
    return types


def police_series_names() -> list[str]:
    """``police_street_all``, then one name per crime type imported, alphabetically."""
    return [ALL, *sorted(name for name in _crime_types() if name != ALL)]


def _months(first: str, last: str) -> list[str]:
    year, month = int(first[:4]), int(first[5:7])
    months = []
    while (label := f"{year:04d}-{month:02d}") <= last:
        months.append(label)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def police_series(name: str, *, lsoa: str | None = None, decile: int | None = None) -> list[tuple[str, int]]:
    """Rows per month ("YYYY-MM", oldest first), zero-filled from the first to the last imported month.

    ``lsoa`` counts one small area's rows; ``decile`` (1 most deprived to 10) the rows in LSOAs of that
    IMD 2019 decile. Raises ``KeyError`` for an unknown series name, ``ValueError`` for a decile not 1-10.
    Empty when no street crime is imported.
    """
    rows = PoliceStreetCrime.objects.order_by()
    if name != ALL:
        types = _crime_types().get(name)
        if not types:
            raise KeyError(f"no street-crime series is called {name!r}")
        rows = rows.filter(crime_type__in=types)
    if lsoa is not None:
        rows = rows.filter(lsoa_code=lsoa)
    if decile is not None:
        if isinstance(decile, bool) or not isinstance(decile, int) or not 1 <= decile <= 10:
            raise ValueError(f"a deprivation decile is a whole number from 1 to 10, not {decile!r}")
        areas = LsoaDeprivation.objects.filter(imd_decile=decile).values("code")
        rows = rows.filter(lsoa_code__in=areas)
    span = PoliceStreetCrime.objects.aggregate(first=Min("month"), last=Max("month"))
    if span["first"] is None:
        return []
    counts = dict(rows.values_list("month").annotate(n=Count("id")).values_list("month", "n"))
    return [(month, counts.get(month, 0)) for month in _months(span["first"], span["last"])]


def police_series_label(name: str) -> str:
    """The series in plain words, e.g. "Street crime: anti-social behaviour (City of London Police)".
    Raises ``KeyError`` for an unknown series name."""
    if name == ALL:
        what = "all crimes and anti-social behaviour"
        rows = PoliceStreetCrime.objects.order_by()
    else:
        types = _crime_types().get(name)
        if not types:
            raise KeyError(f"no street-crime series is called {name!r}")
        what = " or ".join(types).lower()
        rows = PoliceStreetCrime.objects.order_by().filter(crime_type__in=types)
    forces = sorted(set(rows.values_list("falls_within", flat=True).distinct()))
    return f"Street crime: {what}" + (f" ({' and '.join(forces)})" if forces else "")


def deprivation_deciles() -> dict[str, int]:
    """LSOA code -> IMD 2019 decile (1 the most deprived tenth of England's small areas)."""
    return dict(LsoaDeprivation.objects.order_by().values_list("code", "imd_decile"))
