"""Writes for unit costs: importing a cost file, applying the default map, reloading the
shipped reference data. Each checks permission and audits in the same transaction.

A unit cost is keyed on (agency, contact_type). Doing the same thing twice changes nothing;
a changed row is updated.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from onecase.accounts.models import Agency
from onecase.costs.models import CostItem, Deflator, UnitCost
from onecase.costs.reference import Counts, load_reference_data, read_default_map
from onecase.costs.rules import may_manage_unit_costs
from onecase.costs.unit_cost_format import CostCode, RowValidator, UnitCostRow, read_layout
from onecase.costs.uprating import deflator_indices, normalise_financial_year, uprate
from onecase.imports.contact_format import MAX_PROBLEMS, FormatError, Problem, normalise_agency_code, read_table
from onecase.imports.services import ImportRejected
from onecase.sharing.models import AuditEvent
from onecase.sharing.services import audit_record

logger = logging.getLogger(__name__)

COMPARED = ("unit_cost_gbp", "price_year", "source", "cost_item_id", "notes", "origin")
ZERO = Decimal("0.00")


@dataclass
class UnitCostImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass
class DefaultCostsResult:
    price_year: str = ""
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_local: list[str] = field(default_factory=list)
    missing_agencies: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _check(actor) -> None:
    if actor is not None and not may_manage_unit_costs(actor):
        raise PermissionDenied("Only partnership administrators may change unit costs.")


def _upsert(wanted: dict[tuple[int, str], dict]) -> Counts:
    """Create or update unit costs keyed (agency_id, contact_type); unchanged rows are not written."""
    counts = Counts()
    existing = {
        (c.agency_id, c.contact_type): c
        for c in UnitCost.objects.filter(agency_id__in={key[0] for key in wanted}).order_by()
    }
    new = []
    for (agency_id, contact_type), values in wanted.items():
        current = existing.get((agency_id, contact_type))
        if current is None:
            new.append(UnitCost(agency_id=agency_id, contact_type=contact_type, **values))
            continue
        changed = [name for name in COMPARED if getattr(current, name) != values[name]]
        if not changed:
            counts.unchanged += 1
            continue
        for name in changed:
            setattr(current, name, values[name])
        current.save(update_fields=[*changed, "updated_at"])
        counts.updated += 1
    UnitCost.objects.bulk_create(new)
    counts.created = len(new)
    return counts


@transaction.atomic
def import_unit_costs(
    *, actor, path: str | Path, name: str | None = None, ip: str | None = None
) -> UnitCostImportResult:
    """Import a unit cost file (CSV or XLSX): agency, contact_type, unit_cost_gbp, and optionally
    price_year, source, cost_code, notes.

    ``actor`` None is the command line (a trusted operator). All or nothing: any invalid row
    raises ``ImportRejected`` and nothing is kept. Unknown agencies are an error, not created.
    """
    _check(actor)
    path = Path(path)
    try:
        table = read_table(path, name)
    except FormatError as exc:
        raise ImportRejected(exc.problems) from None
    layout, problems = read_layout(table.header)
    if problems:
        raise ImportRejected(problems)
    result = UnitCostImportResult(
        warnings=[f"column {c} is not part of the unit cost format and was ignored" for c in layout.ignored]
    )
    validator = RowValidator(
        layout,
        agencies={code.upper(): pk for pk, code in Agency.objects.values_list("pk", "code")},
        cost_codes={
            code.upper(): CostCode(code, value, year)
            for code, value, year in CostItem.objects.values_list("code", "fiscal_value_gbp", "fiscal_price_year")
        },
        indices=deflator_indices(),
    )
    rows: list[UnitCostRow] = []
    try:
        for line, values in table.rows:
            result.rows += 1
            clean, row_problems = validator.validate(line, values)
            problems.extend(row_problems)
            if len(problems) > MAX_PROBLEMS:
                break
            if clean is not None:
                rows.append(clean)
    except FormatError as exc:
        problems.extend(exc.problems)
    if problems:
        raise ImportRejected(problems)
    if not rows:
        raise ImportRejected([Problem(None, None, "the file has a header but no rows")])

    counts = _upsert(
        {
            (row.agency_id, row.contact_type): {
                "unit_cost_gbp": row.unit_cost_gbp,
                "price_year": row.price_year,
                "source": row.source,
                "cost_item_id": row.cost_code,
                "notes": row.notes,
                "origin": UnitCost.Origin.IMPORT,
            }
            for row in rows
        }
    )
    result.created, result.updated, result.unchanged = counts.created, counts.updated, counts.unchanged
    audit_record(
        user=actor,
        action=AuditEvent.Action.IMPORT,
        object_type="unit_costs",
        ip=ip,
        detail={
            "file": path.name if name is None else Path(name).name,
            "rows": result.rows,
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
        },
    )
    logger.info("unit cost import: %s rows, %s new, %s updated", result.rows, result.created, result.updated)
    return result


def choose_price_year(price_year: str | None, indices: dict[str, Decimal]) -> tuple[str, list[str]]:
    """The price year to use, and any warning. Default and ceiling: the deflator's latest year."""
    if not indices:
        raise ValidationError("The GDP deflator table is empty; run onecase load_default_costs.")
    first, latest = min(indices), max(indices)
    if price_year is None:
        return latest, []
    try:
        year = normalise_financial_year(price_year)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    if year in indices:
        return year, []
    if year > latest:
        return latest, [f"the GDP deflator stops at {latest}, so costs are at {latest} prices, not {year}"]
    raise ValidationError(f"The GDP deflator covers {first} to {latest}; {year} is not in it.")


@transaction.atomic
def apply_default_costs(*, actor, price_year: str | None = None, replace_imported: bool = False) -> DefaultCostsResult:
    """Fill the cost map from the shipped default map: each contact type gets its GMCA row's
    fiscal value uprated to ``price_year`` (default: the latest year the deflator covers).

    Rows imported locally are kept unless ``replace_imported``; agencies that do not exist are skipped.
    """
    _check(actor)
    indices = deflator_indices()
    year, warnings = choose_price_year(price_year, indices)
    result = DefaultCostsResult(price_year=year, warnings=warnings)
    mapping = read_default_map()
    agencies = {
        code.upper(): pk
        for pk, code in Agency.objects.filter(
            code__in={normalise_agency_code(r["agency"]) for r in mapping}
        ).values_list("pk", "code")
    }
    items = CostItem.objects.in_bulk({r["cost_code"] for r in mapping if r["cost_code"]}, field_name="code")
    local = (
        set()
        if replace_imported
        else set(
            UnitCost.objects.filter(agency_id__in=agencies.values(), origin=UnitCost.Origin.IMPORT).values_list(
                "agency_id", "contact_type"
            )
        )
    )
    wanted: dict[tuple[int, str], dict] = {}
    for row in mapping:
        code = normalise_agency_code(row["agency"])
        agency_id = agencies.get(code)
        if agency_id is None:
            if code not in result.missing_agencies:
                result.missing_agencies.append(code)
            continue
        if (agency_id, row["contact_type"]) in local:
            result.kept_local.append(f"{code} {row['contact_type']}")
            continue
        wanted[(agency_id, row["contact_type"])] = _default_values(row, items, year, indices)
    counts = _upsert(wanted)
    result.created, result.updated, result.unchanged = counts.created, counts.updated, counts.unchanged
    audit_record(
        user=actor,
        action=AuditEvent.Action.CHANGE,
        object_type="unit_costs",
        object_id="default_map",
        detail={
            "price_year": year,
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "kept_local": len(result.kept_local),
            "replace_imported": replace_imported,
        },
    )
    return result


def _default_values(row: dict, items: dict[str, CostItem], year: str, indices) -> dict:
    values = {"price_year": year, "notes": row["notes"], "origin": UnitCost.Origin.DEFAULT_MAP}
    if not row["cost_code"]:
        return {**values, "unit_cost_gbp": ZERO, "cost_item_id": None, "source": "Default map: no public-purse cost"}
    item = items.get(row["cost_code"])
    if item is None or item.fiscal_value_gbp is None:
        raise ValidationError(f"The default map names {row['cost_code']}, which has no fiscal value.")
    value = uprate(item.fiscal_value_gbp, item.fiscal_price_year, year, indices=indices)
    source = (
        f"GMCA Unit Cost Database {item.code}: £{item.fiscal_value_gbp.normalize():f} fiscal "
        f"at {item.fiscal_price_year} prices, uprated to {year} with the GDP deflator"
    )
    return {**values, "unit_cost_gbp": value, "cost_item_id": item.code, "source": source[:300]}


@transaction.atomic
def reference_data_load(*, actor) -> tuple[Counts, Counts]:
    """Bring the GMCA cost items and the GDP deflator in line with the files shipped in the app."""
    _check(actor)
    items, deflator = load_reference_data(CostItem, Deflator)
    audit_record(
        user=actor,
        action=AuditEvent.Action.CHANGE,
        object_type="cost_reference_data",
        detail={
            "cost_items_created": items.created,
            "cost_items_updated": items.updated,
            "deflator_created": deflator.created,
            "deflator_updated": deflator.updated,
        },
    )
    return items, deflator
