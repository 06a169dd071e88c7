"""Importing agency exports into the demand ledger.

A file is validated row by row and streamed into a temporary staging table; if any row
is invalid the transaction is rolled back, so nothing from the file is kept. Valid files
are upserted on (agency, record_id) for contacts and (agency, person_ref) for agency
people, so re-importing the same file changes nothing and a changed row is updated.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone

from onecase.accounts.models import Agency
from onecase.accounts.rules import may_create_agencies, may_import_for
from onecase.imports.contact_format import (
    CLEAN_FIELDS,
    IDENTITY,
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
PEOPLE_STAGE = "onecase_import_people_stage"
CONTACT_COLUMNS = ("occurred_at", "contact_type", "presenting_need", "outcome", "staff_role", "source_system",
                   "address_line", "postcode", "uprn")
STAGE_COLUMNS = ("agency_id", "record_id", "person_ref", *CONTACT_COLUMNS)
PEOPLE_STAGE_COLUMNS = ("agency_id", "person_ref", *IDENTITY, "identity_as_of")
CHUNK = 5000  # rows between progress reports (and, off PostgreSQL, staging inserts)
COPY_BLOCK = 2000  # rows sent to the server at a time
# Positions in a clean row: the agency code, then CLEAN_FIELDS.
_CLEAN = {name: i for i, name in enumerate(("agency", *CLEAN_FIELDS))}
_pick_contact = itemgetter(*(_CLEAN[c] for c in STAGE_COLUMNS[1:]))
_pick_identity = itemgetter(*(_CLEAN[c] for c in IDENTITY))
_STAGE_TABS = len(STAGE_COLUMNS) - 2  # between the values after the agency id


class ImportRejected(Exception):
    """The file was rejected whole. ``problems`` name the line and column of each."""

    def __init__(self, problems: list[Problem], more: bool = False):
        self.problems = problems[:MAX_PROBLEMS]
        self.more = more or len(problems) > MAX_PROBLEMS
        super().__init__(f"{len(self.problems)} problem(s)")

    def report(self, path) -> list[str]:
        """The lines a command prints for a rejected file."""
        lines = [f"{path}: rejected, nothing from this file was kept."]
        lines += [f"  {problem}" for problem in self.problems]
        if self.more:
            lines.append("  (more problems not shown; fix these and try again)")
        return lines


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
    validate = validator.validate_as_text if stage.as_text else validator.validate
    add = stage.add
    staged = 0
    seen = 0
    with stage.loading():
        try:
            for line, values in table.rows:
                seen += 1
                clean, row_problems = validate(line, values)
                if row_problems:
                    problems.extend(row_problems)
                    if len(problems) > MAX_PROBLEMS:
                        break
                    continue
                if problems:
                    continue  # keep validating to report more, but stop staging
                agency_id = agency_ids.get(clean[0])
                if agency_id is None:
                    stage.pause()  # the agency is looked up (or created) on the same connection
                    agency_id = agency_ids[clean[0]] = _agency_for_code(clean[0], actor, result)
                add(agency_id, clean)
                staged += 1
                if progress and staged % CHUNK == 0:
                    stage.pause()  # so that the callback may use the database
                    progress(seen, table.estimated_rows)
        except FormatError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ImportRejected(problems)
    stage.finish()
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
        ip=ip,
        detail={
            "agencies": sorted(agency_ids),
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
    """Temporary staging tables, loaded as rows are read and upserted with two set-based statements.

    ``add`` takes clean rows: on PostgreSQL those of ``validate_as_text``, streamed as COPY text
    through one COPY kept open while rows come, so the server stores them while the next rows are
    checked; elsewhere those of ``validate``, inserted in chunks. The newest contact of each
    agency person (by occurred_at, then line) is kept in memory and staged once, at ``finish``.
    """

    def __init__(self):
        self.vendor = connection.vendor
        self.ops = connection.ops
        self.as_text = self.vendor == "postgresql"
        self._people: dict[int, dict[str, tuple]] = {}  # agency id -> person_ref -> newest clean row
        self._contacts = _CopyStream(STAGE, STAGE_COLUMNS) if self.as_text else None
        self._rows: list[tuple] = []
        self._prefixes: dict[int, str] = {}

    def create(self) -> None:
        typed = {
            "agency_id": "bigint",
            "occurred_at": "timestamp with time zone",
            "identity_as_of": "timestamp with time zone",
            "date_of_birth": "date",
        }
        with connection.cursor() as cursor:
            for table, columns in ((STAGE, STAGE_COLUMNS), (PEOPLE_STAGE, PEOPLE_STAGE_COLUMNS)):
                cursor.execute(f"DROP TABLE IF EXISTS {table}")
                if self.as_text:
                    cols = ", ".join(f"{c} {typed.get(c, 'text')}" for c in columns)
                    cursor.execute(f"CREATE TEMP TABLE {table} ({cols}) ON COMMIT DROP")
                else:
                    cols = ", ".join(f"{c} {'bigint' if c == 'agency_id' else 'text'}" for c in columns)
                    cursor.execute(f"CREATE TEMP TABLE {table} ({cols})")

    @contextmanager
    def loading(self):
        """Around the calls to ``add``: an error abandons the open COPY, so the rollback can follow."""
        try:
            yield
        except BaseException as exc:
            if self._contacts is not None:
                self._contacts.abort(exc)
            raise
        self.pause()

    def add(self, agency_id: int, clean: tuple) -> None:
        people = self._people.get(agency_id)
        if people is None:
            people = self._people[agency_id] = {}
        newest = people.get(clean[2])
        if newest is None or clean[3] >= newest[3]:  # lines come in order, so a tie goes to the later
            people[clean[2]] = clean
        values = _pick_contact(clean)
        if self.as_text:
            prefix = self._prefixes.get(agency_id)
            if prefix is None:
                prefix = self._prefixes[agency_id] = f"{int(agency_id)}\t"
            text = "\t".join(values)
            if "\\" in text or "\n" in text or "\r" in text or text.count("\t") != _STAGE_TABS:
                text = "\t".join(map(_escape, values))
            lines = self._contacts.lines
            lines.append(f"{prefix}{text}\n")
            if len(lines) >= COPY_BLOCK:
                self._contacts.flush()
        else:
            self._rows.append((agency_id, *values))
            if len(self._rows) >= CHUNK:
                self._insert(STAGE, STAGE_COLUMNS, self._rows)
                self._rows.clear()

    def pause(self) -> None:
        """Close the open COPY, if any, so that other statements can run."""
        if self._contacts is not None:
            self._contacts.close()

    def finish(self) -> None:
        """Stage what is still buffered, and the newest identity of each agency person."""
        people = (
            (agency_id, person_ref, *_pick_identity(clean), clean[3])
            for agency_id, refs in self._people.items()
            for person_ref, clean in refs.items()
        )
        if self.as_text:
            self._contacts.flush()
            self._contacts.close()
            stream = _CopyStream(PEOPLE_STAGE, PEOPLE_STAGE_COLUMNS)
            for row in people:
                stream.add(f"{int(row[0])}\t", row[1:])
            stream.flush()
            stream.close()
            with connection.cursor() as cursor:
                # Temporary tables are never analysed automatically; the upserts join them on these.
                cursor.execute(
                    f"ANALYZE {STAGE} (agency_id, record_id, person_ref), {PEOPLE_STAGE} (agency_id, person_ref)"
                )
        else:
            self._insert(STAGE, STAGE_COLUMNS, self._rows)
            self._rows.clear()
            self._insert(PEOPLE_STAGE, PEOPLE_STAGE_COLUMNS, list(people))
        self._people.clear()

    def _insert(self, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        if not rows:
            return
        adapt = {
            "occurred_at": self.ops.adapt_datetimefield_value,
            "identity_as_of": self.ops.adapt_datetimefield_value,
            "date_of_birth": self.ops.adapt_datefield_value,
        }
        adapters = [(i, adapt[c]) for i, c in enumerate(columns) if c in adapt]
        prepared = []
        for row in rows:
            row = list(row)
            for i, adapter in adapters:
                row[i] = adapter(row[i])
            prepared.append(row)
        names = ", ".join(columns)
        marks = ", ".join(["%s"] * len(columns))
        with connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", prepared)  # noqa: S608

    def upsert(self, now, agency_ids: list[int]) -> tuple[int, int, int]:
        """Upsert agency people then contacts. Returns (people created, contacts created, contacts updated).

        Staged rows that the upserts would leave as they are are first deleted from the stage, so
        that an unchanged row is neither written nor locked. Each upsert still checks for itself.
        Rows go in in index order (contacts by occurred_at, which three of their indexes lead
        with), so that index pages are filled in turn rather than at random.
        """
        pg = self.vendor == "postgresql"
        distinct = "IS DISTINCT FROM" if pg else "IS NOT"
        same = "IS NOT DISTINCT FROM" if pg else "IS"
        now_value = self.ops.adapt_datetimefield_value(now)
        in_agencies = ", ".join(str(int(a)) for a in agency_ids)
        identity = ", ".join(IDENTITY)
        with connection.cursor() as cursor:
            people_before = self._count(cursor, "people_agencyperson", in_agencies)
            contacts_before = self._count(cursor, "contacts_contact", in_agencies)
            cursor.execute(
                f"""
                DELETE FROM {PEOPLE_STAGE} AS p WHERE EXISTS (
                    SELECT 1 FROM people_agencyperson ap
                    WHERE ap.agency_id = p.agency_id AND ap.person_ref = p.person_ref
                      AND (p.identity_as_of >= ap.identity_as_of
                           AND ({", ".join(f"ap.{c}" for c in IDENTITY)})
                               {distinct} ({", ".join(f"p.{c}" for c in IDENTITY)})) IS NOT TRUE
                )
                """  # noqa: S608
            )
            # The newest contact in the file carries the identity an agency person is known by.
            cursor.execute(
                f"""
                INSERT INTO people_agencyperson
                    (agency_id, person_ref, {identity}, identity_as_of, created_at, updated_at)
                SELECT agency_id, person_ref, {identity}, identity_as_of, %s, %s
                FROM {PEOPLE_STAGE}
                WHERE true
                ORDER BY agency_id, person_ref
                ON CONFLICT (agency_id, person_ref) DO UPDATE SET
                    {", ".join(f"{c} = excluded.{c}" for c in IDENTITY)},
                    identity_as_of = excluded.identity_as_of,
                    updated_at = excluded.updated_at
                WHERE excluded.identity_as_of >= people_agencyperson.identity_as_of
                  AND ({", ".join(f"people_agencyperson.{c}" for c in IDENTITY)})
                      {distinct} ({", ".join(f"excluded.{c}" for c in IDENTITY)})
                """,  # noqa: S608
                [now_value, now_value],
            )
            cursor.execute(
                f"""
                DELETE FROM {STAGE} AS s WHERE EXISTS (
                    SELECT 1 FROM contacts_contact c
                    JOIN people_agencyperson ap ON ap.id = c.agency_person_id
                    WHERE c.agency_id = s.agency_id AND c.record_id = s.record_id
                      AND ap.agency_id = s.agency_id AND ap.person_ref = s.person_ref
                      AND ({", ".join(f"c.{c}" for c in CONTACT_COLUMNS)})
                          {same} ({", ".join(f"s.{c}" for c in CONTACT_COLUMNS)})
                )
                """  # noqa: S608
            )
            address_cols = ("address_line", "postcode", "uprn")
            cursor.execute(
                f"""
                INSERT INTO contacts_contact
                    (agency_id, record_id, agency_person_id, {", ".join(CONTACT_COLUMNS)}, imported_at, updated_at)
                SELECT s.agency_id, s.record_id, ap.id, {", ".join(f"s.{c}" for c in CONTACT_COLUMNS)}, %s, %s
                FROM {STAGE} s
                JOIN people_agencyperson ap ON ap.agency_id = s.agency_id AND ap.person_ref = s.person_ref
                WHERE true
                ORDER BY s.occurred_at
                ON CONFLICT (agency_id, record_id) DO UPDATE SET
                    agency_person_id = excluded.agency_person_id,
                    {", ".join(f"{c} = excluded.{c}" for c in CONTACT_COLUMNS)},
                    address_id = CASE
                        WHEN ({", ".join(f"contacts_contact.{c}" for c in address_cols)})
                             {distinct} ({", ".join(f"excluded.{c}" for c in address_cols)})
                        THEN NULL ELSE contacts_contact.address_id END,
                    updated_at = excluded.updated_at
                WHERE (contacts_contact.agency_person_id, {", ".join(f"contacts_contact.{c}" for c in CONTACT_COLUMNS)})
                      {distinct} (excluded.agency_person_id, {", ".join(f"excluded.{c}" for c in CONTACT_COLUMNS)})
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
                cursor.execute(f"DROP TABLE IF EXISTS {PEOPLE_STAGE}")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


class _CopyStream:
    """Rows written as COPY text into one table through a COPY that stays open until ``close``.

    While it is open no other statement can run on the connection.
    """

    def __init__(self, table: str, columns: tuple[str, ...]):
        self.sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        self.tabs = len(columns) - 2  # in the values after the first
        self.lines: list[str] = []
        self._stack: ExitStack | None = None
        self._copy = None

    def add(self, prefix: str, values: tuple) -> None:
        """Buffer one row: ``prefix`` (the first value and a tab, already escaped) then ``values`` (text or None)."""
        try:
            text = "\t".join(values)
        except TypeError:  # a NULL
            text = "\t".join(r"\N" if v is None else _escape(v) for v in values)
        else:
            if "\\" in text or "\n" in text or "\r" in text or text.count("\t") != self.tabs:
                text = "\t".join(map(_escape, values))
        self.lines.append(f"{prefix}{text}\n")
        if len(self.lines) >= COPY_BLOCK:
            self.flush()

    def flush(self) -> None:
        if not self.lines:
            return
        if self._copy is None:
            self._stack = ExitStack()
            cursor = self._stack.enter_context(connection.cursor())
            self._copy = self._stack.enter_context(cursor.copy(self.sql))
        self._copy.write("".join(self.lines))
        self.lines.clear()

    def close(self) -> None:
        """End the COPY (the server then has every row written so far). Buffered rows wait."""
        stack, self._stack, self._copy = self._stack, None, None
        if stack is not None:
            stack.close()

    def abort(self, exc: BaseException) -> None:
        stack, self._stack, self._copy = self._stack, None, None
        if stack is not None:
            stack.__exit__(type(exc), exc, exc.__traceback__)
