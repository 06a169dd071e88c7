"""Importing agency exports into the demand ledger.

A file is validated as it is read (a batch of rows at a time where it can be, else row by row)
and loaded as it goes; if any row is invalid the transaction is rolled back, so nothing from
the file is kept. Contacts are matched on
(agency, record_id) and agency people on (agency, person_ref), so re-importing the same file
changes nothing and a changed row is updated.

On PostgreSQL the rows of an agency with no contacts yet are copied straight into the ledger
(their agency people are numbered here and written at the end); the rows of an agency that
has contacts go through a staging table and two set-based upserts, as on every database.
A first load into an empty ledger builds the ledger's non-unique indexes once, at the end.
See docs/adr/0002-import-staging-and-upsert.md and docs/adr/0008-bulk-contact-import.md.
"""

from __future__ import annotations

import gc
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
from onecase.accounts.services import agency_create
from onecase.contacts.bulk import build_ledger_indexes, drop_ledger_indexes
from onecase.imports.contact_format import (
    CLEAN_FIELDS,
    IDENTITY,
    MAX_PROBLEMS,
    CleanBatch,
    FormatError,
    Problem,
    RowValidator,
    Table,
    normalise_agency_code,
    read_layout,
    read_table,
    unknown_column_warnings,
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
LEDGER_COLUMNS = ("agency_id", "record_id", "agency_person_id", *CONTACT_COLUMNS, "imported_at", "updated_at")
PEOPLE_COLUMNS = ("id", *PEOPLE_STAGE_COLUMNS, "created_at", "updated_at")
BATCH = 500  # rows checked and loaded together (small enough to stay in the CPU's caches)
PROGRESS_ROWS = 5000  # rows between progress reports (and, off PostgreSQL, staging inserts)
PEOPLE_ROWS = 5000  # agency people written at a time
JOIN_MEMORY = "256MB"  # work_mem for the upserts (PostgreSQL)
BULK_ROWS = 100_000  # a file this big, into an empty ledger, builds the ledger's indexes after loading
IMPORT_LOCK = 20_240_601  # advisory lock class: one import at a time per agency (PostgreSQL)
# Positions in a clean row: the agency code, then CLEAN_FIELDS.
_CLEAN = {name: i for i, name in enumerate(("agency", *CLEAN_FIELDS))}
_RECORD_ID, _PERSON_REF, _OCCURRED_AT = _CLEAN["record_id"], _CLEAN["person_ref"], _CLEAN["occurred_at"]
_pick_contact = itemgetter(*(_CLEAN[c] for c in STAGE_COLUMNS[1:]))
_pick_identity = itemgetter(*(_CLEAN[c] for c in IDENTITY))


class ImportRejected(Exception):
    """The file was rejected whole. ``problems`` name the line and column of each."""

    def __init__(self, problems: list[Problem], more: bool = False):
        self.problems = problems[:MAX_PROBLEMS]
        self.more = more or len(problems) > MAX_PROBLEMS
        super().__init__(f"{len(self.problems)} problem(s)")

    def report(self, path) -> list[str]:
        """The lines a command prints for a rejected file: one line if it has one problem."""
        if len(self.problems) == 1 and not self.more:
            return [f"{path}: rejected, nothing from this file was kept: {self.problems[0]}"]
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


def preview_contacts(
    *,
    path: str | Path,
    name: str | None = None,
    agency_code: str | None = None,
    rows: int = 10,
    progress: Progress | None = None,
):
    """Read the header and the first ``rows`` rows, and validate the whole file without writing.

    Returns ``(header, sample, warnings, problems, row_count)``; ``progress(rows checked, estimate)``
    is called as it goes. Raises ``ImportRejected`` if the file cannot be read at all.
    """
    table = _open(Path(path), name)
    layout, problems = read_layout(table.header, agency_given=agency_code is not None)
    warnings = unknown_column_warnings(layout.ignored, done=False)
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
                if row_problems and len(problems) <= MAX_PROBLEMS:
                    problems.extend(row_problems)
                if progress and count % PROGRESS_ROWS == 0:
                    progress(count, table.estimated_rows)
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
    with _collector_paused():
        result, agency_codes = _import(actor, path, name, agency_code, progress)
    audit_record(
        user=actor,
        action=AuditEvent.Action.IMPORT,
        object_type="contacts",
        ip=ip,
        detail={
            "agencies": sorted(agency_codes),
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


def _import(actor, path: Path, name: str | None, agency_code: str | None, progress: Progress | None):
    """Read, check and load the file; returns the result and the codes of its agencies."""
    table = _open(path, name)
    layout, problems = read_layout(table.header, agency_given=agency_code is not None)
    if problems:
        raise ImportRejected(problems)
    result = ImportResult(warnings=unknown_column_warnings(layout.ignored, done=True))
    agency_ids: dict[str, int] = {}
    if agency_code is not None:
        agency_ids[normalise_agency_code(agency_code)] = _agency_for_code(agency_code, actor, result)
    loader = _CopyLoader(timezone.now()) if connection.vendor == "postgresql" else _InsertLoader(timezone.now())
    loader.begin(table.estimated_rows)
    reading = _Reading(loader, agency_ids, actor, result, progress, table.estimated_rows)
    with loader.loading():
        if not (loader.batched and reading.batches(table, RowValidator(layout, agency_code=agency_code))):
            # Row by row, with line numbers, from the start: a repeated record id names its first line.
            if loader.batched:
                table = _open(path, name)
            reading.rows(table, RowValidator(layout, agency_code=agency_code), loader.batched)
    if reading.problems:
        raise ImportRejected(reading.problems)
    seen = reading.seen
    if progress:
        progress(seen, seen)
    result.rows = seen
    if seen == 0:
        raise ImportRejected([Problem(None, None, "the file has a header but no rows")])
    result.people_created, result.created, result.updated = loader.finish()
    result.unchanged = seen - result.created - result.updated
    return result, list(agency_ids)


class _Reading:
    """Reads a file into a loader: checked in batches if it can be, else row by row."""

    def __init__(self, loader, agency_ids: dict[str, int], actor, result: ImportResult, progress, estimated: int):
        self.loader = loader
        self.agency_ids = agency_ids
        self.actor = actor
        self.result = result
        self.progress = progress
        self.estimated = estimated
        self.loaded = 0  # rows loaded by ``batches``
        self._reported = 0
        self.seen = 0
        self.problems: list[Problem] = []

    def batches(self, table: Table, validator: RowValidator) -> bool:
        """Load every row, ``BATCH`` rows at a time; False as soon as a batch is not certainly valid."""
        try:
            for values in table.batches(BATCH):
                clean = validator.validate_columns(values)
                if clean is None:
                    return False
                self.loaded += len(clean)
                self._add(clean, clean.columns[0], self.loaded)
        except FormatError:
            return False
        self.seen = self.loaded
        return True

    def rows(self, table: Table, validator: RowValidator, batched: bool) -> None:
        """Check every row, collecting problems; load the valid rows after the first ``loaded``."""
        problems = self.problems
        validate = validator.validate_as_text if batched else validator.validate
        pending: list[tuple] = []
        try:
            for line, values in table.rows:
                self.seen += 1
                clean, row_problems = validate(line, values)
                if row_problems:
                    problems.extend(row_problems)
                    if len(problems) > MAX_PROBLEMS:
                        return
                elif not problems and self.seen > self.loaded:
                    pending.append(clean)
                    if len(pending) == BATCH:
                        self._add_rows(pending, batched)
                        pending = []
        except FormatError as exc:
            problems.extend(exc.problems)
        if pending and not problems:
            self._add_rows(pending, batched)

    def _add_rows(self, rows: list[tuple], batched: bool) -> None:
        self._add(CleanBatch.of_rows(rows) if batched else rows, [row[0] for row in rows], self.seen)

    def _add(self, clean, codes, done: int) -> None:
        new = [code for code in dict.fromkeys(codes) if code not in self.agency_ids]
        if new:
            self.loader.pause()  # the agencies are looked up (or created) on the same connection
            for code in new:
                self.agency_ids[code] = _agency_for_code(code, self.actor, self.result)
        self.loader.add(clean, self.agency_ids)
        if self.progress and done - self._reported >= PROGRESS_ROWS:
            self._reported = done
            self.loader.pause()  # so that the callback may use the database
            self.progress(done, self.estimated)


@contextmanager
def _collector_paused():
    """Pause the cyclic garbage collector: an import keeps millions of small objects (the record ids
    seen, the newest row of each agency person) that it would otherwise walk again and again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _agency_for_code(code: str, actor, result: ImportResult) -> int:
    code = normalise_agency_code(code)
    found = Agency.objects.filter(code__iexact=code).first()
    if found is not None:
        if actor is not None and not may_import_for(actor, found):
            raise PermissionDenied(f"You may not import contacts for agency {code}.")
        return found.pk
    if actor is not None and not may_create_agencies(actor):
        raise PermissionDenied(f"Agency {code} does not exist and you may not create agencies.")
    created = agency_create(actor=actor, code=code, name=code)
    result.agencies_created.append(code)
    return created.pk


# --- PostgreSQL: COPY -------------------------------------------------------------------------


class _CopyLoader:
    batched = True

    """Loads batches from ``validate_batch`` with COPY, keeping one COPY open while rows come.

    An agency with no contacts yet (decided when its first row comes, under an advisory lock
    that makes a second import of the same agency wait) has its rows copied straight into
    ``contacts_contact``: its agency people are looked up or given ids from their sequence
    here, and written at the end. Other agencies' rows go to a staging table and are upserted.
    The agency and agency person of every row are known to exist when the row is written: the
    agency was looked up in this transaction (and is locked FOR KEY SHARE), the agency person
    too, or is written by ``finish`` in the same transaction.
    """

    def __init__(self, now):
        self.now = now
        self.now_text = now.isoformat()
        self._ledger = _CopyStream("contacts_contact", LEDGER_COLUMNS)
        self._stage = _CopyStream(STAGE, STAGE_COLUMNS)
        self._open: _CopyStream | None = None
        self._direct: dict[int, bool] = {}  # agency id -> its rows go straight into the ledger
        # (agency id, person_ref) -> its newest row: (instant, agency id, person_ref, *IDENTITY, occurred_at)
        self._people: dict[tuple[int, str], tuple] = {}
        self._person_ids: dict[tuple[int, str], str] = {}  # the same keys -> agency person id (as text), for
        # the agencies loaded straight in
        self._id_texts: dict[int, str] = {}  # agency id -> as text
        self._new_people: set[tuple[int, str]] = set()  # those given an id here
        self._spare_ids: list[int] = []
        self._reserve = 1000
        self._sequence: str | None = None
        self._indexes: list[str] = []  # definitions of indexes to build after loading
        self.direct_rows = 0
        self.staged_rows = 0

    def begin(self, estimated_rows: int) -> None:
        typed = {
            "agency_id": "bigint",
            "occurred_at": "timestamp with time zone",
            "identity_as_of": "timestamp with time zone",
            "date_of_birth": "date",
        }
        with connection.cursor() as cursor:
            for table, columns in ((STAGE, STAGE_COLUMNS), (PEOPLE_STAGE, PEOPLE_STAGE_COLUMNS)):
                cursor.execute(f"DROP TABLE IF EXISTS {table}")
                cols = ", ".join(f"{c} {typed.get(c, 'text')}" for c in columns)
                cursor.execute(f"CREATE TEMP TABLE {table} ({cols}) ON COMMIT DROP")
        if estimated_rows >= BULK_ROWS:
            self._indexes = drop_ledger_indexes()

    @contextmanager
    def loading(self):
        """Around the calls to ``add``: an error abandons the open COPY, so the rollback can follow."""
        try:
            yield
        except BaseException as exc:
            if self._open is not None:
                self._open.abort(exc)
                self._open = None
            raise
        self.pause()

    def pause(self) -> None:
        """End the open COPY, if any, so that other statements can run."""
        if self._open is not None:
            self._open.close()
            self._open = None

    def _send(self, stream: _CopyStream, text: str) -> None:
        if self._open is not stream:
            self.pause()
            stream.open()
            self._open = stream
        stream.write(text)

    def add(self, clean: CleanBatch, agency_ids: dict[str, int]) -> None:
        columns = clean.columns
        ids = list(map(agency_ids.__getitem__, columns[0]))
        agencies = dict.fromkeys(ids)
        for agency_id in agencies:
            if agency_id not in self._direct:
                self._start_agency(agency_id)
        keys = list(zip(ids, columns[_PERSON_REF], strict=True))
        self._remember_people(keys, clean)
        id_texts = list(map(self._id_texts.__getitem__, ids))
        direct = [self._direct[agency_id] for agency_id in agencies]
        if all(direct):
            self._write_direct(id_texts, keys, columns)
        elif not any(direct):
            self._write_staged(id_texts, columns)
        else:
            rows = [i for i, agency_id in enumerate(ids) if self._direct[agency_id]]
            self._write_direct([id_texts[i] for i in rows], [keys[i] for i in rows],
                               [[column[i] for i in rows] for column in columns])
            rows = [i for i, agency_id in enumerate(ids) if not self._direct[agency_id]]
            self._write_staged([id_texts[i] for i in rows], [[column[i] for i in rows] for column in columns])

    def _start_agency(self, agency_id: int) -> None:
        self.pause()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s::integer, %s::integer)", [IMPORT_LOCK, agency_id])
            cursor.execute("SELECT id FROM accounts_agency WHERE id = %s FOR KEY SHARE", [agency_id])
            cursor.execute("SELECT EXISTS (SELECT 1 FROM contacts_contact WHERE agency_id = %s)", [agency_id])
            direct = not cursor.fetchone()[0]
            if direct:
                cursor.execute(
                    "SELECT person_ref, id FROM people_agencyperson WHERE agency_id = %s FOR KEY SHARE", [agency_id]
                )
                self._person_ids.update(((agency_id, ref), str(pk)) for ref, pk in cursor.fetchall())
        self._direct[agency_id] = direct
        self._id_texts[agency_id] = str(int(agency_id))

    def _remember_people(self, keys: list[tuple[int, str]], clean: CleanBatch) -> None:
        """Keep the newest row of each agency person, by occurred_at; rows come in order, so a tie goes to the later."""
        people = self._people
        instants = clean.occurred
        columns = clean.columns
        occurred = columns[_OCCURRED_AT]
        given, family, born, sex, line, postcode, uprn, nhs = (columns[_CLEAN[c]] for c in IDENTITY)
        for i, key in enumerate(keys):
            newest = people.get(key)
            if newest is None or instants[i] >= newest[0]:
                people[key] = (instants[i], key[0], key[1], given[i], family[i], born[i], sex[i], line[i],
                               postcode[i], uprn[i], nhs[i], occurred[i])

    def _write_direct(self, id_texts: list[str], keys: list[tuple[int, str]], columns: list) -> None:
        person_ids = list(map(self._person_ids.get, keys))
        if None in person_ids:
            for i, person_id in enumerate(person_ids):
                if person_id is None:
                    person_ids[i] = self._person_id(keys[i])
        now = [self.now_text] * len(keys)
        values = [id_texts, columns[_RECORD_ID], person_ids, *(columns[_CLEAN[c]] for c in CONTACT_COLUMNS), now, now]
        self._send(self._ledger, _copy_text(values))
        self.direct_rows += len(keys)

    def _person_id(self, key: tuple[int, str]) -> str:
        person_id = self._person_ids.get(key)
        if person_id is None:
            if not self._spare_ids:
                self._reserve_ids()
            person_id = self._person_ids[key] = str(self._spare_ids.pop())
            self._new_people.add(key)
        return person_id

    def _reserve_ids(self) -> None:
        """Take the next agency person ids from their sequence, more each time (unused ones are a gap)."""
        self.pause()
        with connection.cursor() as cursor:
            if self._sequence is None:
                cursor.execute("SELECT pg_get_serial_sequence('people_agencyperson', 'id')")
                self._sequence = cursor.fetchone()[0]
            cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [self._sequence, self._reserve])
            self._spare_ids = [pk for (pk,) in reversed(cursor.fetchall())]
        self._reserve = min(self._reserve * 2, 50_000)

    def _write_staged(self, id_texts: list[str], columns: list) -> None:
        values = [id_texts, *(columns[_CLEAN[c]] for c in STAGE_COLUMNS[1:])]
        self._send(self._stage, _copy_text(values))
        self.staged_rows += len(id_texts)

    def finish(self) -> tuple[int, int, int]:
        """Write the agency people and upsert what was staged. Returns (people created, contacts created, updated)."""
        self.pause()
        build_ledger_indexes(self._indexes)
        new = _CopyStream("people_agencyperson", PEOPLE_COLUMNS)
        staged = _CopyStream(PEOPLE_STAGE, PEOPLE_STAGE_COLUMNS)
        staged_people = 0
        for stream, wanted in ((new, True), (staged, False)):
            rows = [newest for key, newest in self._people.items() if (key in self._new_people) is wanted]
            if not rows:
                continue
            if not wanted:
                staged_people = len(rows)
            born = (int(wanted) + 2 + IDENTITY.index("date_of_birth"),)  # after the id, if any, agency and person_ref
            stream.open()
            for start in range(0, len(rows), PEOPLE_ROWS):
                _, agencies, refs, *rest = zip(*rows[start : start + PEOPLE_ROWS], strict=True)
                values = [list(map(self._id_texts.__getitem__, agencies)), refs, *rest]
                if wanted:
                    now = [self.now_text] * len(refs)
                    ids = list(map(self._person_ids.__getitem__, zip(agencies, refs, strict=True)))
                    values = [ids, *values, now, now]
                stream.write(_copy_text(values, born))
            stream.close()
        people_created = len(self._new_people)
        self._people.clear()
        created = self.direct_rows
        updated = 0
        with connection.cursor() as cursor:
            if staged_people or self.staged_rows:
                # Temporary tables are never analysed automatically; the upserts join them on these.
                cursor.execute(
                    f"ANALYZE {STAGE} (agency_id, record_id, person_ref), {PEOPLE_STAGE} (agency_id, person_ref)"
                )
                # The upserts hash-join the stage with the ledger: in memory rather than in batches on disk.
                cursor.execute("SELECT current_setting('work_mem')")
                (memory,) = cursor.fetchone()
                cursor.execute("SELECT set_config('work_mem', %s, true)", [JOIN_MEMORY])
                people_created += _upsert_people(cursor, self.now)
                staged_created, updated = _upsert_contacts(cursor, self.now)
                created += staged_created
                cursor.execute("SELECT set_config('work_mem', %s, true)", [memory])
        return people_created, created, updated


def _copy_text(columns: list, nullable: tuple[int, ...] = ()) -> str:
    """COPY text for rows given by column, of text values; in the ``nullable`` columns None is NULL."""
    ready = []
    for i, column in enumerate(columns):
        if i in nullable:
            column = [r"\N" if v is None else _escape(v) for v in column]
        else:
            joined = "".join(column)
            if "\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined:
                column = list(map(_escape, column))
        ready.append(column)
    return "\n".join(map("\t".join, zip(*ready, strict=True))) + "\n"


# --- other databases: INSERT ------------------------------------------------------------------


class _InsertLoader:
    batched = False

    """Stages the rows of ``validate`` with INSERT, in chunks, then upserts them.

    The newest contact of each agency person (by occurred_at, then line) is kept in memory
    and staged once, at ``finish``.
    """

    def __init__(self, now):
        self.now = now
        self.ops = connection.ops
        self._people: dict[int, dict[str, tuple]] = {}  # agency id -> person_ref -> newest clean row
        self._rows: list[tuple] = []

    def begin(self, estimated_rows: int) -> None:
        with connection.cursor() as cursor:
            for table, columns in ((STAGE, STAGE_COLUMNS), (PEOPLE_STAGE, PEOPLE_STAGE_COLUMNS)):
                cursor.execute(f"DROP TABLE IF EXISTS {table}")
                cols = ", ".join(f"{c} {'bigint' if c == 'agency_id' else 'text'}" for c in columns)
                cursor.execute(f"CREATE TEMP TABLE {table} ({cols})")

    @contextmanager
    def loading(self):
        yield

    def pause(self) -> None:
        pass

    def add(self, rows: list[tuple], agency_ids: dict[str, int]) -> None:
        for clean in rows:
            agency_id = agency_ids[clean[0]]
            people = self._people.get(agency_id)
            if people is None:
                people = self._people[agency_id] = {}
            newest = people.get(clean[2])
            if newest is None or clean[3] >= newest[3]:  # lines come in order, so a tie goes to the later
                people[clean[2]] = clean
            self._rows.append((agency_id, *_pick_contact(clean)))
        if len(self._rows) >= PROGRESS_ROWS:
            self._insert(STAGE, STAGE_COLUMNS, self._rows)
            self._rows.clear()

    def finish(self) -> tuple[int, int, int]:
        self._insert(STAGE, STAGE_COLUMNS, self._rows)
        self._rows.clear()
        people = [
            (agency_id, person_ref, *_pick_identity(clean), clean[3])
            for agency_id, refs in self._people.items()
            for person_ref, clean in refs.items()
        ]
        self._insert(PEOPLE_STAGE, PEOPLE_STAGE_COLUMNS, people)
        self._people.clear()
        with connection.cursor() as cursor:
            people_created = _upsert_people(cursor, self.now)
            created, updated = _upsert_contacts(cursor, self.now)
            cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
            cursor.execute(f"DROP TABLE IF EXISTS {PEOPLE_STAGE}")
        return people_created, created, updated

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


# --- the upserts (every database) -------------------------------------------------------------


def _comparisons() -> tuple[str, str]:
    pg = connection.vendor == "postgresql"
    return ("IS DISTINCT FROM", "IS NOT DISTINCT FROM") if pg else ("IS NOT", "IS")


def _upsert_people(cursor, now) -> int:
    """Upsert the staged agency people; returns how many were new.

    Staged people the upsert would leave as they are are first deleted from the stage, so that
    an unchanged row is neither written nor locked. The newest contact in a file carries the
    identity an agency person is known by; an older file never overwrites a newer identity.
    """
    distinct, _ = _comparisons()
    now_value = connection.ops.adapt_datetimefield_value(now)
    identity = ", ".join(IDENTITY)
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
    cursor.execute(
        f"""SELECT COUNT(*) FROM {PEOPLE_STAGE} p WHERE NOT EXISTS (
                SELECT 1 FROM people_agencyperson ap WHERE ap.agency_id = p.agency_id AND ap.person_ref = p.person_ref
            )"""  # noqa: S608
    )
    (created,) = cursor.fetchone()
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
    return created


def _upsert_contacts(cursor, now) -> tuple[int, int]:
    """Upsert the staged contacts (their agency people upserted already); returns (created, updated).

    Unchanged rows are first deleted from the stage. A contact now about another agency person
    loses its person and household until it is linked again. Rows go in in index order (by
    occurred_at, which three of the ledger's indexes lead with), so that index pages are
    filled in turn rather than at random.
    """
    distinct, same = _comparisons()
    now_value = connection.ops.adapt_datetimefield_value(now)
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
    cursor.execute(
        f"""SELECT COUNT(*) FROM {STAGE} s WHERE NOT EXISTS (
                SELECT 1 FROM contacts_contact c WHERE c.agency_id = s.agency_id AND c.record_id = s.record_id
            )"""  # noqa: S608
    )
    (created,) = cursor.fetchone()
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
            person_id = CASE WHEN contacts_contact.agency_person_id {distinct} excluded.agency_person_id
                             THEN NULL ELSE contacts_contact.person_id END,
            household_id = CASE WHEN contacts_contact.agency_person_id {distinct} excluded.agency_person_id
                                THEN NULL ELSE contacts_contact.household_id END,
            updated_at = excluded.updated_at
        WHERE (contacts_contact.agency_person_id, {", ".join(f"contacts_contact.{c}" for c in CONTACT_COLUMNS)})
              {distinct} (excluded.agency_person_id, {", ".join(f"excluded.{c}" for c in CONTACT_COLUMNS)})
        """,  # noqa: S608
        [now_value, now_value],
    )
    return created, cursor.rowcount - created


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


class _CopyStream:
    """Text written into one table through a COPY that stays open from ``open`` to ``close``.

    While it is open no other statement can run on the connection.
    """

    def __init__(self, table: str, columns: tuple[str, ...]):
        self.sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        self._stack: ExitStack | None = None
        self._copy = None

    def open(self) -> None:
        self._stack = ExitStack()
        cursor = self._stack.enter_context(connection.cursor())
        self._copy = self._stack.enter_context(cursor.copy(self.sql))

    def write(self, text: str) -> None:
        if text:
            self._copy.write(text)

    def close(self) -> None:
        """End the COPY: the server then has every row written so far."""
        stack, self._stack, self._copy = self._stack, None, None
        if stack is not None:
            stack.close()

    def abort(self, exc: BaseException) -> None:
        stack, self._stack, self._copy = self._stack, None, None
        if stack is not None:
            stack.__exit__(type(exc), exc, exc.__traceback__)


# --- one record, as an agency's own system or a member of staff sends it ---------------------


@dataclass
class RecordResult:
    contact_id: int
    agency_person_id: int
    created: bool  # a new contact
    updated: bool  # a contact already there, changed
    person_created: bool  # a new agency person


@transaction.atomic
def record_load(*, record: dict[str, str], agency: Agency) -> RecordResult:
    """Check one contact given as the canonical fields (docs/contact-format.md, without ``agency``)
    exactly as a row of a file is checked, and load it as a file's rows are loaded: upserted on
    (agency, record_id), its agency person on (agency, person_ref). The same record again changes
    nothing; a changed one is updated as a re-import would update it.

    Checks no permission and audits nothing: the caller's service does both. Raises
    ``ImportRejected`` whose problems name the field (``column``) of each, with no line.
    """
    from onecase.contacts.models import Contact

    layout, _ = read_layout(list(CLEAN_FIELDS), agency_given=True)
    validator = RowValidator(layout, agency_code=agency.code)
    values = [record.get(name) or "" for name in CLEAN_FIELDS]
    copy = connection.vendor == "postgresql"
    clean, problems = (validator.validate_as_text if copy else validator.validate)(None, values)
    if problems:
        raise ImportRejected(problems)
    now = timezone.now()
    loader = _CopyLoader(now) if copy else _InsertLoader(now)
    loader.begin(1)
    with loader.loading():
        loader.add(CleanBatch.of_rows([clean]) if copy else [clean], {clean[0]: agency.pk})
    people_created, created, updated = loader.finish()
    contact_id, agency_person_id = Contact.objects.filter(agency_id=agency.pk, record_id=clean[_RECORD_ID]).values_list(
        "pk", "agency_person_id").get()
    return RecordResult(contact_id=contact_id, agency_person_id=agency_person_id, created=bool(created),
                        updated=bool(updated), person_created=bool(people_created))
