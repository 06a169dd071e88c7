"""Reading and checking place-based files: data.police.uk street-level crime CSVs and the
English Indices of Deprivation 2019 file. Plain CSV or gzipped CSV (``.csv.gz``).

Every problem names its file, line and column (``FILE: line N, column C: reason``, the column by
its header name); a file with any problem is refused whole.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import math
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_PROBLEMS = 50
MAX_BYTES = 512 * 1024**2  # the largest file, unpacked, that is read

POLICE_COLUMNS = (
    "Crime ID",
    "Month",
    "Reported by",
    "Falls within",
    "Longitude",
    "Latitude",
    "Location",
    "LSOA code",
    "LSOA name",
    "Crime type",
    "Last outcome category",
    "Context",
)
POLICE_REQUIRED = ("Month", "Reported by", "Falls within", "Crime type")
# Longest value kept per column (as the model's fields); Context is free text.
POLICE_LENGTHS = {
    "Crime ID": 100,
    "Reported by": 100,
    "Falls within": 100,
    "Location": 200,
    "LSOA code": 12,
    "LSOA name": 100,
    "Crime type": 100,
    "Last outcome category": 200,
}

DEPRIVATION_COLUMNS = {
    "code": "LSOA code (2011)",
    "name": "LSOA name (2011)",
    "local_authority_code": "Local Authority District code (2019)",
    "local_authority_name": "Local Authority District name (2019)",
    "imd_rank": "Index of Multiple Deprivation (IMD) Rank",
    "imd_decile": "Index of Multiple Deprivation (IMD) Decile",
}

MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
LSOA_CODE = re.compile(r"[A-Z][0-9]{8}")
RANK = re.compile(r"[0-9]{1,3}(,[0-9]{3})*|[0-9]+")
WHOLE = re.compile(r"[0-9]{1,2}")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column:
            where.append(f"column {self.column}")
        return f"{self.file}: {', '.join(where)}: {self.reason}" if where else f"{self.file}: {self.reason}"


class PlacesImportRejected(Exception):
    """The run was refused whole and nothing was kept. ``problems`` name file, line and column."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems[:MAX_PROBLEMS]
        self.more = len(problems) > MAX_PROBLEMS
        super().__init__("; ".join(str(p) for p in self.problems))

    def report(self) -> list[str]:
        """The lines a command prints: each problem, then what was kept (nothing)."""
        lines = [str(problem) for problem in self.problems]
        if self.more:
            lines.append("(more problems not shown; fix these and try again)")
        lines.append("Nothing was imported: fix the problems above and run it again.")
        return lines


@dataclass(frozen=True)
class StreetCrimeRow:
    month: str
    digest: str
    occurrence: int
    crime_id: str
    reported_by: str
    falls_within: str
    longitude: float | None
    latitude: float | None
    location: str
    lsoa_code: str
    lsoa_name: str
    crime_type: str
    last_outcome_category: str
    context: str


@dataclass(frozen=True)
class DeprivationRow:
    code: str
    name: str
    local_authority_code: str
    local_authority_name: str
    imd_rank: int
    imd_decile: int


def _text(path: Path, name: str) -> str:
    """The file's text: gunzipped when it is gzip data, decoded as UTF-8 (a byte-order mark dropped)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PlacesImportRejected(
            [Problem(name, None, None, f"cannot read the file ({exc.strerror or exc})")]
        ) from None
    if data.startswith(b"\x1f\x8b"):
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as unpacked:
                data = unpacked.read(MAX_BYTES + 1)
        except (OSError, EOFError, zlib.error):
            raise PlacesImportRejected([Problem(name, None, None, "it is not a readable gzip file")]) from None
    if len(data) > MAX_BYTES:
        raise PlacesImportRejected([Problem(name, None, None, f"it is larger than {MAX_BYTES // 1024**2} MB")])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        reason = f"not valid UTF-8 (byte 0x{data[exc.start : exc.start + 1].hex().upper()}); save the file as UTF-8 CSV"
        raise PlacesImportRejected([Problem(name, line, None, reason)]) from None


def _rows(text: str, name: str) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header and the non-blank rows with their line numbers."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [cell.strip() for cell in next(reader)]
    except StopIteration:
        raise PlacesImportRejected([Problem(name, 1, None, "the file is empty; it needs a header row")]) from None
    except csv.Error as exc:
        raise PlacesImportRejected([Problem(name, 1, None, f"cannot read the header row ({exc})")]) from None

    def rows() -> Iterator[tuple[int, list[str]]]:
        start = reader.line_num + 1
        try:
            for values in reader:
                if any(value.strip() for value in values):
                    yield start, values
                start = reader.line_num + 1
        except csv.Error as exc:
            raise PlacesImportRejected([Problem(name, start, None, f"not valid CSV ({exc})")]) from None

    return header, rows()


def _header_problems(header: list[str], expected: tuple[str, ...], name: str) -> list[Problem]:
    problems = []
    seen: set[str] = set()
    for number, column in enumerate(header, start=1):
        if column in seen:
            problems.append(Problem(name, 1, column, "this column appears twice"))
        elif column not in expected:
            label = column or str(number)
            problems.append(Problem(name, 1, label, f"unknown column; the columns are: {', '.join(expected)}"))
        seen.add(column)
    for column in expected:
        if column not in seen:
            problems.append(Problem(name, 1, column, "the column is missing"))
    return problems


def _coordinate(value: str, column: str, limit: float, name: str, line: int, problems: list[Problem]) -> float | None:
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or not -limit <= number <= limit:
        problems.append(
            Problem(
                name,
                line,
                column,
                f"'{value[:40]}' is not a {column.lower()} (a number from -{limit:g} to {limit:g}, or blank)",
            )
        )
        return None
    return number


def read_police_street(path: str | Path, name: str | None = None) -> list[StreetCrimeRow]:
    """Every row of one street-level crime file, checked. Raises ``PlacesImportRejected``.

    A file holds one month: every row's Month is the same ``YYYY-MM``.
    """
    path = Path(path)
    name = name or str(path)
    header, rows = _rows(_text(path, name), name)
    problems = _header_problems(header, POLICE_COLUMNS, name)
    if problems:
        raise PlacesImportRejected(problems)
    index = {column: header.index(column) for column in POLICE_COLUMNS}
    month_of_file: tuple[str, int] | None = None
    seen: dict[tuple[str, str], int] = {}
    found: list[StreetCrimeRow] = []
    for line, values in rows:
        if len(values) != len(header):
            problems.append(
                Problem(name, line, None, f"the row has {len(values)} values; the header has {len(header)}")
            )
        else:
            cells = {column: values[index[column]].strip() for column in POLICE_COLUMNS}
            before = len(problems)
            for column in POLICE_REQUIRED:
                if not cells[column]:
                    problems.append(Problem(name, line, column, "this is empty; every row needs it"))
            for column, longest in POLICE_LENGTHS.items():
                if len(cells[column]) > longest:
                    problems.append(Problem(name, line, column, f"longer than {longest} characters"))
            month = cells["Month"]
            if month and not MONTH.fullmatch(month):
                problems.append(Problem(name, line, "Month", f"'{month[:40]}' is not a month written YYYY-MM"))
            elif month and month_of_file is None:
                month_of_file = (month, line)
            elif month and month != month_of_file[0]:
                problems.append(
                    Problem(
                        name,
                        line,
                        "Month",
                        f"{month} differs from {month_of_file[0]} on line {month_of_file[1]}; a file holds one month",
                    )
                )
            longitude = _coordinate(cells["Longitude"], "Longitude", 180, name, line, problems)
            latitude = _coordinate(cells["Latitude"], "Latitude", 90, name, line, problems)
            if bool(cells["Longitude"]) != bool(cells["Latitude"]):
                missing = "Latitude" if cells["Longitude"] else "Longitude"
                problems.append(Problem(name, line, missing, "blank while the other coordinate is given"))
            if cells["LSOA code"] and not LSOA_CODE.fullmatch(cells["LSOA code"]):
                problems.append(
                    Problem(
                        name,
                        line,
                        "LSOA code",
                        f"'{cells['LSOA code'][:40]}' is not an LSOA code (a letter and eight digits, e.g. E01000001)",
                    )
                )
            if len(problems) == before:
                digest = hashlib.sha256("\x1f".join(cells[c] for c in POLICE_COLUMNS).encode()).hexdigest()
                occurrence = seen[(month, digest)] = seen.get((month, digest), 0) + 1
                found.append(
                    StreetCrimeRow(
                        month=month,
                        digest=digest,
                        occurrence=occurrence,
                        crime_id=cells["Crime ID"],
                        reported_by=cells["Reported by"],
                        falls_within=cells["Falls within"],
                        longitude=longitude,
                        latitude=latitude,
                        location=cells["Location"],
                        lsoa_code=cells["LSOA code"],
                        lsoa_name=cells["LSOA name"],
                        crime_type=cells["Crime type"],
                        last_outcome_category=cells["Last outcome category"],
                        context=cells["Context"],
                    )
                )
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        raise PlacesImportRejected(problems)
    return found


def read_deprivation(path: str | Path, name: str | None = None) -> list[DeprivationRow]:
    """Every LSOA of an English Indices of Deprivation 2019 file (File 1, IMD), checked.

    Ranks may be written with thousands separators ("29,199"); deciles are 1 to 10.
    """
    path = Path(path)
    name = name or str(path)
    header, rows = _rows(_text(path, name), name)
    problems = _header_problems(header, tuple(DEPRIVATION_COLUMNS.values()), name)
    if problems:
        raise PlacesImportRejected(problems)
    index = {field: header.index(column) for field, column in DEPRIVATION_COLUMNS.items()}
    found: list[DeprivationRow] = []
    lines: dict[str, int] = {}
    for line, values in rows:
        if len(values) != len(header):
            problems.append(
                Problem(name, line, None, f"the row has {len(values)} values; the header has {len(header)}")
            )
        else:
            cells = {field: values[i].strip() for field, i in index.items()}
            before = len(problems)
            for field, column in DEPRIVATION_COLUMNS.items():
                if not cells[field]:
                    problems.append(Problem(name, line, column, "this is empty; every row needs it"))
                elif field in ("name", "local_authority_name") and len(cells[field]) > 100:
                    problems.append(Problem(name, line, column, "longer than 100 characters"))
            code = cells["code"]
            if code and not LSOA_CODE.fullmatch(code):
                problems.append(Problem(name, line, DEPRIVATION_COLUMNS["code"], f"'{code[:40]}' is not an LSOA code"))
            elif code in lines:
                problems.append(
                    Problem(name, line, DEPRIVATION_COLUMNS["code"], f"{code} is also on line {lines[code]}")
                )
            lines.setdefault(code, line)
            if cells["local_authority_code"] and not LSOA_CODE.fullmatch(cells["local_authority_code"]):
                problems.append(
                    Problem(
                        name,
                        line,
                        DEPRIVATION_COLUMNS["local_authority_code"],
                        f"'{cells['local_authority_code'][:40]}' is not a local authority code",
                    )
                )
            rank = cells["imd_rank"]
            if rank and (not RANK.fullmatch(rank) or int(rank.replace(",", "")) < 1):
                problems.append(
                    Problem(
                        name,
                        line,
                        DEPRIVATION_COLUMNS["imd_rank"],
                        f"'{rank[:40]}' is not a rank (a whole number from 1)",
                    )
                )
            decile = cells["imd_decile"]
            if decile and (not WHOLE.fullmatch(decile) or not 1 <= int(decile) <= 10):
                problems.append(
                    Problem(
                        name,
                        line,
                        DEPRIVATION_COLUMNS["imd_decile"],
                        f"'{decile[:40]}' is not a decile (a whole number from 1 to 10)",
                    )
                )
            if len(problems) == before:
                found.append(
                    DeprivationRow(
                        code=code,
                        name=cells["name"],
                        local_authority_code=cells["local_authority_code"],
                        local_authority_name=cells["local_authority_name"],
                        imd_rank=int(rank.replace(",", "")),
                        imd_decile=int(decile),
                    )
                )
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        raise PlacesImportRejected(problems)
    return found
