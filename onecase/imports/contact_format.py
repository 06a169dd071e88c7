"""The canonical contact format: reading CSV or XLSX, and validating each row.

Reading yields ``(line_number, values)`` pairs; validation turns them into clean rows or
``Problem`` objects that name the line and column. Nothing here touches the database.
See docs/contact-format.md for the format itself.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Europe/London")
MAX_PROBLEMS = 50

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
    "outcome": 200,
    "staff_role": 100,
    "source_system": 100,
    "agency": 40,
}
AGENCY_CODE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
DIGITS = re.compile(r"^\d+$")

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
    """A readable file: its header, the rows still to come, and a row estimate for progress."""

    header: list[str]
    rows: Iterator[tuple[int, list[str]]]
    estimated_rows: int
    kind: str


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


def _read_csv(data: bytes) -> Table:
    if data.startswith(b"PK\x03\x04"):
        raise FormatError([Problem(None, None, "this looks like an Excel workbook; give it a .xlsx name")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FormatError(_utf8_problems(data)) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise FormatError([Problem(1, None, "the file is empty; it needs a header row")]) from None
    except csv.Error as exc:
        raise FormatError([Problem(1, None, f"cannot read the header row ({exc})")]) from None

    def rows() -> Iterator[tuple[int, list[str]]]:
        start = reader.line_num + 1
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise FormatError([Problem(start, None, f"not valid CSV ({exc})")]) from None
            if values and any(values):
                yield start, values
            start = reader.line_num + 1

    return Table(header=header, rows=rows(), estimated_rows=max(text.count("\n") - 1, 1), kind="csv")


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
            fields = next(csv.reader([raw.decode("utf-8", "replace").rstrip("\r")]), [])
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
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise FormatError([Problem(None, None, f"cannot open the workbook ({exc.__class__.__name__})")]) from None
    sheet = workbook.worksheets[0]
    iterator = sheet.iter_rows(values_only=True)
    try:
        header = [_cell_text(v) for v in next(iterator)]
    except StopIteration:
        workbook.close()
        raise FormatError([Problem(1, None, "the first sheet is empty; it needs a header row")]) from None
    while header and not header[-1]:
        header.pop()

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for number, cells in enumerate(iterator, start=2):
                values = [_cell_text(v) for v in cells[: len(header)]]
                if any(values):
                    yield number, values
        finally:
            workbook.close()

    return Table(header=header, rows=rows(), estimated_rows=max((sheet.max_row or 2) - 1, 1), kind="xlsx")


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


def normalise_agency_code(code: str) -> str:
    return code.strip().upper()


class RowValidator:
    """Turns raw rows into clean tuples ``(agency_code, *CLEAN_FIELDS)`` or problems."""

    def __init__(self, layout: Layout, *, agency_code: str | None, today: date | None = None):
        self.layout = layout
        self.agency_code = normalise_agency_code(agency_code) if agency_code else None
        self.today = today or date.today()
        self.seen: dict[tuple[str, str], int] = {}
        idx = layout.index
        # Fetch each column by position; a short row gives "".
        self._positions = [(name, idx.get(name)) for name in ("agency", *CLEAN_FIELDS)]

    def validate(self, line: int, values: list[str]) -> tuple[tuple | None, list[Problem]]:
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
            except ValueError:
                problems.append(
                    Problem(line, "occurred_at", f"'{got['occurred_at'][:40]}' is not an ISO 8601 date or date-time")
                )

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

        for name, limit in MAX_LENGTH.items():
            if len(got[name]) > limit:
                problems.append(Problem(line, name, f"is longer than {limit} characters"))
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
