"""The reference data shipped in ``costs/data``: GMCA unit costs, the GDP deflator and the
default cost map. Read from the package only, never from anywhere else at run time.

``load_reference_data`` takes the model classes so the data migration can pass its
historical models; it adds and updates rows and never deletes (unit costs may refer to them).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
COSTS_CSV = DATA_DIR / "gmca_unit_costs.csv"
DEFLATOR_CSV = DATA_DIR / "gdp_deflator.csv"
DEFAULT_MAP_CSV = DATA_DIR / "default_cost_map.csv"

DECIMAL_FIELDS = ("fiscal_value_gbp", "economic_value_gbp", "social_value_gbp")
TEXT_FIELDS = (
    "parent_code",
    "description",
    "unit",
    "agency_level1",
    "agency_level2",
    "fiscal_price_year",
    "economic_price_year",
    "social_price_year",
    "quality_rag",
    "source",
    "comment",
    "outcome_category",
    "outcome_detail",
)


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return f"{self.created} new, {self.updated} updated, {self.unchanged} unchanged"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def read_cost_items() -> list[dict]:
    """The GMCA rows as model field values."""
    items = []
    for row in _rows(COSTS_CSV):
        item = {"code": row["cost_code"], "is_transfer_payment": row["is_transfer_payment"] == "true"}
        item.update({name: row[name] for name in TEXT_FIELDS})
        item.update({name: Decimal(row[name]) if row[name] else None for name in DECIMAL_FIELDS})
        items.append(item)
    return items


def read_deflator() -> list[dict]:
    return [
        {
            "financial_year": row["financial_year"],
            "pct_change": Decimal(row["pct_change_on_previous_year"]),
            "index": Decimal(row["index"]),
            "is_forecast": row["status"] == "forecast",
        }
        for row in _rows(DEFLATOR_CSV)
    ]


def read_default_map() -> list[dict[str, str]]:
    """The shipped default map: agency, contact_type, cost_code (may be empty), notes."""
    return [{key: (value or "").strip() for key, value in row.items()} for row in _rows(DEFAULT_MAP_CSV)]


def _sync(model, key: str, rows: list[dict]) -> Counts:
    counts = Counts()
    existing = {getattr(obj, key): obj for obj in model.objects.all()}
    new, changed = [], []
    fields = [name for name in rows[0] if name != key] if rows else []
    for row in rows:
        obj = existing.get(row[key])
        if obj is None:
            new.append(model(**row))
        elif any(getattr(obj, name) != row[name] for name in fields):
            for name in fields:
                setattr(obj, name, row[name])
            changed.append(obj)
        else:
            counts.unchanged += 1
    model.objects.bulk_create(new, batch_size=500)
    if changed:
        model.objects.bulk_update(changed, fields, batch_size=500)
    counts.created, counts.updated = len(new), len(changed)
    return counts


def load_reference_data(cost_item_model, deflator_model) -> tuple[Counts, Counts]:
    """Bring the cost items and deflator tables in line with the shipped CSVs. Idempotent."""
    return _sync(cost_item_model, "code", read_cost_items()), _sync(deflator_model, "financial_year", read_deflator())
