"""Writes for place-based data: importing street-level crime files and the deprivation file.
Each checks permission and audits in the same transaction; a refused run keeps nothing.

Importing the same files again changes nothing: street-crime rows are known by their natural key
(month, digest of the row, occurrence), deprivation rows by LSOA code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.db import transaction

from onecase.audit.models import AuditEvent
from onecase.audit.services import audit_record
from onecase.places import deprivation_file, police_street_files
from onecase.places.models import LsoaDeprivation, PoliceStreetCrime
from onecase.places.police_format import PlacesImportRejected, Problem, read_deprivation, read_police_street
from onecase.places.rules import may_import_place_data

BATCH = 2000
DEPRIVATION_FIELDS = ("name", "local_authority_code", "local_authority_name", "imd_rank", "imd_decile")


@dataclass
class PoliceImportResult:
    files: int = 0
    rows: int = 0
    added: int = 0
    already_present: int = 0
    months: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """The result in plain words."""
        if not self.months:
            covered = "no months"
        elif len(self.months) == 1:
            covered = f"the month {self.months[0]}"
        else:
            covered = f"{len(self.months)} months, {self.months[0]} to {self.months[-1]}"
        return (
            f"{self.files} file(s), {self.rows:,} rows: {self.added:,} added, "
            f"{self.already_present:,} already present; covering {covered}."
        )


@dataclass
class DeprivationImportResult:
    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0

    def describe(self) -> str:
        """The result in plain words."""
        return (
            f"{self.rows:,} small areas (LSOAs): {self.added:,} added, {self.updated:,} updated, "
            f"{self.unchanged:,} already present."
        )


def _check(actor) -> None:
    if actor is not None and not may_import_place_data(actor):
        raise PermissionDenied("Only partnership administrators may load place-based data.")


@transaction.atomic
def police_street_import(*, actor, paths: Iterable[str | Path]) -> PoliceImportResult:
    """Import data.police.uk street-level crime files (.csv or .csv.gz), all or nothing.

    Every file is checked before anything is written; any problem raises ``PlacesImportRejected``
    naming file, line and column. Rows already present are left as they are.
    """
    _check(actor)
    paths = [Path(path) for path in paths]
    rows = []
    problems: list[Problem] = []
    for path in paths:
        try:
            rows += read_police_street(path)
        except PlacesImportRejected as exc:
            problems += exc.problems
    if problems:
        raise PlacesImportRejected(problems)
    unique = {(row.month, row.digest, row.occurrence): row for row in rows}
    before = PoliceStreetCrime.objects.count()
    PoliceStreetCrime.objects.bulk_create(
        (PoliceStreetCrime(**vars(row)) for row in unique.values()), batch_size=BATCH, ignore_conflicts=True
    )
    added = PoliceStreetCrime.objects.count() - before
    result = PoliceImportResult(
        files=len(paths),
        rows=len(rows),
        added=added,
        already_present=len(rows) - added,
        months=sorted({row.month for row in rows}),
    )
    audit_record(
        user=actor,
        action=AuditEvent.Action.IMPORT,
        object_type="police_street",
        detail={
            "files": result.files,
            "rows": result.rows,
            "added": result.added,
            "already_present": result.already_present,
            "months": len(result.months),
            "first_month": result.months[0] if result.months else "",
            "last_month": result.months[-1] if result.months else "",
        },
    )
    return result


@transaction.atomic
def deprivation_import(*, actor, path: str | Path) -> DeprivationImportResult:
    """Import the English Indices of Deprivation 2019 file (IMD rank and decile per LSOA), all or nothing.

    A known LSOA whose values differ is updated; one that is the same is left alone.
    """
    _check(actor)
    rows = read_deprivation(path)
    existing = {area.code: area for area in LsoaDeprivation.objects.order_by()}
    new, changed = [], []
    for row in rows:
        values = vars(row)
        current = existing.get(row.code)
        if current is None:
            new.append(LsoaDeprivation(**values))
        elif any(getattr(current, name) != values[name] for name in DEPRIVATION_FIELDS):
            for name in DEPRIVATION_FIELDS:
                setattr(current, name, values[name])
            changed.append(current)
    LsoaDeprivation.objects.bulk_create(new, batch_size=BATCH)
    LsoaDeprivation.objects.bulk_update(changed, DEPRIVATION_FIELDS, batch_size=BATCH)
    result = DeprivationImportResult(
        rows=len(rows), added=len(new), updated=len(changed), unchanged=len(rows) - len(new) - len(changed)
    )
    audit_record(user=actor, action=AuditEvent.Action.IMPORT, object_type="deprivation", detail=asdict(result))
    return result


def load_bundled(*, actor) -> str:
    """Load the deprivation file and every street-crime file shipped with the product; say what, in plain words.
    Running it again adds nothing."""
    deprivation = deprivation_import(actor=actor, path=deprivation_file())
    police = police_street_import(actor=actor, paths=police_street_files())
    return (
        f"{len(police.months)} months of street crime ({police.rows:,} rows, {police.added:,} added) and "
        f"deprivation deciles for {deprivation.rows:,} small areas ({deprivation.added:,} added)"
    )
