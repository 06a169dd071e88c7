"""The canonical contact import: format edge cases, validation, idempotency."""

import json
from datetime import UTC, date, datetime

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import Workbook

from onecase.accounts.models import Agency
from onecase.contacts.models import Contact
from onecase.imports.services import ImportRejected, import_contacts, preview_contacts
from onecase.people.models import AgencyPerson
from onecase.sharing.models import AuditEvent, BreakGlassRole
from onecase.sharing.rules import BREAK_GLASS_ROLES

HEADER = "record_id,person_ref,occurred_at,contact_type,given_name,family_name,date_of_birth,sex,address_line,postcode"
GOOD = (
    f"{HEADER}\n"
    "R1,P1,2024-03-01T09:30:00,incident,Jon,Smith,1980-02-03,M,\"Flat 2, 10 High Street\",ST1 4HH\n"
    "R2,P1,2024-03-02,incident,Jonathan,Smith,1980-02-03,M,10 High St,ST14HH\n"
    "R3,P2,2024-03-03T22:15:00+01:00,asb_report,Mary,Jones,,F,,\n"
)

pytestmark = pytest.mark.django_db


def run(path, agency_code="POLICE", **kwargs):
    return import_contacts(actor=None, path=path, agency_code=agency_code, **kwargs)


def problems_of(path, agency_code="POLICE"):
    with pytest.raises(ImportRejected) as caught:
        run(path, agency_code)
    return [str(p) for p in caught.value.problems]


def test_valid_file_creates_agency_people_and_contacts(write_file):
    result = run(write_file("police.csv", GOOD))
    assert (result.rows, result.created, result.updated, result.unchanged) == (3, 3, 0, 0)
    assert result.people_created == 2
    assert result.agencies_created == ["POLICE"]
    assert Contact.objects.count() == 3
    jon = AgencyPerson.objects.get(person_ref="P1")
    # The newest contact carries the identity the agency knows the person by.
    assert (jon.given_name, jon.address_line, jon.postcode) == ("Jonathan", "10 High St", "ST14HH")
    assert jon.date_of_birth == date(1980, 2, 3)
    assert Contact.objects.get(record_id="R1").address_line == "Flat 2, 10 High Street"


def test_times_without_offset_are_uk_local_and_stored_in_utc(write_file):
    run(write_file("police.csv", GOOD))
    # 09:30 on 1 March is GMT; 2 March as a date is midnight GMT; +01:00 is converted.
    assert Contact.objects.get(record_id="R1").occurred_at == datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
    assert Contact.objects.get(record_id="R2").occurred_at == datetime(2024, 3, 2, 0, 0, tzinfo=UTC)
    assert Contact.objects.get(record_id="R3").occurred_at == datetime(2024, 3, 3, 21, 15, tzinfo=UTC)


def test_summer_local_time_is_bst(write_file):
    run(write_file("p.csv", "record_id,person_ref,occurred_at,contact_type\nR1,P1,2024-07-01 12:00,call\n"))
    assert Contact.objects.get().occurred_at == datetime(2024, 7, 1, 11, 0, tzinfo=UTC)


def test_reimporting_the_same_file_changes_nothing(write_file):
    path = write_file("police.csv", GOOD)
    run(path)
    before = list(Contact.objects.order_by("pk").values())
    people_before = list(AgencyPerson.objects.order_by("pk").values())
    result = run(path)
    assert (result.created, result.updated, result.unchanged, result.people_created) == (0, 0, 3, 0)
    assert list(Contact.objects.order_by("pk").values()) == before
    assert list(AgencyPerson.objects.order_by("pk").values()) == people_before


def test_reimporting_a_changed_row_updates_it(write_file):
    run(write_file("police.csv", GOOD))
    changed = GOOD.replace("R3,P2,2024-03-03T22:15:00+01:00,asb_report", "R3,P2,2024-03-03T22:15:00+01:00,arrest")
    result = run(write_file("police2.csv", changed))
    assert (result.created, result.updated, result.unchanged) == (0, 1, 2)
    assert Contact.objects.get(record_id="R3").contact_type == "arrest"
    assert Contact.objects.count() == 3


def test_an_older_file_does_not_overwrite_a_newer_identity(write_file):
    header = "record_id,person_ref,occurred_at,contact_type,given_name\n"
    run(write_file("new.csv", header + "R9,P1,2025-01-01,call,Jonathan\n"))
    run(write_file("old.csv", header + "R1,P1,2020-01-01,call,Jon\n"))
    assert AgencyPerson.objects.get().given_name == "Jonathan"
    assert Contact.objects.count() == 2


def test_the_same_record_id_at_two_agencies_is_two_contacts(write_file):
    path = write_file("a.csv", "record_id,person_ref,occurred_at,contact_type\n1,P1,2024-01-01,call\n")
    run(path, "POLICE")
    run(path, "HOUSING")
    assert Contact.objects.count() == 2


def test_byte_order_mark_and_crlf(write_file):
    content = "\ufeff" + GOOD.replace("\n", "\r\n")
    result = run(write_file("bom.csv", content.encode("utf-8")))
    assert result.created == 3
    assert AgencyPerson.objects.get(person_ref="P2").family_name == "Jones"


def test_quoted_commas_quotes_and_newlines(write_file):
    content = (
        "record_id,person_ref,occurred_at,contact_type,presenting_need,address_line\n"
        'R1,P1,2024-01-01,call,"I said ""help me"", twice","Flat 1, The Court, Hanley"\n'
        'R2,P1,2024-01-02,call,"two\nlines",x\n'
        "R3,P1,2024-01-03,call,bad date next,\n"
    )
    run(write_file("q.csv", content))
    assert Contact.objects.get(record_id="R1").presenting_need == 'I said "help me", twice'
    assert Contact.objects.get(record_id="R1").address_line == "Flat 1, The Court, Hanley"
    assert Contact.objects.get(record_id="R2").presenting_need == "two\nlines"


def test_line_numbers_count_physical_lines_after_a_multiline_field(write_file):
    content = (
        "record_id,person_ref,occurred_at,contact_type,presenting_need\n"
        'R1,P1,2024-01-01,call,"two\nlines"\n'
        "R2,P1,yesterday,call,x\n"
    )
    assert problems_of(write_file("q.csv", content)) == [
        "line 4, column occurred_at: 'yesterday' is not an ISO 8601 date or date-time"
    ]


def test_empty_optional_fields_are_blank_and_null(write_file):
    content = f"{HEADER},uprn,nhs_number,presenting_need,outcome,staff_role,source_system\nR1,P1,2024-01-01,call,,,,,,,,,,,,\n"
    run(write_file("e.csv", content))
    person = AgencyPerson.objects.get()
    assert person.date_of_birth is None
    assert (person.given_name, person.uprn, person.nhs_number) == ("", "", "")
    assert Contact.objects.get().presenting_need == ""


def test_optional_columns_may_be_absent_and_order_does_not_matter(write_file):
    run(write_file("m.csv", "contact_type,occurred_at,person_ref,record_id\ncall,2024-01-01,P1,R1\n"))
    contact = Contact.objects.get()
    assert (contact.record_id, contact.contact_type, contact.agency_person.person_ref) == ("R1", "call", "P1")


def test_xlsx_with_real_dates_and_numbers(tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["record_id", "person_ref", "occurred_at", "contact_type", "date_of_birth", "uprn", "given_name"])
    sheet.append([1001, "P1", datetime(2024, 5, 1, 14, 0), "visit", datetime(1990, 1, 31), 100031234567, "Ann"])
    sheet.append(["1002", "P2", "2024-05-02", "visit", None, None, None])
    sheet.append([None] * 7)  # blank rows are skipped
    path = tmp_path / "housing.xlsx"
    book.save(path)
    result = run(path, "HOUSING")
    assert result.created == 2
    first = Contact.objects.get(record_id="1001")
    assert first.occurred_at == datetime(2024, 5, 1, 13, 0, tzinfo=UTC)  # BST
    assert first.uprn == "100031234567"
    assert first.agency_person.date_of_birth == date(1990, 1, 31)
    assert AgencyPerson.objects.get(person_ref="P2").date_of_birth is None


def test_xlsx_errors_name_the_sheet_row(tmp_path):
    book = Workbook()
    book.active.append(["record_id", "person_ref", "occurred_at", "contact_type"])
    book.active.append(["1", "P1", "2024-01-01", "visit"])
    book.active.append(["2", "", "2024-01-01", "visit"])
    path = tmp_path / "h.xlsx"
    book.save(path)
    assert problems_of(path) == ["line 3, column person_ref: is empty"]
    assert Contact.objects.count() == 0


def test_non_utf8_is_rejected_with_line_and_column(write_file):
    content = "record_id,person_ref,occurred_at,contact_type,family_name\nR1,P1,2024-01-01,call,Smith\nR2,P2,2024-01-01,call,Bront\xeb\n"
    problems = problems_of(write_file("latin1.csv", content, encoding="latin-1"))
    assert problems == ["line 3, column family_name: not valid UTF-8 (byte 0xEB); save the file as UTF-8 CSV"]
    assert Contact.objects.count() == 0


def test_bad_date_rejects_the_whole_file(write_file):
    content = GOOD + "R4,P3,2024-02-30,incident,A,B,,,,\n"
    problems = problems_of(write_file("p.csv", content))
    assert problems == ["line 5, column occurred_at: '2024-02-30' is not an ISO 8601 date or date-time"]
    assert Contact.objects.count() == 0
    assert AgencyPerson.objects.count() == 0
    # Not even the agency named on the command line is kept.
    assert not Agency.objects.filter(code="POLICE").exists()


def test_empty_person_ref_rejects_the_whole_file(write_file):
    problems = problems_of(write_file("p.csv", GOOD + "R4,,2024-02-01,incident,A,B,,,,\n"))
    assert problems == ["line 5, column person_ref: is empty"]
    assert Contact.objects.count() == 0


def test_missing_required_column_is_named(write_file):
    problems = problems_of(write_file("p.csv", "record_id,person_ref,contact_type\nR1,P1,call\n"))
    assert problems == ["line 1, column occurred_at: required column is missing"]


def test_without_agency_option_an_agency_column_is_required(write_file):
    path = write_file("p.csv", "record_id,person_ref,occurred_at,contact_type\nR1,P1,2024-01-01,call\n")
    assert problems_of(path, agency_code=None) == [
        "line 1, column agency: required column is missing (or give the agency for the whole file)"
    ]


def test_agency_column_creates_unknown_agencies(write_file):
    content = "agency,record_id,person_ref,occurred_at,contact_type\nfoodbank,1,F1,2024-01-01,parcel\nCAB,1,C1,2024-01-01,advice\n"
    result = run(write_file("multi.csv", content), agency_code=None)
    assert sorted(result.agencies_created) == ["CAB", "FOODBANK"]
    assert set(Contact.objects.values_list("agency__code", flat=True)) == {"CAB", "FOODBANK"}


def test_agencies_an_import_creates_get_their_defaults_and_an_audit_event(write_file):
    content = "agency,record_id,person_ref,occurred_at,contact_type\nfoodbank,1,F1,2024-01-01,parcel\n"
    run(write_file("food.csv", content), agency_code=None)
    foodbank = Agency.objects.get(code="FOODBANK")
    # Created as the agency services create any agency: with its break-the-glass settings (off here).
    assert BreakGlassRole.objects.filter(agency=foodbank).count() == len(BREAK_GLASS_ROLES)
    assert not BreakGlassRole.objects.filter(agency=foodbank, allowed=True).exists()
    event = AuditEvent.objects.get(object_type="agency", object_id=str(foodbank.pk))
    assert event.detail == {"code": "FOODBANK", "created": True}


def test_unknown_columns_are_ignored_with_a_warning(write_file):
    result = run(write_file("p.csv", "record_id,person_ref,occurred_at,contact_type,Officer Notes\nR1,P1,2024-01-01,call,x\n"))
    assert result.warnings == ["column Officer Notes is not part of the contact format and was ignored"]
    assert Contact.objects.count() == 1


def test_every_problem_is_reported_up_to_fifty(write_file):
    rows = "".join(f"R{i},,2024-01-01,call\n" for i in range(80))
    with pytest.raises(ImportRejected) as caught:
        run(write_file("p.csv", "record_id,person_ref,occurred_at,contact_type\n" + rows))
    assert len(caught.value.problems) == 50
    assert caught.value.more
    assert str(caught.value.problems[0]) == "line 2, column person_ref: is empty"


def test_row_level_checks(write_file):
    content = (
        "record_id,person_ref,occurred_at,contact_type,date_of_birth,uprn,nhs_number\n"
        "R1,P1,2024-01-01,call,03/02/1980,,\n"
        "R2,P1,2024-01-01,call,2999-01-01,,\n"
        "R3,P1,2024-01-01,call,,12AB,\n"
        "R4,P1,2024-01-01,call,,,12345\n"
        "R1,P1,2024-01-02,call,,,\n"
        f"R6,{'x' * 101},2024-01-01,call,,,\n"
    )
    assert problems_of(write_file("p.csv", content)) == [
        "line 2, column date_of_birth: must be a date written YYYY-MM-DD",
        "line 3, column date_of_birth: is in the future",
        "line 4, column uprn: must be digits only",
        "line 5, column nhs_number: must be 10 digits",
        "line 6, column record_id: repeats the record on line 2",
        "line 7, column person_ref: is longer than 100 characters",
    ]


def test_header_only_and_empty_files(write_file):
    assert problems_of(write_file("h.csv", "record_id,person_ref,occurred_at,contact_type\n")) == [
        "the file has a header but no rows"
    ]
    assert problems_of(write_file("e.csv", "")) == ["line 1: the file is empty; it needs a header row"]


def test_import_is_audited_without_personal_data(write_file):
    run(write_file("police.csv", GOOD))
    event = AuditEvent.objects.get(action=AuditEvent.Action.IMPORT)
    assert event.detail["rows"] == 3
    assert "Smith" not in json.dumps(event.detail)


def test_preview_validates_without_writing(write_file):
    header, sample, warnings, problems, count = preview_contacts(
        path=write_file("p.csv", GOOD + "R4,,2024-01-01,call,,,,,,\n"), agency_code="POLICE"
    )
    assert header[:2] == ["record_id", "person_ref"]
    assert len(sample) == 4 and count == 4
    assert [str(p) for p in problems] == ["line 5, column person_ref: is empty"]
    assert Contact.objects.count() == 0 and Agency.objects.count() == 0


def test_command_prints_line_and_column_and_exits_non_zero(write_file, capsys):
    bad = write_file("bad.csv", GOOD.replace("2024-03-02", "02/03/2024"))
    with pytest.raises(CommandError) as caught:
        call_command("import_contacts", str(bad), agency="POLICE", no_progress=True)
    assert caught.value.returncode == 1
    # One problem in the only file: the error itself is the one line.
    message = str(caught.value)
    assert message == (f"{bad}: rejected, nothing from this file was kept: "
                       "line 3, column occurred_at: '02/03/2024' is not an ISO 8601 date or date-time")
    assert "Traceback" not in capsys.readouterr().err
    assert Contact.objects.count() == 0


def test_command_and_stats_json(write_file, capsys):
    call_command("import_contacts", str(write_file("police.csv", GOOD)), agency="POLICE", no_progress=True,
                 no_link=True)
    out = capsys.readouterr().out
    assert "3 rows: 3 new, 0 updated, 0 unchanged" in out
    assert "created agency POLICE" in out
    assert "Linked" not in out
    call_command("stats", as_json=True)
    assert json.loads(capsys.readouterr().out) == {
        "agencies": 1,
        "source_people": 2,
        "contacts": 3,
        "people": 0,
        "households": 0,
    }


def test_command_links_what_it_imported(write_file, capsys):
    call_command("import_contacts", str(write_file("police.csv", GOOD)), agency="POLICE", no_progress=True)
    out = capsys.readouterr().out
    assert "3 rows: 3 new" in out
    assert "Linked (full): 2 agency people linked, 2 new people, 2 links made" in out
    call_command("stats", as_json=True)
    assert json.loads(capsys.readouterr().out)["people"] == 2
    # Every contact has its person, with nobody running `onecase link`.
    assert not Contact.objects.filter(person__isnull=True).exists()
    # A file that changes nothing asks for no link.
    call_command("import_contacts", str(write_file("again.csv", GOOD)), agency="POLICE", no_progress=True)
    out = capsys.readouterr().out
    assert "3 unchanged" in out and "Linked" not in out


# --- the batched path (PostgreSQL) and its fall-back to row-by-row checks --------------------------

TRICKY_TIMES = [
    "2024-10-27T01:30:00",  # twice in UK local time: the first (BST), as datetime's fold=0
    "2024-03-31T01:30:00",  # not a UK local time at all (the clocks went forward)
    "2024-07-01 12:00",
    "2024-01-01T10:00:00.5",
    "2024-01-01T10:00:00Z",
    "2024-06-01T10:00:00+0100",
    "2024-W01-1T10:00:00",
    "1900-01-01T00:00:00",  # the earliest accepted
    "2024-02-29",
]


def test_every_way_of_writing_a_time_is_stored_as_parse_occurred_at_reads_it(write_file):
    from onecase.imports.contact_format import parse_occurred_at

    rows = "".join(f"R{i},P1,{value},call\n" for i, value in enumerate(TRICKY_TIMES))
    run(write_file("t.csv", "record_id,person_ref,occurred_at,contact_type\n" + rows))
    stored = dict(Contact.objects.values_list("record_id", "occurred_at"))
    assert stored == {f"R{i}": parse_occurred_at(value) for i, value in enumerate(TRICKY_TIMES)}
    newest = max(TRICKY_TIMES, key=parse_occurred_at)
    assert AgencyPerson.objects.get().identity_as_of == parse_occurred_at(newest)


def test_column_checks_agree_with_row_checks():
    from onecase.imports.contact_format import RowValidator, read_layout

    header = ["agency", "record_id", "person_ref", "occurred_at", "contact_type", "date_of_birth", "uprn",
              "nhs_number", "given_name"]
    layout, _ = read_layout(header, agency_given=False)
    rows = [[" police ", f" R{i} ", "P1", value, "call", "1980-02-03", "", "123 456-7890", " Ann "]
            for i, value in enumerate(TRICKY_TIMES)]
    rows.append(["", "R99", "P2", "2024-01-01", "call"])  # short: the missing columns are empty
    batched = RowValidator(layout, agency_code="HOUSING").validate_columns(rows)
    by_row = RowValidator(layout, agency_code="HOUSING")
    expected = [by_row.validate_as_text(line, values)[0] for line, values in enumerate(rows, start=2)]
    assert batched is not None and len(batched) == len(rows)
    got = list(zip(*batched.columns, strict=True))
    for row, want, instant in zip(got, expected, batched.occurred, strict=True):
        assert datetime.fromisoformat(row[3]) == datetime.fromisoformat(want[3])
        assert instant == datetime.fromisoformat(want[3]).replace(tzinfo=None)
        assert row[:3] + row[4:] == want[:3] + want[4:]


@pytest.mark.parametrize(
    "values",
    [
        ["R1", "P1", "2024-01-01", "call", "١٢٣"],  # digits, but not ASCII ones: valid, checked row by row
        ["R1", "P1", "2024-01-01", "call", "12AB"],
        ["R1", "", "2024-01-01", "call", ""],
        ["R1", "P1", "2024-02-30", "call", ""],
        ["R1", "P1", "2024-01-01", "call", "1" * 13],
    ],
)
def test_column_checks_accept_nothing_row_checks_refuse(values):
    from onecase.imports.contact_format import RowValidator, read_layout

    layout, _ = read_layout(["record_id", "person_ref", "occurred_at", "contact_type", "uprn"], agency_given=True)
    clean, problems = RowValidator(layout, agency_code="POLICE").validate_as_text(2, values)
    batched = RowValidator(layout, agency_code="POLICE").validate_columns([values])
    assert batched is None or (clean is not None and not problems)


def test_rows_after_a_batch_that_needs_row_checks_are_loaded_once(write_file, monkeypatch):
    from onecase.imports import services

    monkeypatch.setattr(services, "BATCH", 2)
    rows = [f"R{i},P{i % 3},2024-01-{i + 1:02d},call,{'١٢٣' if i == 3 else ''}" for i in range(7)]
    result = run(write_file("u.csv", "record_id,person_ref,occurred_at,contact_type,uprn\n" + "\n".join(rows)))
    assert (result.rows, result.created, result.people_created) == (7, 7, 3)
    assert sorted(Contact.objects.values_list("record_id", flat=True)) == [f"R{i}" for i in range(7)]
    assert Contact.objects.get(record_id="R3").uprn == "١٢٣"


def test_a_record_repeated_in_a_later_batch_names_its_first_line(write_file, monkeypatch):
    from onecase.imports import services

    monkeypatch.setattr(services, "BATCH", 2)
    rows = "R1,P1,2024-01-01,call\nR2,P1,2024-01-02,call\nR3,P1,2024-01-03,call\nR1,P2,2024-01-04,call\n"
    assert problems_of(write_file("d.csv", "record_id,person_ref,occurred_at,contact_type\n" + rows)) == [
        "line 5, column record_id: repeats the record on line 2"
    ]
    assert Contact.objects.count() == 0


def test_progress_is_reported(write_file, monkeypatch):
    from onecase.imports import services

    monkeypatch.setattr(services, "BATCH", 1)
    monkeypatch.setattr(services, "PROGRESS_ROWS", 2)
    calls = []
    run(write_file("p.csv", GOOD), progress=lambda done, total: calls.append((done, total)))
    assert calls[0][0] == 2 and calls[-1] == (3, 3)


def test_an_agency_with_people_but_no_contacts_keeps_its_people(write_file):
    agency = Agency.objects.create(code="POLICE", name="Police")
    known = AgencyPerson.objects.create(agency=agency, person_ref="P1", given_name="Jon",
                                        identity_as_of=datetime(2020, 1, 1, tzinfo=UTC))
    result = run(write_file("police.csv", GOOD))
    assert (result.created, result.people_created) == (3, 1)
    assert Contact.objects.get(record_id="R1").agency_person_id == known.pk
    known.refresh_from_db()
    assert known.given_name == "Jonathan"


def test_one_file_for_an_agency_with_contacts_and_one_without(write_file):
    run(write_file("police.csv", GOOD))
    content = (
        "agency,record_id,person_ref,occurred_at,contact_type\n"
        "POLICE,R3,P2,2024-03-03T22:15:00+01:00,arrest\n"
        "HOUSING,H1,T1,2024-04-01,repair_request\n"
        "POLICE,R4,P3,2024-04-02,call\n"
        "HOUSING,H2,T1,2024-04-03,repair_request\n"
    )
    result = run(write_file("both.csv", content), agency_code=None)
    assert (result.rows, result.created, result.updated, result.unchanged) == (4, 3, 1, 0)
    assert result.people_created == 2
    assert Contact.objects.get(record_id="R3").contact_type == "arrest"
    assert Contact.objects.filter(agency__code="HOUSING").count() == 2
    assert set(Contact.objects.values_list("agency_person__person_ref", flat=True)) == {"P1", "P2", "P3", "T1"}


def test_a_first_bulk_load_builds_the_ledger_indexes_again(write_file, monkeypatch):
    from django.db import connection

    from onecase.imports import services

    if connection.vendor != "postgresql":
        pytest.skip("indexes are built after loading on PostgreSQL")

    def indexes():
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'contacts_contact' ORDER BY 1")
            return [row[0] for row in cursor.fetchall()]

    before = indexes()
    monkeypatch.setattr(services, "BULK_ROWS", 1)
    result = run(write_file("police.csv", GOOD))
    assert result.created == 3
    assert indexes() == before
    assert run(write_file("police.csv", GOOD)).unchanged == 3
