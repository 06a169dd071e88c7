"""Importing agency exports into the demand ledger.

A file is validated row by row and streamed into a temporary staging table; if any row
is invalid the transaction is rolled back, so nothing from the file is kept. Valid files
are upserted on (agency, record_id) for contacts and (agency, person_ref) for agency
people, so re-importing the same file changes nothing and a changed row is updated.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone

from onecase.accounts.models import Agency
from onecase.accounts.rules import may_create_agencies, may_import_for
from onecase.imports.contact_format import (
    CLEAN_FIELDS,
    MAX_PROBLEMS,
    FormatError,
    Problem,
    RowValidator,
    Table,
    normalise_agency_code,
    read_layout,
    read_table,
)
from onecase.sharing.models import AuditEvent
from onecase.sharing.services import audit_record

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
STAGE = "onecase_import_stage"
STAGE_COLUMNS = ("line_no", "agency_id", *CLEAN_FIELDS)
CHUNK = 5000


class ImportRejected(Exception):
    """The file was rejected whole. ``problems`` name the line and column of each."""

    def __init__(self, problems: list[Problem], more: bool = False):
        self.problems = problems[:MAX_PROBLEMS]
        self.more = more or len(problems) > MAX_PROBLEMS
        super().__init__(f"{len(self.problems)} problem(s)")


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    people_created: int = 0
    agencies_created: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _open(path: Path, name: str | None) -> Table:
    try:
        return read_table(path, name)
    except FormatError as exc:
        raise ImportRejected(exc.problems) from None


def preview_contacts(*, path: str | Path, name: str | None = None, agency_code: str | None = None, rows: int = 10):
    """Read the header and the first ``rows`` rows, and validate the whole file without writing.

    Returns ``(header, sample, warnings, problems, row_count)``.
    """
    table = _open(Path(path), name)
    layout, problems = read_layout(table.header, agency_given=agency_code is not None)
    warnings = [f"column {c} is not part of the contact format and will be ignored" for c in layout.ignored]
    sample: list[list[str]] = []
    count = 0
    if not problems:
        validator = RowValidator(layout, agency_code=agency_code)
        try:
            for line, values in table.rows:
                count += 1
                if len(sample) < rows:
                    sample.append(values)
                _, row_problems = validator.validate(line, values)
                problems.extend(row_problems)
        except FormatError as exc:
            problems.extend(exc.problems)
    return table.header, sample, warnings, problems[: MAX_PROBLEMS + 1], count


@transaction.atomic
def import_contacts(
    *,
    actor,
    path: str | Path,
    name: str | None = None,
    agency_code: str | None = None,
    progress: Progress | None = None,
    ip: str | None = None,
) -> ImportResult:
    """Import one canonical contact file (CSV or XLSX) for ``agency_code`` or the agencies it names.

    ``actor`` is the signed-in user, or None for the command line (a trusted operator).
    An unknown agency code is created (and reported) only if the whole file is accepted.
    Raises ``ImportRejected`` (nothing kept) or ``PermissionDenied``.
    """
    if actor is not None and agency_code is None and not may_create_agencies(actor):
        raise PermissionDenied("Choose the agency this file belongs to.")
    path = Path(path)
    table = _open(path, name)
    layout, problems = read_layout(table.header, agency_given=agency_code is not None)
    if problems:
        raise ImportRejected(problems)
    result = ImportResult(
        warnings=[f"column {c} is not part of the contact format and was ignored" for c in layout.ignored]
    )
    validator = RowValidator(layout, agency_code=agency_code)
    agency_ids: dict[str, int] = {}
    if agency_code is not None:
        agency_ids[normalise_agency_code(agency_code)] = _agency_for_code(agency_code, actor, result)
    now = timezone.now()
    stage = _Stage()
    stage.create()
    batch: list[tuple] = []
    seen = 0
    try:
        for line, values in table.rows:
            seen += 1
            clean, row_problems = validator.validate(line, values)
            if row_problems:
                problems.extend(row_problems)
                if len(problems) > MAX_PROBLEMS:
                    break
                continue
            if problems:
                continue  # keep validating to report more, but stop staging
            code = clean[0]
            if code not in agency_ids:
                agency_ids[code] = _agency_for_code(code, actor, result)
            batch.append((line, agency_ids[code], *clean[1:]))
            if len(batch) >= CHUNK:
                stage.load(batch)
                batch.clear()
                if progress:
                    progress(seen, table.estimated_rows)
    except FormatError as exc:
        problems.extend(exc.problems)
    if problems:
        raise ImportRejected(problems)
    stage.load(batch)
    if progress:
        progress(seen, seen)
    result.rows = seen
    if seen == 0:
        raise ImportRejected([Problem(None, None, "the file has a header but no rows")])

    result.people_created, result.created, result.updated = stage.upsert(now, list(agency_ids.values()))
    result.unchanged = seen - result.created - result.updated
    stage.drop()
    audit_record(
        user=actor,
        action=AuditEvent.Action.IMPORT,
        object_type="contacts",
        object_id=",".join(sorted(agency_ids)),
        ip=ip,
        detail={
            "file": path.name if name is None else Path(name).name,
            "rows": result.rows,
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "agencies_created": result.agencies_created,
        },
    )
    logger.info(
        "contact import: %s rows, %s new, %s updated, %s unchanged",
        result.rows,
        result.created,
        result.updated,
        result.unchanged,
    )
    return result


def _agency_for_code(code: str, actor, result: ImportResult) -> int:
    code = normalise_agency_code(code)
    found = Agency.objects.filter(code__iexact=code).first()
    if found is not None:
        if actor is not None and not may_import_for(actor, found):
            raise PermissionDenied(f"You may not import contacts for agency {code}.")
        return found.pk
    if actor is not None and not may_create_agencies(actor):
        raise PermissionDenied(f"Agency {code} does not exist and you may not create agencies.")
    created = Agency.objects.create(code=code, name=code)
    result.agencies_created.append(code)
    audit_record(user=actor, action=AuditEvent.Action.CHANGE, object_type="agency", object_id=created.pk,
                 detail={"created": code})
    return created.pk


class _Stage:
    """A temporary staging table, loaded in chunks and upserted with two set-based statements."""

    def __init__(self):
        self.vendor = connection.vendor
        self.ops = connection.ops

    def create(self) -> None:
        cols = ", ".join(f"{c} {'bigint' if c in ('line_no', 'agency_id') else 'text'}" for c in STAGE_COLUMNS)
        typed = cols.replace("occurred_at text", "occurred_at timestamp with time zone").replace(
            "date_of_birth text", "date_of_birth date"
        )
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
            if self.vendor == "postgresql":
                cursor.execute(f"CREATE TEMP TABLE {STAGE} ({typed}) ON COMMIT DROP")
            else:
                cursor.execute(f"CREATE TEMP TABLE {STAGE} ({cols})")

    def load(self, rows: list[tuple]) -> None:
        if not rows:
            return
        names = ", ".join(STAGE_COLUMNS)
        with connection.cursor() as cursor:
            if self.vendor == "postgresql":
                with cursor.copy(f"COPY {STAGE} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                at = STAGE_COLUMNS.index("occurred_at")
                dob = STAGE_COLUMNS.index("date_of_birth")
                adapt_dt = self.ops.adapt_datetimefield_value
                adapt_d = self.ops.adapt_datefield_value
                prepared = []
                for row in rows:
                    row = list(row)
                    row[at] = adapt_dt(row[at])
                    row[dob] = adapt_d(row[dob])
                    prepared.append(row)
                marks = ", ".join(["%s"] * len(STAGE_COLUMNS))
                cursor.executemany(f"INSERT INTO {STAGE} ({names}) VALUES ({marks})", prepared)  # noqa: S608

    def upsert(self, now, agency_ids: list[int]) -> tuple[int, int, int]:
        """Upsert agency people then contacts. Returns (people created, contacts created, contacts updated)."""
        distinct = "IS DISTINCT FROM" if self.vendor == "postgresql" else "IS NOT"
        now_value = self.ops.adapt_datetimefield_value(now)
        identity = ("given_name", "family_name", "date_of_birth", "sex", "address_line", "postcode", "uprn",
                    "nhs_number")
        contact_cols = ("occurred_at", "contact_type", "presenting_need", "outcome", "staff_role",
                        "source_system", "address_line", "postcode", "uprn")
        in_agencies = ", ".join(str(int(a)) for a in agency_ids)
        with connection.cursor() as cursor:
            people_before = self._count(cursor, "people_agencyperson", in_agencies)
            contacts_before = self._count(cursor, "contacts_contact", in_agencies)
            # The newest contact in the file carries the identity an agency person is known by.
            cursor.execute(
                f"""
                INSERT INTO people_agencyperson
                    (agency_id, person_ref, {", ".join(identity)}, identity_as_of, created_at, updated_at)
                SELECT agency_id, person_ref, {", ".join(identity)}, occurred_at, %s, %s
                FROM (
                    SELECT s.*, ROW_NUMBER() OVER (
                        PARTITION BY agency_id, person_ref ORDER BY occurred_at DESC, line_no DESC
                    ) AS newest
                    FROM {STAGE} s
                ) latest
                WHERE newest = 1
                ON CONFLICT (agency_id, person_ref) DO UPDATE SET
                    {", ".join(f"{c} = excluded.{c}" for c in identity)},
                    identity_as_of = excluded.identity_as_of,
                    updated_at = excluded.updated_at
                WHERE excluded.identity_as_of >= people_agencyperson.identity_as_of
                  AND ({", ".join(f"people_agencyperson.{c}" for c in identity)})
                      {distinct} ({", ".join(f"excluded.{c}" for c in identity)})
                """,  # noqa: S608
                [now_value, now_value],
            )
            address_cols = ("address_line", "postcode", "uprn")
            cursor.execute(
                f"""
                INSERT INTO contacts_contact
                    (agency_id, record_id, agency_person_id, {", ".join(contact_cols)}, imported_at, updated_at)
                SELECT s.agency_id, s.record_id, ap.id, {", ".join(f"s.{c}" for c in contact_cols)}, %s, %s
                FROM {STAGE} s
                JOIN people_agencyperson ap ON ap.agency_id = s.agency_id AND ap.person_ref = s.person_ref
                WHERE true
                ON CONFLICT (agency_id, record_id) DO UPDATE SET
                    agency_person_id = excluded.agency_person_id,
                    {", ".join(f"{c} = excluded.{c}" for c in contact_cols)},
                    address_id = CASE
                        WHEN ({", ".join(f"contacts_contact.{c}" for c in address_cols)})
                             {distinct} ({", ".join(f"excluded.{c}" for c in address_cols)})
                        THEN NULL ELSE contacts_contact.address_id END,
                    updated_at = excluded.updated_at
                WHERE (contacts_contact.agency_person_id, {", ".join(f"contacts_contact.{c}" for c in contact_cols)})
                      {distinct} (excluded.agency_person_id, {", ".join(f"excluded.{c}" for c in contact_cols)})
                """,  # noqa: S608
                [now_value, now_value],
            )
            touched = cursor.rowcount
            people_after = self._count(cursor, "people_agencyperson", in_agencies)
            contacts_after = self._count(cursor, "contacts_contact", in_agencies)
        created = contacts_after - contacts_before
        return people_after - people_before, created, touched - created

    @staticmethod
    def _count(cursor, table: str, in_agencies: str) -> int:
        cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE agency_id IN ({in_agencies})")  # noqa: S608
        return cursor.fetchone()[0]

    def drop(self) -> None:
        if self.vendor != "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
