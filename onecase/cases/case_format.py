"""The historical case format: its columns, and the checks each row passes on its own.

Reading goes through the contact format's reader (``imports.contact_format.read_table``), so a
file is refused for the same reasons (not UTF-8, binary data, a header too wide...) in the
same words. Checks that need the database (agencies, agency people, staff, live cases) are
``cases.services.cases_import``'s. Nothing here touches the database.
See docs/case-import-format.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from onecase.accounts.codes import AGENCY_CODE, normalise_agency_code
from onecase.imports.contact_format import CONTROL, CONTROL_IN_FREE_TEXT, Problem

LONDON = ZoneInfo("Europe/London")
REQUIRED = ("case_ref", "subject", "agency", "person_ref", "key_worker", "opened_on")
OPTIONAL = ("closed_on", "summary")
COLUMNS = (*REQUIRED, *OPTIONAL)
SUBJECTS = ("household", "person")
EARLIEST = dt.date(1900, 1, 1)
# Longest value each column may hold.
MAX_LENGTH = {
    "case_ref": 100,
    "subject": 20,
    "agency": 40,
    "person_ref": 100,
    "key_worker": 150,
    "opened_on": 10,
    "closed_on": 10,
    "summary": 5000,
}
FREE_TEXT = frozenset(("summary",))


@dataclass(frozen=True)
class CaseRow:
    """One checked row: what it says, before the database is asked about it."""

    line: int
    case_ref: str
    subject: str
    agency: str  # the agency code, normalised
    person_ref: str
    key_worker: str
    opened_on: dt.date
    closed_on: dt.date | None
    summary: str

    @property
    def live(self) -> bool:
        return self.closed_on is None

    def as_imported(self) -> dict[str, str]:
        """The row's values as stored on the case, to tell a re-import of the same row from a changed one."""
        return {
            "subject": self.subject,
            "agency": self.agency,
            "person_ref": self.person_ref,
            "key_worker": self.key_worker,
            "opened_on": self.opened_on.isoformat(),
            "closed_on": self.closed_on.isoformat() if self.closed_on else "",
            "summary": self.summary,
        }


def london_midnight(day: dt.date) -> dt.datetime:
    """The start of a UK local date, as an aware date-time."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=LONDON)


def read_header(header: Sequence[str]) -> tuple[dict[str, int], list[str], list[Problem]]:
    """Where each column sits, the names of columns not in the format (ignored), and header problems."""
    index: dict[str, int] = {}
    ignored: list[str] = []
    problems: list[Problem] = []
    for position, raw in enumerate(header):
        name = raw.strip().lstrip("\ufeff").lower()
        if name in COLUMNS:
            if name in index:
                problems.append(Problem(1, name, "this column appears twice"))
            index[name] = position
        elif name:
            ignored.append(raw.strip()[:40])
    for name in REQUIRED:
        if name not in index:
            problems.append(Problem(1, name, "required column is missing"))
    return index, ignored, problems


def ignored_warnings(ignored: Sequence[str]) -> list[str]:
    if not ignored:
        return []
    names = ", ".join(ignored[:5]) + (f" and {len(ignored) - 5:,} more" if len(ignored) > 5 else "")
    return [f"columns not part of the case format were ignored: {names}"]


def _date(line: int, column: str, value: str, today: dt.date, problems: list[Problem]) -> dt.date | None:
    try:
        day = dt.date.fromisoformat(value) if len(value) == 10 and value[4] == "-" and value[7] == "-" else None
    except ValueError:
        day = None
    if day is None:
        problems.append(Problem(line, column, f"'{value[:40]}' is not a date written YYYY-MM-DD"))
    elif day > today:
        problems.append(Problem(line, column, "is in the future"))
    elif day < EARLIEST:
        problems.append(Problem(line, column, f"is before {EARLIEST.year}"))
    else:
        return day
    return None


def check_row(line: int, values: Sequence[str], index: dict[str, int], today: dt.date
              ) -> tuple[CaseRow | None, list[Problem]]:
    """A row's own checks, in the order of the format's columns: a clean row, or its problems."""
    got = {name: (values[i].strip() if i < len(values) else "") for name, i in index.items()}
    for name in OPTIONAL:
        got.setdefault(name, "")
    problems: list[Problem] = []
    for name in COLUMNS:
        value = got[name]
        if name in REQUIRED and not value:
            problems.append(Problem(line, name, "is empty"))
            continue
        found = (CONTROL_IN_FREE_TEXT if name in FREE_TEXT else CONTROL).search(value)
        if found:
            problems.append(Problem(line, name, f"contains a control character (character code {ord(found.group())})"))
            continue
        if len(value) > MAX_LENGTH[name]:
            problems.append(Problem(line, name, f"is longer than {MAX_LENGTH[name]:,} characters"))
    bad = {p.column for p in problems}
    subject = got["subject"].lower()
    if "subject" not in bad and subject not in SUBJECTS:
        problems.append(Problem(line, "subject", f"'{got['subject'][:40]}' is not household or person"))
    agency = normalise_agency_code(got["agency"])
    if "agency" not in bad and not AGENCY_CODE.match(agency):
        problems.append(Problem(line, "agency", "use letters, digits, - or _ only (at most 40)"))
    opened = _date(line, "opened_on", got["opened_on"], today, problems) if "opened_on" not in bad else None
    closed = None
    if got["closed_on"] and "closed_on" not in bad:
        closed = _date(line, "closed_on", got["closed_on"], today, problems)
        if closed is not None and opened is not None and closed < opened:
            problems.append(Problem(line, "closed_on", f"is before opened_on ({opened.isoformat()})"))
    if problems:
        return None, problems
    return CaseRow(line=line, case_ref=got["case_ref"], subject=subject, agency=agency, person_ref=got["person_ref"],
                   key_worker=got["key_worker"], opened_on=opened, closed_on=closed, summary=got["summary"]), []
