"""Writes to measures: define, change and re-baseline. Partnership administrators only (``actor=None``
is an operator at the command line); each write is audited in the same transaction."""

from __future__ import annotations

import re

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from onecase.accounts.models import Agency
from onecase.audit.models import AuditEvent
from onecase.audit.services import audit_record
from onecase.concurrency import Conflict as Conflict  # raised by measure_update
from onecase.concurrency import check_version, lock
from onecase.contacts.models import NeedCategory
from onecase.measures.models import Cohort, DemandFilter, Measure, MeasureBaseline, Period, Source, Statistic, Tier
from onecase.measures.rules import may_edit_measures

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
WEEK = re.compile(r"^(\d{4})-W(0[1-9]|[1-4]\d|5[0-3])$")
SLUG = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
SERIES = re.compile(r"^police_street_[a-z0-9_]+$")
DISTRICT = re.compile(r"^[A-Z]{1,2}\d[A-Z\d]?$")
LSOA = re.compile(r"^[EW]0\d{7}$")
RESERVED = {"definitions"}  # /measures/definitions/ is the list of definitions

# The fields a measure's definition is made of, with their defaults.
FIELDS = {
    "name": "",
    "description": "",
    "tier": None,
    "owner": None,
    "period": Period.MONTH,
    "source": Source.LEDGER,
    "statistic": Statistic.CONTACTS,
    "agencies": [],
    "contact_types": [],
    "need_categories": [],
    "demand_class": DemandFilter.ANY,
    "postcode_district": "",
    "cohort": Cohort.ALL,
    "series_name": "",
    "series_lsoa": "",
    "series_decile": None,
}


def period_valid(label: str, period: str) -> bool:
    """Is ``label`` a month (YYYY-MM) or ISO week (YYYY-Www) label, as ``period`` asks?"""
    return bool((MONTH if period == Period.MONTH else WEEK).match(label or ""))


def _codes(value) -> list[str]:
    if isinstance(value, str):
        value = value.replace("\n", ",").split(",")
    return [str(v).strip() for v in (value or []) if str(v).strip()]


def measure_clean(fields: dict) -> dict:
    """The definition in ``fields``, tidied; ValidationError naming each field that is wrong, in plain words."""
    data = {**FIELDS, **{k: v for k, v in fields.items() if k in FIELDS}}
    errors: dict[str, str] = {}
    data["name"] = " ".join(str(data["name"] or "").split())
    data["description"] = str(data["description"] or "").strip()
    if not data["name"]:
        errors["name"] = "Enter a name for the measure."
    elif len(data["name"]) > 150:
        errors["name"] = "The name must be 150 characters or fewer."
    if not data["description"]:
        errors["description"] = "Describe in plain words what the measure counts and why."
    try:
        data["tier"] = int(data["tier"])
    except (TypeError, ValueError):
        data["tier"] = None
    if data["tier"] not in Tier.values:
        errors["tier"] = "Choose tier 1, 2 or 3."
    for key, choices in (
        ("period", Period),
        ("source", Source),
        ("statistic", Statistic),
        ("demand_class", DemandFilter),
        ("cohort", Cohort),
    ):
        data[key] = data[key] or ""
        if data[key] not in choices.values:
            errors[key] = f"Choose one of: {', '.join(str(label) for label in choices.labels)}."
    owner = data["owner"]
    if owner is not None and not isinstance(owner, Agency):
        owner = Agency.objects.filter(code=str(owner)).first()
        if owner is None:
            errors["owner"] = f"No agency has the code {data['owner']}."
    data["owner"] = owner
    data["agencies"] = _codes(data["agencies"])
    unknown = set(data["agencies"]) - set(
        Agency.objects.filter(code__in=data["agencies"]).values_list("code", flat=True)
    )
    if unknown:
        errors["agencies"] = f"No agency has the code {', '.join(sorted(unknown))}."
    data["need_categories"] = _codes(data["need_categories"])
    known = set(NeedCategory.objects.filter(code__in=data["need_categories"]).values_list("code", flat=True))
    if set(data["need_categories"]) - known:
        errors["need_categories"] = (
            f"No need category has the code {', '.join(sorted(set(data['need_categories']) - known))}."
        )
    data["contact_types"] = _codes(data["contact_types"])
    if any(len(t) > 100 for t in data["contact_types"]):
        errors["contact_types"] = "A contact type must be 100 characters or fewer."
    data["postcode_district"] = str(data["postcode_district"] or "").strip().upper()
    if data["postcode_district"] and not DISTRICT.match(data["postcode_district"]):
        errors["postcode_district"] = "Enter a postcode district such as ST1 or M14, or leave it empty."
    data["series_name"] = str(data["series_name"] or "").strip()
    data["series_lsoa"] = str(data["series_lsoa"] or "").strip().upper()
    decile = data["series_decile"]
    if decile in ("", None):
        data["series_decile"] = None
    else:
        try:
            data["series_decile"] = int(decile)
        except (TypeError, ValueError):
            data["series_decile"] = 0
        if not 1 <= data["series_decile"] <= 10:
            errors["series_decile"] = "A deprivation decile is a whole number from 1 (most deprived) to 10."
    if data["source"] == Source.POLICE:
        if not SERIES.match(data["series_name"]):
            errors["series_name"] = "Name a street-crime series, such as police_street_all."
        if data["series_lsoa"] and not LSOA.match(data["series_lsoa"]):
            errors["series_lsoa"] = "Enter an LSOA code such as E01000001, or leave it empty."
        if data["series_lsoa"] and data["series_decile"]:
            errors["series_decile"] = "Split a series by an LSOA or by a deprivation decile, not both."
        if data["period"] == Period.WEEK:
            errors["period"] = "Street crime is published per month."
    if errors:
        raise ValidationError(errors)
    return data


def _changed(measure: Measure, data: dict) -> list[str]:
    return sorted(k for k, v in data.items() if getattr(measure, k) != v)


@transaction.atomic
def measure_create(*, actor, slug: str, ip=None, **fields) -> Measure:
    """Define a measure (``FIELDS`` give the definition). Partnership administrators only."""
    if not may_edit_measures(actor):
        raise PermissionDenied("Only partnership administrators define measures.")
    slug = str(slug or "").strip().lower()
    errors = {}
    if not SLUG.match(slug) or len(slug) > 80:
        errors["slug"] = "The code must be lower-case letters, digits and single hyphens or underscores."
    elif slug in RESERVED:
        errors["slug"] = f"The code {slug} is kept for a page of its own; choose another."
    elif Measure.objects.filter(slug=slug).exists():
        errors["slug"] = f"A measure already has the code {slug}."
    try:
        data = measure_clean(fields)
    except ValidationError as exc:
        errors.update({k: v[0] for k, v in exc.message_dict.items()})
    if errors:
        raise ValidationError(errors)
    measure = Measure.objects.create(slug=slug, **data)
    audit_record(
        user=actor,
        action=AuditEvent.Action.CHANGE,
        object_type="measure",
        object_id=measure.pk,
        ip=ip,
        detail={"created": True, "tier": measure.tier, "source": measure.source},
    )
    return measure


@transaction.atomic
def measure_update(*, actor, measure: Measure, expected_version: int | None = None, ip=None, **fields) -> Measure:
    """Change a measure's definition: the fields given, the rest kept. Raises ``Conflict`` when it
    changed since ``expected_version``; audited with the names of the fields changed."""
    if not may_edit_measures(actor):
        raise PermissionDenied("Only partnership administrators change measures.")
    lock(measure)
    check_version(measure, expected_version)
    current = {k: getattr(measure, k) for k in FIELDS}
    data = measure_clean({**current, **fields})
    changed = _changed(measure, data)
    if not changed:
        return measure
    for key in changed:
        setattr(measure, key, data[key])
    measure.version += 1
    measure.save()
    audit_record(
        user=actor,
        action=AuditEvent.Action.CHANGE,
        object_type="measure",
        object_id=measure.pk,
        ip=ip,
        detail={"fields": changed, "version": measure.version},
    )
    return measure


def _overlaps(a: tuple[str, str], b: tuple[str, str]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


@transaction.atomic
def baseline_add(*, actor, measure: Measure, start: str, end: str, reason: str = "", ip=None) -> MeasureBaseline:
    """Add a baseline period (``start`` to ``end`` inclusive, labels of the measure's period): its points
    set the limits from ``start`` until the next baseline. It may not overlap one already recorded."""
    if not may_edit_measures(actor):
        raise PermissionDenied("Only partnership administrators set baselines.")
    lock(measure)
    start, end = str(start or "").strip().upper(), str(end or "").strip().upper()
    example = "2024-01" if measure.period == Period.MONTH else "2024-W01"
    errors = {}
    if not period_valid(start, measure.period):
        errors["start"] = f"Enter the first {measure.get_period_display().lower()} like {example}."
    if not period_valid(end, measure.period):
        errors["end"] = f"Enter the last {measure.get_period_display().lower()} like {example}."
    if not errors and end <= start:
        errors["end"] = "The baseline must end after it starts: it needs two points or more."
    if not errors:
        for other in measure.baselines.all():
            if _overlaps((start, end), (other.start, other.end)):
                errors["start"] = f"It overlaps the baseline from {other.start} to {other.end}."
                break
    if errors:
        raise ValidationError(errors)
    baseline = MeasureBaseline.objects.create(
        measure=measure,
        start=start,
        end=end,
        reason=str(reason or "").strip(),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    audit_record(
        user=actor,
        action=AuditEvent.Action.CHANGE,
        object_type="measure",
        object_id=measure.pk,
        ip=ip,
        detail={"baseline": baseline.pk},
    )
    return baseline
