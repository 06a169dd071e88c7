"""Unit costs: the shipped GMCA data, uprating, the cost file import, the default map and
the cost of contacts."""

import csv
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import Workbook
from openpyxl.comments import Comment

from onecase.accounts.models import Agency
from onecase.contacts.models import Contact
from onecase.costs import convert_gmca
from onecase.costs.models import CostItem, Deflator, UnitCost
from onecase.costs.reference import COSTS_CSV, DATA_DIR, DEFAULT_MAP_CSV, DEFLATOR_CSV, read_default_map
from onecase.costs.selectors import cost_by, cost_for_contacts, unmapped_contact_types, with_unit_cost
from onecase.costs.services import apply_default_costs, import_unit_costs
from onecase.costs.uprating import UnknownPriceYear, chain_index, normalise_financial_year, uprate
from onecase.imports.services import ImportRejected
from onecase.people.models import AgencyPerson
from onecase.sharing.models import AuditEvent
from tests.factories import AgencyFactory

DEMO_CONTACT_TYPES = {
    "POLICE": {"incident", "asb_report", "domestic_abuse_incident", "arrest", "missing_person"},
    "FIRE": {"home_fire_safety_visit", "deliberate_fire", "accidental_dwelling_fire"},
    "AMBULANCE": {"callout", "conveyance"},
    "ED": {"attendance"},
    "HOUSING": {"rent_arrears_contact", "repair_request", "asb_complaint", "tenancy_visit", "homelessness_application"},
    "REVBEN": {"council_tax_arrears", "benefit_claim"},
    "CSC": {"contact", "referral", "assessment"},
    "ASC": {"contact", "assessment"},
    "EWS": {"attendance_concern"},
    "PROBATION": {"supervision_appointment"},
    "FOODBANK": {"parcel"},
    "CAB": {"advice_session"},
}
HEADER = "agency,contact_type,unit_cost_gbp,price_year,source,cost_code,notes\n"
GOOD = (
    HEADER
    + "POLICE,arrest,718.50,2015-16,Force finance 2015,CR7.0,detained\n"
    + "POLICE,incident,42.10,2015-16,,,\n"
    + 'HOUSING,tenancy_visit,"£1,250.5",,,,\n'
)


def csv_rows(path):
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def agencies(db):
    return {code: AgencyFactory(code=code) for code in DEMO_CONTACT_TYPES}


def run(path, actor=None):
    return import_unit_costs(actor=actor, path=path)


def problems_of(path):
    with pytest.raises(ImportRejected) as caught:
        run(path)
    return [str(p) for p in caught.value.problems]


# --- the shipped data ----------------------------------------------------------------------


def test_committed_csv_has_the_number_of_unit_costs_its_readme_states():
    stated = re.search(r"(\d+) unit costs", (DATA_DIR / "README.md").read_text(encoding="utf-8"))
    rows = csv_rows(COSTS_CSV)
    assert int(stated.group(1)) == len(rows) == 683
    codes = [row["cost_code"] for row in rows]
    assert len(set(codes)) == len(codes)
    assert {row["parent_code"] for row in rows} - {""} <= set(codes)
    assert all(row["quality_rag"] in {"", "R", "A", "G"} for row in rows)


def test_committed_csv_keeps_the_hierarchy_and_transfer_payments():
    rows = {row["cost_code"]: row for row in csv_rows(COSTS_CSV)}
    assert rows["CR1.4.1"]["parent_code"] == "CR1.4"
    assert rows["CR1.4"]["parent_code"] == "CR1.0"
    assert rows["CR1.0"]["parent_code"] == ""
    # Marked only by a comment on the fiscal value cell in the workbook.
    assert rows["E&E1.0"]["is_transfer_payment"] == "true"
    assert "transfer payment" in rows["E&E1.0"]["comment"]
    assert rows["CR7.0"]["is_transfer_payment"] == "false"
    # A formula in the workbook (=538.2/3*2) is kept as its value.
    assert (rows["SS7.0"]["fiscal_value_gbp"], rows["SS7.0"]["economic_value_gbp"]) == ("358.8", "179.4")


def test_deflator_file_runs_from_1989_90_to_2019_20():
    rows = csv_rows(DEFLATOR_CSV)
    assert (rows[0]["financial_year"], rows[-1]["financial_year"], len(rows)) == ("1989-90", "2019-20", 31)
    assert rows[0]["index"] == "100.0000000000"
    assert {row["status"] for row in rows if row["financial_year"] >= "2014-15"} == {"forecast"}


@pytest.mark.django_db
def test_every_database_has_the_reference_data():
    assert CostItem.objects.count() == 683
    assert Deflator.objects.count() == 31
    call_command("load_default_costs")  # idempotent
    assert CostItem.objects.count() == 683


@pytest.mark.django_db
def test_police_arrest_593_in_2006_07_is_718_50_in_2015_16():
    arrest = CostItem.objects.get(code="CR7.0")
    assert "Arrest - detained" in arrest.description
    assert (arrest.fiscal_value_gbp, arrest.fiscal_price_year, arrest.agency_level1) == (593, "2006-07", "Police")
    assert uprate(arrest.fiscal_value_gbp, arrest.fiscal_price_year, "2015-16") == Decimal("718.50")
    assert uprate(593, "2006/07", "2015/16") == Decimal("718.50")


@pytest.mark.django_db
def test_uprating_edges():
    assert uprate("100", "2010-11", "2010-11") == Decimal("100.00")
    assert uprate(Decimal("718.50"), "2015-16", "2006-07") == Decimal("593.00")
    with pytest.raises(UnknownPriceYear, match="covers 1989-90 to 2019-20; 2025-26 is not in it"):
        uprate(593, "2006-07", "2025-26")
    with pytest.raises(ValueError, match="not a financial year"):
        uprate(593, "2006", "2015-16")


def test_financial_years_and_the_index_chain():
    assert normalise_financial_year("2006/07") == normalise_financial_year("2006-2007") == "2006-07"
    assert normalise_financial_year("1999/00") == "1999-00"
    with pytest.raises(ValueError):
        normalise_financial_year("2006-08")
    index = chain_index([("2000/01", Decimal("9.9")), ("2001/02", Decimal("10")), ("2002/03", Decimal("5"))])
    assert index == {"2000-01": Decimal("100"), "2001-02": Decimal("110"), "2002-03": Decimal("115.5")}


def put(sheet, number: int, **cells) -> None:
    for column, value in cells.items():
        sheet[f"{column}{number}"] = value


def test_converter_reads_a_workbook_laid_out_like_the_gmca_one(tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.title = "Crime"
    put(sheet, 1, C="Cost code", E="Unit", Q="Original source", R="RAG assessment", S="Comment")
    estimate = "Estimated cost/saving"
    put(sheet, 2, F="Level 1", G="Level 2", H=estimate, I="Year", K=estimate, L="Year", N=estimate, O="Year")
    put(sheet, 3, A="CRIME", B="ARRESTS", C="CR7.0", D="Criminal proceedings: \nArrest - detained",
        E="Per incident", F="Police", G="None", H=593, I="2006/07", J=718.5035589, Q="Source", R="g",
        S="Comment  text")  # fmt: skip
    put(sheet, 4, A="CRIME", C=" ", D="No code", H=10, I="2006/07")
    put(sheet, 5, A="CRIME", C="CR7.0.1", D="A part", F="local authority", H=100, I="2006/07", K=50,
        L="2015/16", R="A")  # fmt: skip
    sheet["H5"].comment = Comment("Exclude it: this is a transfer payment.", "x")
    put(sheet, 6, A="Do not delete rows")
    lookups = book.create_sheet("Lookups")
    put(lookups, 9, M="Year")
    put(lookups, 11, F="Local Authority", K="2015/16")
    years = ["2006/07", "2007/08", "2008/09", "2009/10", "2010/11", "2011/12", "2012/13", "2013/14", "2014/15",
             "2015/16"]  # fmt: skip
    pcts = [2.711, 2.926, 2.51, 2.585, 2.768, 1.79, 1.614, 2.123, 1.7, 1.4]
    for number, (year, pct) in enumerate(zip(years, pcts, strict=True), start=10):
        put(lookups, number, L="f" if year >= "2014/15" else None, M=year, N=pct)
    source = tmp_path / "ucd.xlsx"
    book.save(source)

    report = convert_gmca.convert(source, tmp_path / "out")
    assert report.problems == [] and report.mismatches == []
    assert report.skipped == ["Crime row 4: no cost code, left out (No code)"]
    assert report.checked == 1  # the uprated column agreed to the penny
    rows = csv_rows(tmp_path / "out" / "gmca_unit_costs.csv")
    assert [r["cost_code"] for r in rows] == ["CR7.0", "CR7.0.1"]
    first, second = rows
    assert (first["description"], first["agency_level2"], first["quality_rag"], first["comment"]) == (
        "Criminal proceedings: Arrest - detained",
        "",
        "G",
        "Comment text",
    )
    assert (first["fiscal_value_gbp"], first["fiscal_price_year"], first["is_transfer_payment"]) == (
        "593",
        "2006-07",
        "false",
    )
    assert (second["parent_code"], second["agency_level1"], second["is_transfer_payment"]) == (
        "CR7.0",
        "Local Authority",
        "true",
    )
    assert (second["economic_value_gbp"], second["economic_price_year"]) == ("50", "2015-16")
    assert "transfer payment" in second["comment"]
    deflator = csv_rows(tmp_path / "out" / "gdp_deflator.csv")
    assert deflator[0] == {
        "financial_year": "2006-07",
        "pct_change_on_previous_year": "2.711",
        "index": "100.0000000000",
        "status": "outturn",
    }
    assert deflator[-1]["status"] == "forecast"


def test_default_map_names_real_cost_codes_for_every_demo_contact_type():
    codes = {row["cost_code"] for row in csv_rows(COSTS_CSV)}
    mapping = read_default_map()
    assert {(r["agency"], r["contact_type"]) for r in mapping} == {
        (agency, kind) for agency, kinds in DEMO_CONTACT_TYPES.items() for kind in kinds
    }
    assert {r["cost_code"] for r in mapping} - {""} <= codes
    assert all(r["notes"] for r in mapping)
    assert [r["contact_type"] for r in mapping if not r["cost_code"]] == ["parcel"]
    assert DEFAULT_MAP_CSV.read_bytes().count(b"\r") == 0


# --- import_unit_costs ---------------------------------------------------------------------


def test_import_creates_unit_costs_and_audits(agencies, write_file):
    result = run(write_file("costs.csv", GOOD))
    assert (result.rows, result.created, result.updated, result.unchanged) == (3, 3, 0, 0)
    arrest = UnitCost.objects.get(agency__code="POLICE", contact_type="arrest")
    assert (arrest.unit_cost_gbp, arrest.price_year, arrest.source, arrest.cost_item_id, arrest.notes) == (
        Decimal("718.50"),
        "2015-16",
        "Force finance 2015",
        "CR7.0",
        "detained",
    )
    assert arrest.origin == UnitCost.Origin.IMPORT
    visit = UnitCost.objects.get(contact_type="tenancy_visit")
    assert (visit.unit_cost_gbp, visit.price_year, visit.cost_item) == (Decimal("1250.50"), "", None)
    event = AuditEvent.objects.get(action=AuditEvent.Action.IMPORT, object_type="unit_costs")
    assert event.detail == {"file": "costs.csv", "rows": 3, "created": 3, "updated": 0, "unchanged": 0}


def test_reimporting_the_same_file_changes_nothing(agencies, write_file):
    path = write_file("costs.csv", GOOD)
    run(path)
    before = list(UnitCost.objects.order_by("pk").values())
    result = run(path)
    assert (result.created, result.updated, result.unchanged) == (0, 0, 3)
    assert list(UnitCost.objects.order_by("pk").values()) == before


def test_a_changed_row_is_updated(agencies, write_file):
    run(write_file("costs.csv", GOOD))
    result = run(write_file("costs2.csv", GOOD.replace("42.10", "45.00")))
    assert (result.created, result.updated, result.unchanged) == (0, 1, 2)
    assert UnitCost.objects.get(contact_type="incident").unit_cost_gbp == Decimal("45.00")
    assert UnitCost.objects.count() == 3


def test_a_cost_code_without_a_cost_takes_the_gmca_value_uprated(agencies, write_file):
    run(
        write_file(
            "c.csv",
            "agency,contact_type,unit_cost_gbp,price_year,cost_code\n"
            "police,arrest,,2015/16,cr7.0\nPOLICE,incident,,,CR9.0\n",
        )
    )
    arrest = UnitCost.objects.get(contact_type="arrest")
    assert (arrest.unit_cost_gbp, arrest.price_year, arrest.cost_item_id) == (Decimal("718.50"), "2015-16", "CR7.0")
    # No price year: the latest year the deflator covers.
    incident = UnitCost.objects.get(contact_type="incident")
    assert (incident.unit_cost_gbp, incident.price_year) == (uprate("38.43", "2013-14", "2019-20"), "2019-20")


def test_byte_order_mark_crlf_and_unknown_columns(agencies, write_file):
    content = "\ufeffAgency,Contact_Type,Unit_Cost_GBP,Comments\r\nPOLICE,arrest,700,ignored\r\n"
    result = run(write_file("bom.csv", content.encode("utf-8")))
    assert result.created == 1
    assert result.warnings == ["column Comments is not part of the unit cost format and was ignored"]
    assert UnitCost.objects.get().unit_cost_gbp == Decimal("700.00")


def test_xlsx_unit_cost_file(agencies, tmp_path):
    book = Workbook()
    book.active.append(["agency", "contact_type", "unit_cost_gbp", "price_year"])
    book.active.append(["FIRE", "deliberate_fire", 3859.09, "2019-20"])
    path = tmp_path / "fire.xlsx"
    book.save(path)
    assert run(path).created == 1
    assert UnitCost.objects.get().unit_cost_gbp == Decimal("3859.09")


def test_each_invalid_row_is_named_and_nothing_is_kept(agencies, write_file):
    content = (
        HEADER
        + "POLICE,arrest,593,,,,\n"  # valid, but not kept
        + "POILCE,arrest,593,,,,\n"
        + ",arrest,593,,,,\n"
        + "POL ICE,arrest,593,,,,\n"
        + "POLICE,,593,,,,\n"
        + "POLICE,incident,,,,,\n"
        + "POLICE,incident2,lots,,,,\n"
        + "POLICE,incident3,-5,,,,\n"
        + "POLICE,incident4,1.234,,,,\n"
        + "POLICE,incident5,10,2015,,,\n"
        + "POLICE,incident6,10,,,XX9.9,\n"
        + "POLICE,arrest,600,,,,\n"
        + f"POLICE,incident7,10,,{'x' * 301},,\n"
        + "POLICE,incident8,,2025-26,,CR7.0,\n"
        + "POLICE,incident9,,,,E&S8.1,\n"
    )
    assert problems_of(write_file("bad.csv", content)) == [
        "line 3, column agency: unknown agency POILCE; create it (onecase create_agency) or import its contacts first",
        "line 4, column agency: is empty",
        "line 5, column agency: use letters, digits, - or _ only (at most 40)",
        "line 6, column contact_type: is empty",
        "line 7, column unit_cost_gbp: is empty; give the cost, or a cost_code to take its value",
        "line 8, column unit_cost_gbp: 'lots' is not an amount in pounds, e.g. 718.50",
        "line 9, column unit_cost_gbp: must not be negative",
        "line 10, column unit_cost_gbp: has more than 2 decimal places; give pounds and pence",
        "line 11, column price_year: '2015' is not a financial year written like 2006-07",
        "line 12, column cost_code: XX9.9 is not a GMCA unit cost code",
        "line 13, column contact_type: POLICE arrest is already on line 2",
        "line 14, column source: is longer than 300 characters",
        "line 15, column price_year: the GDP deflator covers 1989-90 to 2019-20; 2025-26 is not in it; "
        "give unit_cost_gbp for these prices",
        "line 16, column unit_cost_gbp: is empty and E&S8.1 has no fiscal value; give the cost",
    ]
    assert UnitCost.objects.count() == 0
    assert not AuditEvent.objects.filter(object_type="unit_costs").exists()


def test_header_problems(agencies, write_file):
    assert problems_of(write_file("a.csv", "agency,contact_type\nPOLICE,arrest\n")) == [
        "line 1, column unit_cost_gbp: required column is missing"
    ]
    assert problems_of(write_file("b.csv", "agency,agency,contact_type,unit_cost_gbp\nPOLICE,POLICE,x,1\n")) == [
        "line 1, column agency: this column appears twice"
    ]
    assert problems_of(write_file("c.csv", HEADER)) == ["the file has a header but no rows"]
    assert problems_of(write_file("d.csv", "")) == ["line 1: the file is empty; it needs a header row"]
    assert problems_of(write_file("e.csv", HEADER + "POLICE,caf\xe9,1,,,,\n", encoding="latin-1")) == [
        "line 2, column contact_type: not valid UTF-8 (byte 0xE9); save the file as UTF-8 CSV"
    ]


def test_fifty_problems_at_most(agencies, write_file):
    rows = "".join(f"POLICE,t{i},x,,,,\n" for i in range(80))
    with pytest.raises(ImportRejected) as caught:
        run(write_file("many.csv", HEADER + rows))
    assert len(caught.value.problems) == 50 and caught.value.more


def test_only_partnership_administrators_import_unit_costs(agencies, write_file, partnership_admin, agency_admin):
    path = write_file("costs.csv", GOOD)
    with pytest.raises(PermissionDenied):
        run(path, actor=agency_admin)
    run(path, actor=partnership_admin)
    assert AuditEvent.objects.get(object_type="unit_costs").username == "admin1"


def test_command_reports_line_and_column_and_exits_non_zero(agencies, write_file, capsys):
    bad = write_file("bad.csv", GOOD.replace("42.10", "forty"))
    with pytest.raises(CommandError) as caught:
        call_command("import_unit_costs", str(bad))
    assert caught.value.returncode == 1
    err = capsys.readouterr().err
    assert "line 3, column unit_cost_gbp: 'forty' is not an amount in pounds, e.g. 718.50" in err
    assert "Traceback" not in err
    call_command("import_unit_costs", str(write_file("good.csv", GOOD)))
    assert "3 rows: 3 new, 0 updated, 0 unchanged." in capsys.readouterr().out


def test_export_writes_a_file_the_import_takes_back(agencies, write_file, tmp_path):
    run(write_file("costs.csv", GOOD))
    out = tmp_path / "export.csv"
    call_command("export_unit_costs", out=str(out))
    result = run(out)
    assert (result.created, result.updated, result.unchanged) == (0, 0, 3)


# --- apply_default_costs -------------------------------------------------------------------


def test_default_costs_map_every_demo_contact_type(agencies):
    result = apply_default_costs(actor=None)
    assert result.price_year == "2019-20" and result.warnings == []
    mapped = {(c.agency.code, c.contact_type) for c in UnitCost.objects.select_related("agency")}
    assert mapped == {(agency, kind) for agency, kinds in DEMO_CONTACT_TYPES.items() for kind in kinds}
    assert result.created == len(mapped) == 27
    arrest = UnitCost.objects.get(agency__code="POLICE", contact_type="arrest")
    assert (arrest.cost_item_id, arrest.unit_cost_gbp) == ("CR7.0", uprate(593, "2006-07", "2019-20"))
    assert arrest.origin == UnitCost.Origin.DEFAULT_MAP and "CR7.0" in arrest.source
    assert UnitCost.objects.get(agency__code="ED").cost_item.description == "A&E attendance (all scenarios)"
    assert UnitCost.objects.get(agency__code="AMBULANCE", contact_type="callout").cost_item_id == "HE3.0"
    assert UnitCost.objects.get(agency__code="FOODBANK").unit_cost_gbp == Decimal("0.00")


def test_default_costs_at_a_chosen_year_are_idempotent(agencies):
    apply_default_costs(actor=None, price_year="2015/16")
    assert UnitCost.objects.get(contact_type="arrest").unit_cost_gbp == Decimal("718.50")
    again = apply_default_costs(actor=None, price_year="2015-16")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 27)
    later = apply_default_costs(actor=None)
    assert (later.price_year, later.updated) == ("2019-20", 27)


def test_default_costs_beyond_the_deflator_use_its_latest_year_and_say_so(agencies, capsys):
    call_command("apply_default_costs", price_year="2025-26")
    out = capsys.readouterr().out
    assert "warning: the GDP deflator stops at 2019-20, so costs are at 2019-20 prices, not 2025-26" in out
    assert set(UnitCost.objects.values_list("price_year", flat=True)) == {"2019-20"}
    with pytest.raises(CommandError, match="covers 1989-90 to 2019-20; 1980-81"):
        call_command("apply_default_costs", price_year="1980-81")


def test_default_costs_keep_imported_rows_and_skip_missing_agencies(db, write_file):
    AgencyFactory(code="POLICE")
    run(write_file("local.csv", "agency,contact_type,unit_cost_gbp\nPOLICE,arrest,999\n"))
    result = apply_default_costs(actor=None)
    assert result.kept_local == ["POLICE arrest"]
    assert "FIRE" in result.missing_agencies
    assert UnitCost.objects.get(contact_type="arrest").unit_cost_gbp == Decimal("999.00")
    assert UnitCost.objects.count() == 5
    call_command("apply_default_costs", replace_imported=True)
    arrest = UnitCost.objects.get(contact_type="arrest")
    assert (arrest.origin, arrest.cost_item_id) == (UnitCost.Origin.DEFAULT_MAP, "CR7.0")


def test_only_partnership_administrators_apply_default_costs(agencies, agency_admin, partnership_admin):
    with pytest.raises(PermissionDenied):
        apply_default_costs(actor=agency_admin)
    apply_default_costs(actor=partnership_admin)
    assert AuditEvent.objects.get(object_type="unit_costs").detail["created"] == 27


# --- the cost of contacts ------------------------------------------------------------------

WHEN = datetime(2025, 1, 1, tzinfo=UTC)


def ledger(counts: dict[tuple[str, str], int]) -> None:
    """``counts`` contacts per (agency code, contact_type), spread over two people per agency."""
    for (code, kind), n in counts.items():
        agency, _ = Agency.objects.get_or_create(code=code, defaults={"name": code})
        people = [AgencyPerson.objects.get_or_create(agency=agency, person_ref=f"P{i}")[0] for i in (1, 2)]
        Contact.objects.bulk_create(
            Contact(
                agency=agency,
                record_id=f"{kind}-{i}",
                agency_person=people[i % 2],
                occurred_at=WHEN,
                contact_type=kind,
                imported_at=WHEN,
                updated_at=WHEN,
            )
            for i in range(n)
        )


def set_costs(costs: dict[tuple[str, str], str]) -> None:
    for (code, kind), value in costs.items():
        UnitCost.objects.create(agency=Agency.objects.get(code=code), contact_type=kind, unit_cost_gbp=Decimal(value))


@pytest.mark.django_db
def test_unmapped_contact_types_are_listed_with_counts():
    ledger(
        {
            ("POLICE", "arrest"): 3,
            ("POLICE", "stop_search"): 5,
            ("HOUSING", "repair_request"): 2,
            ("FOODBANK", "parcel"): 4,
        }
    )
    set_costs({("POLICE", "arrest"): "718.50", ("FOODBANK", "parcel"): "0"})
    assert unmapped_contact_types() == [("POLICE", "stop_search", 5), ("HOUSING", "repair_request", 2)]
    housing = Contact.objects.filter(agency__code="HOUSING")
    assert unmapped_contact_types(housing) == [("HOUSING", "repair_request", 2)]
    # The same contact type at another agency is a different cost.
    set_costs({("HOUSING", "stop_search"): "1"})
    assert ("POLICE", "stop_search", 5) in unmapped_contact_types()


@pytest.mark.django_db
def test_cost_of_contacts_is_count_times_unit_cost_to_the_penny():
    counts = {
        ("POLICE", "arrest"): 7,
        ("POLICE", "incident"): 13,
        ("FIRE", "visit"): 11,
        ("ED", "attendance"): 9,
        ("ED", "unmapped"): 4,
    }
    costs = {
        ("POLICE", "arrest"): "718.50",
        ("POLICE", "incident"): "0.10",
        ("FIRE", "visit"): "0.29",
        ("ED", "attendance"): "125.63",
    }
    ledger(counts)
    set_costs(costs)
    expected = sum((Decimal(costs[key]) * n for key, n in counts.items() if key in costs), Decimal("0.00"))
    assert expected == Decimal("6164.66")
    assert cost_for_contacts(Contact.objects.all()) == expected
    total = sum((c.unit_cost_gbp for c in with_unit_cost(Contact.objects.all())), Decimal("0"))
    assert total == expected
    assert cost_for_contacts(Contact.objects.filter(agency__code="FIRE")) == Decimal("3.19")
    assert cost_for_contacts(Contact.objects.filter(contact_type="unmapped")) == Decimal("0.00")
    assert cost_for_contacts(Contact.objects.none()) == Decimal("0.00")
    by_agency = cost_by(Contact.objects.all(), "agency__code")
    assert by_agency == {"POLICE": Decimal("5030.80"), "FIRE": Decimal("3.19"), "ED": Decimal("1130.67")}
    by_person = cost_by(Contact.objects.filter(agency__code="POLICE"), "agency_person__person_ref")
    assert sum(by_person.values()) == Decimal("5030.80") and set(by_person) == {"P1", "P2"}
    assert cost_for_contacts(Contact.objects.filter(agency__code="POLICE").distinct()) == Decimal("5030.80")
