"""The canonical contact format: reading CSV or XLSX, and validating each row.

Reading yields ``(line_number, values)`` pairs; validation turns them into clean rows or
``Problem`` objects that name the line and column. Nothing here touches the database.
See docs/contact-format.md for the format itself.
"""

from __future__ import annotations

import codecs
import csv
import io
import posixpath
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice, repeat
from operator import gt, itemgetter
from pathlib import Path
from zoneinfo import ZoneInfo

from onecase.accounts.codes import AGENCY_CODE, normalise_agency_code

LOCAL_TZ = ZoneInfo("Europe/London")
MAX_PROBLEMS = 50
MAX_COLUMNS = 200  # columns in a header (and declared by a workbook's sheet)
MAX_XLSX_ROWS = 1_000_000  # rows a workbook's sheet may declare, header included
SNIFF_BYTES = 64 * 1024  # the start of a CSV file looked at for binary content
MAX_HEADER_BYTES = 1024 * 1024  # the longest header row of a CSV file
MAX_UNPACKED_BYTES = 4 * 1024**3  # the largest sheet of a workbook, unpacked
BINARY_SHARE = 0.01  # more control bytes than this share of the start of a file: not text
LISTED_COLUMNS = 5  # unknown columns named one by one; more are summarised
EARLIEST_OCCURRED = datetime(1900, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)  # occurred_at may be this far ahead (clocks and time zones differ)
EARLIEST_BIRTH = date(1880, 1, 1)

REQUIRED = ("record_id", "person_ref", "occurred_at", "contact_type")
IDENTITY = ("given_name", "family_name", "date_of_birth", "sex", "address_line", "postcode", "uprn", "nhs_number")
CONTEXT = ("presenting_need", "outcome", "staff_role", "source_system")
KNOWN = frozenset((*REQUIRED, *IDENTITY, *CONTEXT, "agency"))

# Longest value each text column may hold (the database column sizes).
MAX_LENGTH = {
    "record_id": 100,
    "person_ref": 100,
    "contact_type": 100,
    "given_name": 100,
    "family_name": 100,
    "sex": 20,
    "address_line": 300,
    "postcode": 16,
    "uprn": 12,
    "nhs_number": 12,
    "presenting_need": 2000,
    "outcome": 200,
    "staff_role": 100,
    "source_system": 100,
    "agency": 40,
}
DIGITS = re.compile(r"^\d+$")
# Free text may hold tabs and line breaks; no value may hold other C0 control characters.
FREE_TEXT = frozenset(("presenting_need", "outcome", "address_line"))
CONTROL = re.compile(r"[\x00-\x1f]")
CONTROL_IN_FREE_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\r")

# The order of values in a clean row, after the agency code.
CLEAN_FIELDS = (
    "record_id",
    "person_ref",
    "occurred_at",
    "contact_type",
    *IDENTITY,
    *CONTEXT,
)


class FormatError(Exception):
    """The file cannot be read at all (not CSV/XLSX, no header, not UTF-8...)."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


@dataclass(frozen=True)
class Problem:
    line: int | None
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason

    def as_dict(self) -> dict:
        return {"line": self.line, "column": self.column, "reason": self.reason}


@dataclass
class Table:
    """A readable file: its header, the rows still to come, and a row estimate for progress.

    Read the rows either with their line numbers (``rows``) or, faster, ``batches`` at a time.
    """

    header: list[str]
    rows: Iterator[tuple[int, list[str]]]
    estimated_rows: int
    kind: str
    values: Iterator[list[str]] | None = None  # the rows without line numbers, if cheaper to read so

    def batches(self, size: int) -> Iterator[list[list[str]]]:
        """The rows' values, ``size`` rows at a time. A FormatError here names no line; ``rows`` does."""
        values = self.values if self.values is not None else (values for _, values in self.rows)
        try:
            while batch := list(islice(values, size)):
                yield batch
        except csv.Error as exc:
            raise FormatError([Problem(None, None, f"not valid CSV ({exc})")]) from None


@dataclass
class CleanBatch:
    """Valid rows by column, for the database: ``columns`` in the order of ``(agency, *CLEAN_FIELDS)``.

    occurred_at is text a database reads as that instant (ISO 8601 with its offset) and
    date_of_birth ISO text or None; ``occurred`` holds the same instants as naive UTC
    date-times, for ordering.
    """

    columns: list[Sequence]
    occurred: list[datetime]

    def __len__(self) -> int:
        return len(self.occurred)

    @classmethod
    def of_rows(cls, rows: list[tuple]) -> CleanBatch:
        """From rows of ``RowValidator.validate_as_text``."""
        columns = [list(column) for column in zip(*rows, strict=True)]
        occurred = [datetime.fromisoformat(text).replace(tzinfo=None) for text in columns[_OCCURRED_AT]]
        return cls(columns, occurred)


# --- reading -----------------------------------------------------------------------------


def read_table(path: str | Path, name: str | None = None) -> Table:
    """Open a CSV or XLSX file. ``name`` (the uploaded file name) decides the kind if given."""
    path = Path(path)
    kind_from = (name or path.name).lower()
    if kind_from.endswith((".xlsx", ".xlsm")):
        return _read_xlsx(path)
    if kind_from.endswith(".xls"):
        raise FormatError([Problem(None, None, "old Excel .xls files are not supported; save as .xlsx or CSV")])
    return _read_csv(path.read_bytes())


def check_file(path: str | Path, name: str | None = None) -> None:
    """Cheap checks before any row is read: that the file is text or a workbook, and not too wide or long.

    Reads the start of a CSV file, or a workbook's sheet list and the start of its first sheet.
    Raises ``FormatError`` with one problem.
    """
    path = Path(path)
    kind_from = (name or path.name).lower()
    if kind_from.endswith((".xlsx", ".xlsm")):
        _check_xlsx(path)
        return
    if kind_from.endswith(".xls"):
        raise FormatError([Problem(None, None, "old Excel .xls files are not supported; save as .xlsx or CSV")])
    with path.open("rb") as handle:
        head = handle.read(MAX_HEADER_BYTES)
    _check_csv_start(head, path.stat().st_size)
    text = head.decode("utf-8-sig", errors="replace")
    try:
        header = next(csv.reader(io.StringIO(text, newline="")), [])
    except csv.Error as exc:
        raise FormatError([Problem(1, None, f"cannot read the header row ({exc})")]) from None
    _check_width(header)


def _check_csv_start(head: bytes, size: int) -> None:
    """Refuse a workbook, UTF-16 text or binary data given as CSV, and a header row too long to be one."""
    if head.startswith(b"PK\x03\x04"):
        raise FormatError([Problem(None, None, "it looks like an Excel workbook; give it a .xlsx name")])
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FormatError([Problem(None, None, "it is UTF-16 text; save it as UTF-8 CSV")])
    start = head[:SNIFF_BYTES]
    controls = len(start) - len(start.translate(None, _CONTROL_BYTES))
    if controls > max(1, len(start) * BINARY_SHARE):
        raise FormatError([Problem(None, None, "it is not a CSV file (it holds binary data, not text)")])
    if size > len(head) and b"\n" not in head and b"\r" not in head:
        raise FormatError([Problem(1, None, f"the header row is longer than {MAX_HEADER_BYTES // 1024 // 1024} MB")])


def _check_width(header: Sequence) -> None:
    """Refuse a header with more than ``MAX_COLUMNS`` columns (empty columns at its end do not count)."""
    width = len(header)
    while width and not header[width - 1]:
        width -= 1
    _check_header_width(width)


def _check_header_width(width: int) -> None:
    if width > MAX_COLUMNS:
        reason = f"the header row has {width:,} columns; at most {MAX_COLUMNS} are allowed"
        raise FormatError([Problem(1, None, reason)])


def _check_xlsx(path: Path) -> None:
    """The workbook's declared size and header width, from its sheet list and the start of its first sheet."""
    not_workbook = FormatError([Problem(None, None, "it is not an Excel workbook (.xlsx)")])
    if not zipfile.is_zipfile(path):
        raise not_workbook
    try:
        with zipfile.ZipFile(path) as archive:
            member = _first_sheet(archive)
            if member is None:
                raise not_workbook
            if archive.getinfo(member).file_size > MAX_UNPACKED_BYTES:
                raise FormatError([Problem(None, None, "the first sheet is too large once unpacked; save it as CSV")])
            with archive.open(member) as source:
                dimension, width = _sheet_start(source)
    except FormatError:
        raise
    except Exception as exc:  # a damaged archive or sheet can fail in many ways, all meaning the same
        raise FormatError([Problem(None, None, f"cannot open the workbook ({exc.__class__.__name__})")]) from None
    if dimension is not None:
        _, _, columns, rows = dimension
        if columns and columns > MAX_COLUMNS:
            raise FormatError([Problem(None, None, f"the first sheet is {columns:,} columns wide; "
                                                   f"at most {MAX_COLUMNS} are allowed")])
        if rows and rows > MAX_XLSX_ROWS:
            raise FormatError([Problem(None, None, f"the first sheet has {rows:,} rows; at most {MAX_XLSX_ROWS:,} "
                                                   "are allowed in a workbook (save larger files as CSV)")])
    _check_header_width(width)


_RELATIONSHIP_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def _first_sheet(archive: zipfile.ZipFile) -> str | None:
    """The archive member holding the workbook's first sheet, or None."""
    from openpyxl.xml.functions import fromstring

    names = set(archive.namelist())
    if "xl/workbook.xml" not in names or "xl/_rels/workbook.xml.rels" not in names:
        return None
    sheet = next((e for e in fromstring(archive.read("xl/workbook.xml")).iter() if _local(e.tag) == "sheet"), None)
    if sheet is None:
        return None
    wanted = sheet.get(_RELATIONSHIP_ID)
    for relationship in fromstring(archive.read("xl/_rels/workbook.xml.rels")).iter():
        if _local(relationship.tag) == "Relationship" and relationship.get("Id") == wanted:
            target = relationship.get("Target") or ""
            member = target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
            return member if member in names else None
    return None


def _sheet_start(source) -> tuple[tuple | None, int]:
    """A sheet's declared ``(min column, min row, max column, max row)`` and the width of its first row."""
    from openpyxl.utils.cell import column_index_from_string, range_boundaries
    from openpyxl.xml.functions import iterparse

    dimension = None
    width = 0
    cells = 0
    first_row = False
    for event, element in iterparse(source, events=("start", "end")):
        tag = _local(element.tag)
        if event == "start":
            if tag == "dimension":
                try:
                    dimension = range_boundaries(element.get("ref") or "")
                except (TypeError, ValueError):
                    dimension = None
            elif tag == "row":
                first_row = element.get("r") in (None, "1")
            continue
        if tag == "c" and first_row:
            cells += 1
            if any(_local(child.tag) in ("v", "is") for child in element):
                ref = element.get("r")
                letters = ref.rstrip("0123456789") if ref else ""
                width = column_index_from_string(letters) if letters else cells
            element.clear()
        elif tag in ("row", "sheetData"):
            break
    return dimension, width


def _local(tag) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _read_csv(data: bytes) -> Table:
    _check_csv_start(data[:MAX_HEADER_BYTES], len(data))
    if not _is_utf8(data):
        raise FormatError(_utf8_problems(data))
    # Decoded as read rather than all at once: a decoded copy of a large file costs up to four
    # bytes a character. Lines end as io.StringIO(newline="") would end them.
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        raise FormatError([Problem(1, None, "the file is empty; it needs a header row")]) from None
    except csv.Error as exc:
        raise FormatError([Problem(1, None, f"cannot read the header row ({exc})")]) from None
    _check_width(header)

    def rows() -> Iterator[tuple[int, list[str]]]:
        start = reader.line_num + 1
        try:
            for values in reader:
                if values and any(values):
                    yield start, values
                start = reader.line_num + 1
        except csv.Error as exc:
            raise FormatError([Problem(start, None, f"not valid CSV ({exc})")]) from None

    return Table(header=header, rows=rows(), estimated_rows=max(data.count(b"\n") - 1, 1), kind="csv",
                 values=filter(any, reader))  # as rows() skips blank rows


def _is_utf8(data: bytes, block: int = 1 << 20) -> bool:
    """Whether ``data`` decodes as UTF-8, checked in blocks so that no decoded copy is kept."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    try:
        for start in range(0, len(data), block):
            decoder.decode(view[start : start + block])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _utf8_problems(data: bytes) -> list[Problem]:
    """Name each line (and column, where the header is readable) that is not UTF-8."""
    lines = data.split(b"\n")
    header: list[str] = []
    try:
        header = next(csv.reader([lines[0].decode("utf-8-sig").rstrip("\r")]))
    except (UnicodeDecodeError, StopIteration, csv.Error):
        header = []
    problems = []
    for number, raw in enumerate(lines, start=1):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = raw[exc.start : exc.start + 1].hex().upper()
            column = None
            try:
                fields = next(csv.reader([raw.decode("utf-8", "replace").rstrip("\r")]), [])
            except csv.Error:
                fields = []
            for index, value in enumerate(fields):
                if "\ufffd" in value:
                    column = header[index] if index < len(header) else f"{index + 1}"
                    break
            problems.append(
                Problem(number, column, f"not valid UTF-8 (byte 0x{bad}); save the file as UTF-8 CSV")
            )
            if len(problems) >= MAX_PROBLEMS:
                break
    return problems


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        # Excel has no date-only type: a cell at midnight is a date.
        return value.date().isoformat() if value.time() == time(0) and value.tzinfo is None else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _read_xlsx(path: Path) -> Table:
    from openpyxl import load_workbook

    _check_xlsx(path)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        # Only the header's cells are read from each row, so that a wide sheet is not read whole.
        header = [_cell_text(v) for v in next(sheet.iter_rows(max_row=1, values_only=True), ())]
    except Exception as exc:  # a damaged workbook can fail in many ways, all meaning the same
        raise FormatError([Problem(None, None, f"cannot open the workbook ({exc.__class__.__name__})")]) from None
    while header and not header[-1]:
        header.pop()
    if not header:
        workbook.close()
        raise FormatError([Problem(1, None, "the first sheet is empty; it needs a header row")])
    _check_width(header)
    width = len(header)

    def rows() -> Iterator[tuple[int, list[str]]]:
        number = 1
        try:
            for number, cells in enumerate(sheet.iter_rows(min_row=2, max_col=width, values_only=True), start=2):
                if number > MAX_XLSX_ROWS:
                    raise FormatError([Problem(number, None, f"a workbook may have at most {MAX_XLSX_ROWS:,} rows "
                                                             "(save larger files as CSV)")])
                if any(cells):
                    values = [_cell_text(v) for v in cells]
                    if any(values):
                        yield number, values
        except FormatError:
            raise
        except Exception as exc:  # a sheet damaged after its first rows
            reason = f"cannot read the workbook ({exc.__class__.__name__})"
            raise FormatError([Problem(number + 1, None, reason)]) from None
        finally:
            workbook.close()

    return Table(header=header, rows=rows(), estimated_rows=max((sheet.max_row or 2) - 1, 1), kind="xlsx")


def unknown_column_warnings(ignored: Sequence[str], *, done: bool) -> list[str]:
    """Warnings for columns not in the format: one each for a few, else one that counts them and names some."""
    will = "was ignored" if done else "will be ignored"
    if len(ignored) <= LISTED_COLUMNS:
        return [f"column {name} is not part of the contact format and {will}" for name in ignored]
    examples = ", ".join(name[:40] for name in ignored[:3])
    were = "were ignored" if done else "will be ignored"
    return [f"{len(ignored):,} columns are not part of the contact format and {were}, for example: {examples}"]


# --- header and rows ---------------------------------------------------------------------


@dataclass
class Layout:
    """Where each known column sits in the file, and which columns will be ignored."""

    index: dict[str, int]
    ignored: list[str]


def read_layout(header: list[str], *, agency_given: bool) -> tuple[Layout, list[Problem]]:
    names = [h.strip().lstrip("\ufeff").lower() for h in header]
    index: dict[str, int] = {}
    problems: list[Problem] = []
    ignored: list[str] = []
    for position, name in enumerate(names):
        if name in KNOWN:
            if name in index:
                problems.append(Problem(1, name, "this column appears twice"))
            index[name] = position
        elif name:
            ignored.append(header[position].strip())
    for name in REQUIRED:
        if name not in index:
            problems.append(Problem(1, name, "required column is missing"))
    if not agency_given and "agency" not in index:
        problems.append(Problem(1, "agency", "required column is missing (or give the agency for the whole file)"))
    return Layout(index=index, ignored=ignored), problems


def parse_occurred_at(value: str) -> datetime:
    """ISO 8601 date or date-time; a time without offset is UK local time."""
    value = value.strip()
    if len(value) == 10:
        parsed = datetime.combine(date.fromisoformat(value), time(0), tzinfo=LOCAL_TZ)
    else:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=LOCAL_TZ)
    return parsed.astimezone(UTC)


# Positions of the values a validator works on: the agency code, then CLEAN_FIELDS.
_FIELDS = ("agency", *CLEAN_FIELDS)
_AGENCY, _RECORD_ID, _PERSON_REF, _OCCURRED_AT, _CONTACT_TYPE = range(5)
_DATE_OF_BIRTH = _FIELDS.index("date_of_birth")
_UPRN = _FIELDS.index("uprn")
_NHS_NUMBER = _FIELDS.index("nhs_number")
_LIMITS = tuple((_FIELDS.index(name), limit) for name, limit in MAX_LENGTH.items())
# The control characters each value may not hold (the agency code has its own, stricter, check).
_CONTROLS = tuple((slot, CONTROL_IN_FREE_TEXT if name in FREE_TEXT else CONTROL)
                  for slot, name in enumerate(_FIELDS) if name != "agency")
_EARLIEST_TEXT = EARLIEST_OCCURRED.isoformat()
_EARLIEST_NAIVE = EARLIEST_OCCURRED.replace(tzinfo=None)


# Offsets of UK local time written as text: a database reads "2024-07-01T12:00+01:00" as the same instant.
_LOCAL_SUFFIXES = {timedelta(0): "+00:00", timedelta(hours=1): "+01:00"}
# Characters 4, 7, 10, 13 and 16 of "YYYY-MM-DDTHH:MM:SS" and "YYYY-MM-DD HH:MM" (and the like), which
# databases read as Python does; Python reads other forms too, such as "2024-W01-1T10:00:00".
_PLAIN_LOCAL = frozenset(("--T::", "-- ::", "--T:", "-- :"))


def _all_digits(values: Sequence[str]) -> bool:
    """Whether every non-empty value is ASCII digits (a stricter ``_digits``, for a whole column)."""
    joined = "".join(values)
    return not joined or (joined.isascii() and joined.isdigit())


def _digits(value: str) -> bool:
    """``DIGITS.match(value)``, without the regular expression for plain ASCII digits."""
    return (value.isascii() and value.isdigit()) or DIGITS.match(value) is not None


class RowValidator:
    """Turns raw rows into clean tuples ``(agency_code, *CLEAN_FIELDS)`` or problems.

    Most rows are valid, so ``validate`` first tries a fast path that only confirms a row has
    no problem; any row it cannot confirm goes through the full checks, which alone decide the
    problems and their order.
    """

    def __init__(self, layout: Layout, *, agency_code: str | None, today: date | None = None,
                 now: datetime | None = None):
        self.layout = layout
        self.agency_code = normalise_agency_code(agency_code) if agency_code else None
        self.today = today or date.today()
        # The latest occurred_at accepted, as an aware instant, as UTC text (which sorts as the
        # instants do) and as a naive UTC date-time.
        self.latest = ((now or datetime.now(UTC)) + FUTURE_SLACK).astimezone(UTC).replace(microsecond=0)
        self._latest_text = self.latest.isoformat()
        self._latest_naive = self.latest.replace(tzinfo=None)
        # The first line of each (agency code, record id).
        self.seen: dict[tuple[str, str], int] = {}
        idx = layout.index
        # Fetch each column by position; a short row gives "".
        self._positions = [(name, idx.get(name)) for name in _FIELDS]
        positions = [position for _, position in self._positions]
        present = [position for position in positions if position is not None]
        self._width = max(present, default=-1) + 1
        self._pick = itemgetter(*present) if len(present) > 1 else None
        self._absent = [slot for slot, position in enumerate(positions) if position is None]
        limits = [(slot, limit) for slot, limit in _LIMITS if positions[slot] is not None]
        self._pick_limited = itemgetter(*(slot for slot, _ in limits)) if len(limits) > 1 else None
        self._limits = tuple(limit for _, limit in limits)
        self._default_agency_ok = bool(self.agency_code and AGENCY_CODE.match(self.agency_code))
        self._agencies: dict[str, str] = {}  # raw code -> valid normalised code
        self._dates_of_birth: dict[str, tuple[date, str]] = {}  # raw value -> valid date and its text
        self._day_texts: dict[str, str] = {}  # occurred_at given as a date -> UTC text
        self._days: dict[str, tuple[str, datetime]] = {}  # the same, with the naive UTC date-time
        self._dob_texts: dict[str, str | None] = {"": None}  # valid raw date of birth -> ISO text
        self._keys: set[tuple[str, str]] = set()  # (agency code, record id) seen by validate_columns
        self._column_limits = [(slot, limit) for slot, limit in _LIMITS if positions[slot] is not None]
        self._controls = tuple((slot, pattern) for slot, pattern in _CONTROLS if positions[slot] is not None)

    def validate(self, line: int, values: list[str]) -> tuple[tuple | None, list[Problem]]:
        clean = self._valid(line, values, as_text=False)
        if clean is not None:
            return clean, []
        return self._check(line, values)

    def validate_as_text(self, line: int, values: list[str]) -> tuple[tuple | None, list[Problem]]:
        """``validate``, but with occurred_at as ISO text in UTC and date_of_birth as ISO text (or None).

        The text sorts as the date-times do, and is what a database would be sent anyway.
        """
        clean = self._valid(line, values, as_text=True)
        if clean is not None:
            return clean, []
        clean, problems = self._check(line, values)
        if clean is None:
            return None, problems
        dob = clean[_DATE_OF_BIRTH]
        clean = list(clean)
        clean[_OCCURRED_AT] = clean[_OCCURRED_AT].isoformat()
        clean[_DATE_OF_BIRTH] = dob.isoformat() if dob is not None else None
        return tuple(clean), []

    def _occurred_text(self, value: str) -> str:
        """``parse_occurred_at(value).isoformat()``, without building the aware date-times for local times."""
        if len(value) == 10:
            text = self._day_texts.get(value)
            if text is None:
                text = self._day_texts[value] = parse_occurred_at(value).isoformat()
            return text
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is not None:
            return parsed.astimezone(UTC).isoformat()
        # As astimezone would do for the same wall time in LOCAL_TZ (fold 0).
        return (parsed - LOCAL_TZ.utcoffset(parsed)).isoformat() + "+00:00"

    def _valid(self, line: int, values: list[str], *, as_text: bool) -> tuple | None:
        """The clean row if the row certainly has no problem (and is now seen), else None."""
        if self._pick is None or self._pick_limited is None or len(values) < self._width:
            return None
        got = list(map(str.strip, self._pick(values)))
        for slot in self._absent:
            got.insert(slot, "")

        raw_agency = got[_AGENCY]
        if raw_agency:
            agency = self._agencies.get(raw_agency)
            if agency is None:
                agency = normalise_agency_code(raw_agency)
                if not AGENCY_CODE.match(agency):
                    return None
                self._agencies[raw_agency] = agency
        elif self._default_agency_ok:
            agency = self.agency_code
        else:
            return None
        record_id = got[_RECORD_ID]
        if not (record_id and got[_PERSON_REF] and got[_CONTACT_TYPE] and got[_OCCURRED_AT]):
            return None
        if not "".join(got).isprintable():
            for slot, pattern in self._controls:
                if pattern.search(got[slot]):
                    return None
        try:
            if as_text:
                occurred = self._occurred_text(got[_OCCURRED_AT])
                if not _EARLIEST_TEXT <= occurred <= self._latest_text:
                    return None
            else:
                occurred = parse_occurred_at(got[_OCCURRED_AT])
                if not EARLIEST_OCCURRED <= occurred <= self.latest:
                    return None
        except (ValueError, OverflowError):
            return None  # the full checks report it
        raw_dob = got[_DATE_OF_BIRTH]
        dob = None
        if raw_dob:
            known = self._dates_of_birth.get(raw_dob)
            if known is None:
                if len(raw_dob) != 10:
                    return None
                try:
                    parsed_dob = date.fromisoformat(raw_dob)
                except ValueError:
                    return None
                if parsed_dob > self.today or parsed_dob < EARLIEST_BIRTH:
                    return None
                known = self._dates_of_birth[raw_dob] = (parsed_dob, parsed_dob.isoformat())
            dob = known[1] if as_text else known[0]
        if any(map(gt, map(len, self._pick_limited(got)), self._limits)):
            return None
        if got[_UPRN] and not _digits(got[_UPRN]):
            return None
        nhs = got[_NHS_NUMBER]
        if nhs:
            nhs = nhs.replace(" ", "").replace("-", "")
            if nhs and (len(nhs) != 10 or not _digits(nhs)):
                return None
        key = (agency, record_id)
        if key in self.seen:
            return None
        self.seen[key] = line

        got[_AGENCY] = agency
        got[_OCCURRED_AT] = occurred
        got[_DATE_OF_BIRTH] = dob
        got[_NHS_NUMBER] = nhs
        return tuple(got)

    def validate_columns(self, rows: list[list[str]]) -> CleanBatch | None:
        """``validate_as_text`` for many rows at once, checked column by column, without line numbers.

        Returns their clean columns if every row certainly has no problem, else None (and changes
        nothing): the caller then validates the file row by row, with a new validator, for the
        problems. Accepts what ``_valid`` accepts, or less. Record ids are remembered apart from
        ``seen`` (without their lines), so a validator is used either this way or row by row.
        """
        width = self._width
        if not rows or self._pick is None:
            return None
        n = len(rows)
        if min(map(len, rows)) < width:  # a short row gives "" for the columns it lacks
            rows = [values if len(values) >= width else values + [""] * (width - len(values)) for values in rows]
        by_position = list(zip(*rows, strict=False))  # as wide as the shortest row, which has every known column
        blank = ("",) * n
        columns: list[Sequence] = [
            blank if position is None else list(map(str.strip, by_position[position]))
            for _, position in self._positions
        ]
        for slot, pattern in self._controls:
            joined = "".join(columns[slot])
            if not joined.isprintable() and pattern.search(joined):
                return None

        if self._positions[_AGENCY][1] is None:
            if not self._default_agency_ok:
                return None
            agencies = columns[_AGENCY] = [self.agency_code] * n
        else:
            codes = {}
            for raw in dict.fromkeys(columns[_AGENCY]):
                if raw:
                    code = self._agencies.get(raw)
                    if code is None:
                        code = normalise_agency_code(raw)
                        if not AGENCY_CODE.match(code):
                            return None
                        self._agencies[raw] = code
                elif self._default_agency_ok:
                    code = self.agency_code
                else:
                    return None
                codes[raw] = code
            agencies = columns[_AGENCY] = list(map(codes.__getitem__, columns[_AGENCY]))
        record_ids = columns[_RECORD_ID]
        if not (all(record_ids) and all(columns[_PERSON_REF]) and all(columns[_CONTACT_TYPE])):
            return None
        for slot, limit in self._column_limits:
            if max(map(len, columns[slot])) > limit:
                return None
        if not _all_digits(columns[_UPRN]):
            return None
        nhs = columns[_NHS_NUMBER]
        joined = "".join(nhs)
        if " " in joined or "-" in joined:
            nhs = list(map(str.replace, nhs, repeat(" "), repeat("")))
            nhs = columns[_NHS_NUMBER] = list(map(str.replace, nhs, repeat("-"), repeat("")))
        if not _all_digits(nhs) or not set(map(len, nhs)) <= {0, 10}:
            return None
        dob_texts = self._dob_texts
        for raw in set(columns[_DATE_OF_BIRTH]).difference(dob_texts):
            if len(raw) != 10:
                return None
            try:
                parsed = date.fromisoformat(raw)
            except ValueError:
                return None
            if parsed > self.today or parsed < EARLIEST_BIRTH:
                return None
            dob_texts[raw] = parsed.isoformat()
        columns[_DATE_OF_BIRTH] = list(map(dob_texts.__getitem__, columns[_DATE_OF_BIRTH]))
        if not all(columns[_OCCURRED_AT]):
            return None
        try:
            columns[_OCCURRED_AT], instants = self._occurred_columns(columns[_OCCURRED_AT])
        except (ValueError, OverflowError):
            return None
        if min(instants) < _EARLIEST_NAIVE or max(instants) > self._latest_naive:
            return None

        keys = set(zip(agencies, record_ids, strict=True))
        if len(keys) != n or not self._keys.isdisjoint(keys):
            return None
        self._keys |= keys
        return CleanBatch(columns, instants)

    def _occurred_columns(self, values: Sequence[str]) -> tuple[list[str], list[datetime]]:
        """occurred_at as text for the database, and as naive UTC date-times.

        A UK local time written plainly keeps its digits and gains its offset; anything else is
        sent as ``_occurred_text`` sends it. Both name the instant ``parse_occurred_at`` gives.
        """
        texts: list[str] = []
        instants: list[datetime] = []
        days = self._days
        suffixes = _LOCAL_SUFFIXES
        fromisoformat = datetime.fromisoformat
        utcoffset = LOCAL_TZ.utcoffset
        for value in values:
            size = len(value)
            if size == 10:
                known = days.get(value)
                if known is None:
                    parsed = parse_occurred_at(value)
                    known = days[value] = (parsed.isoformat(), parsed.replace(tzinfo=None))
                text, instant = known
            else:
                parsed = fromisoformat(value)
                if parsed.tzinfo is None:
                    offset = utcoffset(parsed)
                    instant = parsed - offset
                    suffix = suffixes.get(offset)
                    if suffix is not None and (size == 19 or size == 16) and value[4:17:3] in _PLAIN_LOCAL:
                        text = value + suffix
                    else:
                        text = instant.isoformat() + "+00:00"
                else:
                    aware = parsed.astimezone(UTC)
                    text = aware.isoformat()
                    instant = aware.replace(tzinfo=None)
            texts.append(text)
            instants.append(instant)
        return texts, instants

    def _check(self, line: int, values: list[str]) -> tuple[tuple | None, list[Problem]]:
        """Every check, in the order problems are reported."""
        width = len(values)
        got = {}
        for name, position in self._positions:
            got[name] = values[position].strip() if position is not None and position < width else ""
        problems: list[Problem] = []

        agency = normalise_agency_code(got["agency"]) if got["agency"] else self.agency_code
        if not agency:
            problems.append(Problem(line, "agency", "is empty"))
        elif not AGENCY_CODE.match(agency):
            problems.append(Problem(line, "agency", "use letters, digits, - or _ only (at most 40)"))

        for name in REQUIRED:
            if name != "occurred_at" and not got[name]:
                problems.append(Problem(line, name, "is empty"))

        occurred = None
        if not got["occurred_at"]:
            problems.append(Problem(line, "occurred_at", "is empty"))
        else:
            try:
                occurred = parse_occurred_at(got["occurred_at"])
            except (ValueError, OverflowError):
                problems.append(
                    Problem(line, "occurred_at", f"'{got['occurred_at'][:40]}' is not an ISO 8601 date or date-time")
                )
            else:
                if occurred < EARLIEST_OCCURRED:
                    problems.append(Problem(line, "occurred_at", f"is before {EARLIEST_OCCURRED.year}"))
                    occurred = None
                elif occurred > self.latest:
                    problems.append(Problem(line, "occurred_at", "is more than a day in the future"))
                    occurred = None

        dob = None
        if got["date_of_birth"]:
            try:
                dob = date.fromisoformat(got["date_of_birth"]) if len(got["date_of_birth"]) == 10 else None
                if dob is None:
                    raise ValueError
            except ValueError:
                problems.append(Problem(line, "date_of_birth", "must be a date written YYYY-MM-DD"))
            else:
                if dob > self.today:
                    problems.append(Problem(line, "date_of_birth", "is in the future"))
                elif dob < EARLIEST_BIRTH:
                    problems.append(Problem(line, "date_of_birth", f"is before {EARLIEST_BIRTH.year}"))

        for name, limit in MAX_LENGTH.items():
            if len(got[name]) > limit:
                problems.append(Problem(line, name, f"is longer than {limit:,} characters"))
        for slot, pattern in self._controls:
            found = pattern.search(got[_FIELDS[slot]])
            if found:
                code = ord(found.group())
                problems.append(Problem(line, _FIELDS[slot], f"contains a control character (character code {code})"))
        if got["uprn"] and not DIGITS.match(got["uprn"]):
            problems.append(Problem(line, "uprn", "must be digits only"))
        nhs = got["nhs_number"].replace(" ", "").replace("-", "")
        if nhs and (len(nhs) != 10 or not DIGITS.match(nhs)):
            problems.append(Problem(line, "nhs_number", "must be 10 digits"))

        if agency and got["record_id"]:
            key = (agency, got["record_id"])
            first = self.seen.get(key)
            if first is not None:
                problems.append(Problem(line, "record_id", f"repeats the record on line {first}"))
            else:
                self.seen[key] = line

        if problems:
            return None, problems
        got["occurred_at"] = occurred
        got["date_of_birth"] = dob
        got["nhs_number"] = nhs
        return (agency, *(got[name] for name in CLEAN_FIELDS)), []
