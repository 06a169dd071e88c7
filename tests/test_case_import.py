"""Importing historical cases from the old system: checked whole, idempotent, audited, in the chronology."""

import datetime as dt
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils import timezone

from onecase.accounts.models import Agency, Role
from onecase.cases.models import Case, CaseEvent, KeyWorkerSpell, Status
from onecase.cases.selectors import chronology_for
from onecase.cases.services import case_open, cases_import
from onecase.imports.services import ImportRejected
from onecase.people.models import AgencyPerson, Person, PersonLink
from onecase.sharing.models import AuditEvent
from tests.auth import sign_in
from tests.factories import UserFactory
from tests.test_demand import city  # noqa: F401

pytestmark = pytest.mark.django_db

HEADER = "case_ref,subject,agency,person_ref,key_worker,opened_on,closed_on,summary"
GOOD = (
    f"{HEADER}\n"
    "OLD-1,household,POLICE,S1,kw,2024-04-01,2024-10-27,Rent arrears and ASB\n"
    "OLD-2,person,HOUSING,HB,kw,2025-01-15,,Roof repairs\n"
)


@pytest.fixture
def world(city, partnership_admin):  # noqa: F811
    return {**city, "admin": partnership_admin,
            "kw": UserFactory(username="kw", agency=Agency.objects.get(code="POLICE"), role=Role.KEY_WORKER)}


def import_text(write_file, text, actor=None, name="cases.csv"):
    return cases_import(actor=actor, path=write_file(name, text))


def rejected(write_file, text) -> list[str]:
    with pytest.raises(ImportRejected) as error:
        import_text(write_file, text)
    return [str(p) for p in error.value.problems]


def imports_audited() -> int:
    return AuditEvent.objects.filter(action=AuditEvent.Action.IMPORT, object_type__in=["case", "cases"]).count()


def test_a_file_of_cases_is_imported_with_uk_dates_spells_and_status(world, write_file):
    result = import_text(write_file, GOOD, actor=world["admin"])
    assert (result.rows, result.created, result.unchanged) == (2, 2, 0)
    closed = Case.objects.get(imported_ref="OLD-1")
    assert closed.household == world["smyth"] and closed.person is None
    assert closed.status == Status.CLOSED and closed.key_worker == world["kw"] and closed.agency.code == "POLICE"
    # UK local midnight: 1 April 2024 is in British Summer Time, and so is the start of 27 October 2024,
    # the day the clocks go back.
    assert closed.opened_at == dt.datetime(2024, 3, 31, 23, 0, tzinfo=dt.UTC)
    assert closed.closed_at == dt.datetime(2024, 10, 26, 23, 0, tzinfo=dt.UTC)
    assert timezone.localtime(closed.opened_at).date() == dt.date(2024, 4, 1)
    assert closed.imported_by == world["admin"] and closed.imported_at is not None
    assert str(closed.import_batch) == result.batch
    assert closed.summary == "Rent arrears and ASB" and closed.needs.count() == 0
    assert closed.outcomes_not_recorded
    spell = KeyWorkerSpell.objects.get(case=closed)
    assert (spell.started_at, spell.ended_at) == (closed.opened_at, closed.closed_at)

    live = Case.objects.get(imported_ref="OLD-2")
    brown = Person.objects.get(links__agency_person__person_ref="HB")
    assert live.person == brown and live.household is None
    assert live.is_live and live.closed_at is None and not live.outcomes_not_recorded
    assert live.opened_at == dt.datetime(2025, 1, 15, 0, 0, tzinfo=dt.UTC)  # Greenwich Mean Time


def test_each_case_is_audited_and_in_its_chronology(world, write_file):
    result = import_text(write_file, GOOD, actor=world["admin"])
    cases = {c.imported_ref: c for c in Case.objects.all()}
    per_case = AuditEvent.objects.filter(action=AuditEvent.Action.IMPORT, object_type="case")
    assert sorted(per_case.values_list("object_id", flat=True)) == sorted(str(c.pk) for c in cases.values())
    assert {e.detail["batch"] for e in per_case} == {result.batch}
    assert all(e.username == "admin1" for e in per_case)
    (whole,) = AuditEvent.objects.filter(action=AuditEvent.Action.IMPORT, object_type="cases")
    assert whole.detail == {"file": "cases.csv", "batch": result.batch, "rows": 2, "created": 2, "unchanged": 0}

    case = cases["OLD-1"]
    (event,) = case.events.all()
    assert event.kind == CaseEvent.Kind.IMPORTED and event.at == case.opened_at
    assert event.summary.startswith("Imported from OLD-1: opened on 1 April 2024, closed on 27 October 2024")
    entries = chronology_for(world["admin"], case).entries
    mine = [e for e in entries if e.source == "case"]
    assert [(e.title, e.detail.split(":")[0]) for e in mine] == [("Case imported", "Imported from OLD-1")]


def test_importing_the_same_file_again_changes_nothing(world, write_file):
    import_text(write_file, GOOD)
    before = (list(Case.objects.values_list("pk", "version", "status", "opened_at", "closed_at")),
              CaseEvent.objects.count(), KeyWorkerSpell.objects.count())
    result = import_text(write_file, GOOD)
    assert (result.rows, result.created, result.unchanged) == (2, 0, 2)
    after = (list(Case.objects.values_list("pk", "version", "status", "opened_at", "closed_at")),
             CaseEvent.objects.count(), KeyWorkerSpell.objects.count())
    assert after == before
    # Only the file's own audit event is added; no case was written.
    assert AuditEvent.objects.filter(action=AuditEvent.Action.IMPORT, object_type="case").count() == 2
    assert AuditEvent.objects.filter(action=AuditEvent.Action.IMPORT, object_type="cases").count() == 2


def test_a_changed_row_for_an_imported_case_is_refused(world, write_file):
    import_text(write_file, GOOD)
    changed = GOOD.replace("2024-10-27", "2024-11-01")
    assert rejected(write_file, changed) == [
        "line 2, column closed_on: case OLD-1 was imported before with a different closed_on; "
        "an import does not change a case it imported"
    ]
    assert Case.objects.get(imported_ref="OLD-1").closed_at.date() == dt.date(2024, 10, 26)


TOMORROW = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
REFUSALS = [
    ("OLD-9,household,NOPE,S1,kw,2024-01-01,,", "line 2, column agency: there is no agency NOPE"),
    ("OLD-9,household,POLICE,X9,kw,2024-01-01,,",
     "line 2, column person_ref: no agency person X9 of POLICE has been imported"),
    ("OLD-9,person,POLICE,UNLINKED,kw,2024-01-01,,",
     "line 2, column person_ref: agency person UNLINKED of POLICE is not linked to a person yet"),
    ("OLD-9,household,POLICE,LONER,kw,2024-01-01,,",
     "line 2, column subject: agency person LONER of POLICE is linked to a person with no household"),
    ("OLD-9,household,POLICE,S1,nobody,2024-01-01,,",
     "line 2, column key_worker: no member of staff has the username nobody"),
    ("OLD-9,household,POLICE,S1,analyst,2024-01-01,,", "line 2, column key_worker: analyst cannot hold cases"),
    ("OLD-9,household,POLICE,S1,gone,2024-01-01,,",
     "line 2, column key_worker: gone is switched off; a case still open needs an active key worker"),
    ("OLD-9,household,POLICE,S1,kw,01/02/2024,,",
     "line 2, column opened_on: '01/02/2024' is not a date written YYYY-MM-DD"),
    ("OLD-9,household,POLICE,S1,kw,2024-02-30,,",
     "line 2, column opened_on: '2024-02-30' is not a date written YYYY-MM-DD"),
    (f"OLD-9,household,POLICE,S1,kw,{TOMORROW},,", "line 2, column opened_on: is in the future"),
    (f"OLD-9,household,POLICE,S1,kw,2024-01-01,{TOMORROW},", "line 2, column closed_on: is in the future"),
    ("OLD-9,household,POLICE,S1,kw,2024-05-01,2024-04-30,",
     "line 2, column closed_on: is before opened_on (2024-05-01)"),
    ("OLD-9,family,POLICE,S1,kw,2024-01-01,,", "line 2, column subject: 'family' is not household or person"),
    (",household,POLICE,S1,kw,2024-01-01,,", "line 2, column case_ref: is empty"),
    ("OLD-9,household,POLICE,S1,,2024-01-01,,", "line 2, column key_worker: is empty"),
    ("OLD\x07,household,POLICE,S1,kw,2024-01-01,,",
     "line 2, column case_ref: contains a control character (character code 7)"),
    ("OLD-9,household,POLICE,S1,kw,2024-01-01,2024-02-01,Bad\x1bsummary",
     "line 2, column summary: contains a control character (character code 27)"),
    ("OLD-9,household,POLICE,S1,kw,2024-01-01,2024-02-01," + "x" * 5001,
     "line 2, column summary: is longer than 5,000 characters"),
    ("X" * 101 + ",household,POLICE,S1,kw,2024-01-01,,", "line 2, column case_ref: is longer than 100 characters"),
]


@pytest.mark.parametrize(("row", "problem"), REFUSALS, ids=[p.split(": ", 1)[1][:40] for _, p in REFUSALS])
def test_each_bad_row_is_named_by_line_and_column(world, write_file, row, problem):
    police = Agency.objects.get(code="POLICE")
    AgencyPerson.objects.create(agency=police, person_ref="UNLINKED")
    PersonLink.objects.create(agency_person=AgencyPerson.objects.create(agency=police, person_ref="LONER"),
                              person=Person.objects.create(), match_probability=0.99)
    UserFactory(username="analyst", agency=police, role=Role.ANALYST)
    UserFactory(username="gone", agency=police, role=Role.KEY_WORKER, is_active=False)
    assert rejected(write_file, f"{HEADER}\n{row}\n") == [problem]


def test_a_switched_off_key_worker_may_hold_a_closed_historical_case(world, write_file):
    UserFactory(username="gone", agency=Agency.objects.get(code="POLICE"), role=Role.KEY_WORKER, is_active=False)
    import_text(write_file, f"{HEADER}\nOLD-7,household,POLICE,S1,gone,2023-01-01,2023-06-30,\n")
    assert Case.objects.get(imported_ref="OLD-7").key_worker.username == "gone"


def test_a_bad_file_is_rejected_whole_and_nothing_is_kept(world, write_file):
    text = GOOD + "OLD-3,household,POLICE,S1,kw,2024-13-01,,\nOLD-1,person,HOUSING,HB,kw,2024-01-01,2024-02-01,\n"
    assert rejected(write_file, text) == [
        "line 4, column opened_on: '2024-13-01' is not a date written YYYY-MM-DD",
        "line 5, column case_ref: repeats the case on line 2",
    ]
    assert Case.objects.count() == 0 and CaseEvent.objects.count() == 0 and KeyWorkerSpell.objects.count() == 0
    assert imports_audited() == 0


def test_a_second_live_case_on_a_subject_is_refused(world, write_file):
    within = (f"{HEADER}\nOLD-1,household,POLICE,S1,kw,2024-01-01,,\n"
              "OLD-2,household,HOUSING,HS,kw,2024-02-01,,\n"
              "OLD-3,household,FOODBANK,FS,kw,2023-01-01,2023-12-31,\n")  # closed: no clash
    assert rejected(write_file, within) == [
        "line 3, column subject: a second live case on the same household (line 2 opens one and neither is closed)"
    ]
    assert Case.objects.count() == 0
    case_open(actor=None, key_worker=world["kw"], household=world["smyth"])
    assert rejected(write_file, f"{HEADER}\nOLD-1,household,HOUSING,HS,kw,2024-01-01,,\n") == [
        "line 2, column subject: a case is already open on this household; give closed_on or close that case first"
    ]
    assert Case.objects.filter(imported_ref="OLD-1").count() == 0


def test_header_problems_and_an_empty_file(world, write_file):
    assert rejected(write_file, "case_ref,subject,agency\n") == [
        f"line 1, column {name}: required column is missing"
        for name in ("person_ref", "key_worker", "opened_on")
    ]
    assert rejected(write_file, f"{HEADER}\n") == ["the file has a header but no rows"]


def test_only_partnership_administrators_import(world, write_file):
    with pytest.raises(PermissionDenied):
        import_text(write_file, GOOD, actor=world["kw"])
    agency_admin = UserFactory(agency=Agency.objects.get(code="POLICE"), role=Role.AGENCY_ADMIN)
    with pytest.raises(PermissionDenied):
        import_text(write_file, GOOD, actor=agency_admin)
    assert Case.objects.count() == 0


def test_the_command_prints_counts_and_errors_with_line_and_column(world, write_file):
    out = StringIO()
    path = write_file("cases.csv", GOOD)
    call_command("import_cases", str(path), stdout=out)
    assert f"{path}: 2 rows: 2 cases imported, 0 unchanged" in out.getvalue()
    bad = write_file("bad.csv", f"{HEADER}\nOLD-8,household,POLICE,S1,kw,2024-01-01,2023-01-01,\n")
    err = StringIO()
    with pytest.raises(CommandError) as error:
        call_command("import_cases", str(bad), stderr=err)
    assert error.value.returncode == 1
    assert "line 2, column closed_on: is before opened_on (2024-01-01)" in err.getvalue()
    assert "nothing from this file was kept" in err.getvalue()
    assert not Case.objects.filter(imported_ref="OLD-8").exists()


def test_the_upload_page(client, world):
    sign_in(client, world["admin"])
    assert 'href="/cases/import/"' in client.get("/").content.decode()
    assert client.get("/cases/import/").status_code == 200
    bad = SimpleUploadedFile("cases.csv", f"{HEADER}\nOLD-1,household,POLICE,S1,nobody,2024-01-01,,\n".encode())
    response = client.post("/cases/import/", {"file": bad})
    body = response.content.decode()
    assert response.status_code == 200 and "govuk-error-summary" in body
    assert "Line 2, column key_worker: no member of staff has the username nobody" in body
    assert Case.objects.count() == 0
    response = client.post("/cases/import/", {"file": SimpleUploadedFile("cases.csv", GOOD.encode())}, follow=True)
    assert "2 cases imported, 0 unchanged" in response.content.decode()
    assert Case.objects.count() == 2


def test_the_page_is_refused_to_everyone_but_partnership_administrators(client, world):
    police = Agency.objects.get(code="POLICE")
    for role in Role.values:
        if role == Role.PARTNERSHIP_ADMIN:
            continue
        sign_in(client, UserFactory(agency=police, role=role))
        assert client.get("/cases/import/").status_code == 403, role
        upload = SimpleUploadedFile("cases.csv", GOOD.encode())
        assert client.post("/cases/import/", {"file": upload}).status_code == 403, role
    assert Case.objects.count() == 0


def test_case_page_and_api_show_the_old_reference_and_unrecorded_outcomes(client, world, write_file):
    import_text(write_file, GOOD)
    case = Case.objects.get(imported_ref="OLD-1")
    sign_in(client, world["admin"])
    body = client.get(f"/cases/{case.pk}/").content.decode()
    assert f"{case.reference} (in the old system: OLD-1)" in body
    assert "Outcomes not recorded (imported case)" in body
    assert "Imported from OLD-1" in body
    data = client.get(f"/api/v1/cases/{case.pk}").json()
    assert data["imported_ref"] == "OLD-1" and data["reference"] == case.reference
    assert data["outcomes_not_recorded"] is True
    live = Case.objects.get(imported_ref="OLD-2")
    body = client.get(f"/cases/{live.pk}/").content.decode()
    assert "Outcomes not recorded" not in body and "No needs recorded yet." in body


def test_an_upload_that_loses_a_race_to_the_same_cases_says_so(client, world, monkeypatch):
    # Two uploads of one file at once both pass the checks; the database's unique reference refuses
    # the later one as it writes. The page explains instead of failing.
    from django.db import IntegrityError

    def refused(**kwargs):
        raise IntegrityError("UNIQUE constraint failed: cases_case.imported_ref")

    monkeypatch.setattr("onecase.web.case_import_views.cases_import", refused)
    sign_in(client, world["admin"])
    response = client.post("/cases/import/", {"file": SimpleUploadedFile("cases.csv", GOOD.encode())})
    body = response.content.decode()
    assert response.status_code == 200 and "govuk-error-summary" in body
    assert "Another import of these cases finished while this one ran" in body
