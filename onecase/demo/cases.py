"""Historical cases for the demo partnership, imported as a partnership imports its old system's.

Six closed cases on the revolving-door households planted by the generator (see catalogue.PLANTED),
held by demo staff: three closed more than 12 months before the end of the demo window, so their
after window is complete, and three closed in its last few months. They go through
``cases.services.cases_import`` from a CSV in the case format, like any other import: re-running
the demo changes nothing, and they say "outcomes not recorded".
"""

from __future__ import annotations

import csv
import tempfile
from dataclasses import dataclass
from pathlib import Path

from onecase.accounts.models import Agency, User
from onecase.accounts.services import user_create
from onecase.cases.case_format import COLUMNS
from onecase.cases.impact import add_months
from onecase.cases.services import CaseImportResult, cases_import
from onecase.contacts.models import Contact
from onecase.demo.management.commands.demo_login import ACCOUNTS


@dataclass(frozen=True)
class HistoricalCase:
    ref: str
    family: str  # a planted family's key
    member: int  # which member's record names the subject
    subject: str  # household or person
    key_worker: str  # a demo account
    opened: int  # months before the end of the demo window
    closed: int
    summary: str


HISTORICAL = (
    HistoricalCase("KIL-OLD-1001", "smith", 0, "household", "demo-keyworker", 23, 13,
                   "Rent arrears and the father's drinking; police called most weeks."),
    HistoricalCase("KIL-OLD-1002", "mycock", 1, "person", "demo-housing", 21, 14,
                   "Tenancy at risk after offending; drug and alcohol referral."),
    HistoricalCase("KIL-OLD-1003", "pointon", 0, "household", "demo-keyworker", 22, 15,
                   "Domestic abuse safety plan; the children's school attendance."),
    HistoricalCase("KIL-OLD-1004", "boulton", 0, "household", "demo-keyworker", 11, 3,
                   "Falls at home and a carer who drinks; adult social care review."),
    HistoricalCase("KIL-OLD-1005", "mycock", 0, "household", "demo-housing", 9, 2,
                   "Father and son back in the revolving door: probation and housing."),
    HistoricalCase("KIL-OLD-1006", "pointon", 0, "person", "demo-keyworker", 8, 1,
                   "Homelessness application after another incident."),
)


def _key_workers() -> None:
    """The demo staff who held the historical cases; ``demo_login`` gives them a password later."""
    roles = {username: (role, code) for username, role, code in ACCOUNTS}
    for username in sorted({c.key_worker for c in HISTORICAL}):
        if not User.objects.filter(username=username).exists():
            role, code = roles[username]
            user_create(actor=None, username=username, agency=Agency.objects.get(code=code), role=role,
                        password=None)


def _candidates(demo) -> dict[tuple[str, int], list[tuple[str, str]]]:
    """(family, member) → every (agency, person_ref) the agencies hold for that planted person."""
    person_refs: dict[str, list[tuple[str, str]]] = {}
    for code, ref, person, _household, _address in demo.truth_refs:
        person_refs.setdefault(person, []).append((code, ref))
    return {(family["key"], index): sorted(person_refs.get(member["true_person_id"], []))
            for family in demo.families for index, member in enumerate(family["members"])}


def _best_record(candidates: list[tuple[str, str]], subject: str) -> tuple[str, str] | None:
    """The record linked to the household (or person) with the most contacts: where linkage put the family."""
    key = "household_id" if subject == "household" else "person_id"
    best, most = None, -1
    for code, ref in candidates:
        target = (Contact.objects.filter(agency__code=code, agency_person__person_ref=ref)
                  .exclude(**{key: None}).values_list(key, flat=True).first())
        if target is None:
            continue
        n = Contact.objects.filter(**{key: target}).count()
        if n > most:
            best, most = (code, ref), n
    return best


def case_rows(demo) -> list[dict[str, str]]:
    """The historical cases as rows of the case format, dated from the end of the demo window (after
    linkage, which places their subjects)."""
    candidates = _candidates(demo)
    rows = []
    for case in HISTORICAL:
        if case.subject == "household":
            refs = [r for (family, _), found in candidates.items() if family == case.family for r in found]
        else:
            refs = candidates.get((case.family, case.member), [])
        record = _best_record(refs, case.subject)
        if record is None:
            continue
        agency, person_ref = record
        rows.append({
            "case_ref": case.ref, "subject": case.subject, "agency": agency, "person_ref": person_ref,
            "key_worker": case.key_worker, "opened_on": add_months(demo.window.end, -case.opened).isoformat(),
            "closed_on": add_months(demo.window.end, -case.closed).isoformat(), "summary": case.summary,
        })
    return rows


def load_demo_cases(demo) -> CaseImportResult:
    """Import the historical cases (after linkage, which places their subjects)."""
    _key_workers()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "historical-cases.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(case_rows(demo))
        return cases_import(actor=None, path=path)
