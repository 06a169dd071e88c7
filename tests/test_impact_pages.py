"""Where people look at impact: the case's "Cost and impact", the Impact page, its downloads and PDF,
`onecase impact --json`, `onecase savings --json`, /api/v1/impact and /api/v1/savings.

Every expected figure is counted here from the contacts laid down and the unit costs, not read
back from the code under test.
"""

import csv
import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from openpyxl import load_workbook

from onecase.accounts.models import Role
from onecase.audit.models import AuditEvent
from onecase.cases.models import Case, Status
from onecase.cases.services import case_open
from onecase.contacts.services import resolution_refresh
from onecase.costs.models import CostItem, UnitCost
from onecase.people.models import Person
from tests.auth import sign_in
from tests.factories import AgencyFactory, UserFactory
from tests.test_impact import agency_person, contact, household_with

D = Decimal
ARREST, VISIT = D("718.50"), D("33.32")
UTC = dt.UTC
TODAY = dt.datetime.now(UTC).date()  # the cases below sit well away from midnight, so UTC and UK dates agree


def noon(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, 12, 0, tzinfo=UTC)


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


RECENT_CLOSE = TODAY - dt.timedelta(days=60)
LIVE_OPEN = TODAY - dt.timedelta(days=30)

# Each case: key worker's agency, opened, closed, and its contacts as (date, agency, type, window).
CASES = {
    "OLD-1": ("POLICE", day("2024-05-10"), day("2025-01-20"), [
        (day("2023-06-01"), "POLICE", "arrest", "before"), (day("2023-09-01"), "POLICE", "arrest", "before"),
        (day("2024-01-15"), "POLICE", "arrest", "before"), (day("2024-02-01"), "HOUSING", "tenancy_visit", "before"),
        (day("2024-05-09"), "HOUSING", "tenancy_visit", "before"), (day("2024-08-01"), "POLICE", "arrest", "during"),
        (day("2025-03-01"), "HOUSING", "tenancy_visit", "after"),
        (day("2023-05-09"), "POLICE", "arrest", None),  # the day before the before window
    ]),
    "second": ("HOUSING", day("2024-03-01"), day("2025-02-01"), [
        (day("2023-04-01"), "POLICE", "arrest", "before"), (day("2023-11-11"), "POLICE", "arrest", "before"),
        *[(day(f"2023-{m:02d}-15"), "HOUSING", "tenancy_visit", "before") for m in (5, 6, 7, 8)],
        (day("2025-06-01"), "POLICE", "arrest", "after"),
    ]),
    "third": ("POLICE", day("2024-07-01"), RECENT_CLOSE, [
        (day("2024-01-10"), "POLICE", "arrest", "before"),
        (RECENT_CLOSE + dt.timedelta(days=5), "HOUSING", "tenancy_visit", "after"),
    ]),
    "live": ("POLICE", LIVE_OPEN, None, [
        (LIVE_OPEN - dt.timedelta(days=40), "HOUSING", "tenancy_visit", "before"),
        (LIVE_OPEN - dt.timedelta(days=20), "HOUSING", "tenancy_visit", "before"),
    ]),
}
PRICE = {"arrest": ARREST, "tenancy_visit": VISIT}
NAMES = {"POLICE": "Police", "HOUSING": "Housing"}


def expected(name: str, window: str) -> tuple[int, Decimal, dict]:
    """(contacts, cost, {agency code: (contacts, cost)}) of one case's window, from the table above."""
    rows = [(agency, kind) for _, agency, kind, w in CASES[name][3] if w == window]
    by_agency: dict = {}
    for agency, kind in rows:
        n, cost = by_agency.get(agency, (0, D("0")))
        by_agency[agency] = (n + 1, cost + PRICE[kind])
    return len(rows), sum((PRICE[kind] for _, kind in rows), D("0")), by_agency


def money(value) -> str:
    return f"£{value:,.2f}"


@pytest.fixture
def cohort(db):
    agencies = {code: AgencyFactory(code=code, name=name) for code, name in NAMES.items()}
    # The GMCA row comes with the migrations; a browser test's flushed database needs it made again.
    CostItem.objects.get_or_create(code="CR7.0", defaults={"description": "Arrest", "fiscal_value_gbp": D("593"),
                                                           "fiscal_price_year": "2006-07"})
    UnitCost.objects.create(agency=agencies["POLICE"], contact_type="arrest", unit_cost_gbp=ARREST,
                            price_year="2015-16", cost_item_id="CR7.0")
    UnitCost.objects.create(agency=agencies["HOUSING"], contact_type="tenancy_visit", unit_cost_gbp=VISIT,
                            price_year="2019-20")
    workers = {code: UserFactory(username=f"kw-{code.lower()}", agency=a, role=Role.KEY_WORKER)
               for code, a in agencies.items()}
    cases = {}
    for n, (name, (kw_agency, opened, closed, contacts)) in enumerate(CASES.items(), start=1):
        home = household_with(n)
        person = Person.objects.create(household=home)
        records = {code: agency_person(a, f"{code}-{n}", person) for code, a in agencies.items()}
        for when, agency, kind, _ in contacts:
            contact(records[agency], noon(when), kind)
        cases[name] = Case.objects.create(
            household=home, key_worker=workers[kw_agency], agency=agencies[kw_agency],
            status=Status.CLOSED if closed else Status.OPEN, opened_at=noon(opened),
            closed_at=noon(closed) if closed else None, imported_ref=name if name.startswith("OLD") else "")
    # A household with no case, with demand like the first case's before it opened: the comparison.
    other = Person.objects.create(household=household_with(9))
    police = agency_person(agencies["POLICE"], "P-9", other)
    for when in ("2023-06-02", "2023-09-02", "2024-01-16"):
        contact(police, noon(day(when)), "arrest")
    resolution_refresh()
    admin = UserFactory(username="partnership", agency=agencies["POLICE"], role=Role.PARTNERSHIP_ADMIN)
    analyst = UserFactory(username="analyst", agency=agencies["HOUSING"], role=Role.ANALYST)
    return {"cases": cases, "agencies": agencies, "workers": workers, "admin": admin, "analyst": analyst}


def ref(cohort, name: str) -> str:
    case = cohort["cases"][name]
    return case.imported_ref or case.reference


def cli(*args) -> dict:
    out = io.StringIO()
    call_command(*args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_cli_impact_json_has_the_shape_and_the_raw_figures(cohort):
    data = cli("impact")
    assert set(data) >= {"cases", "totals"}
    cases = {c["case_ref"]: c for c in data["cases"]}
    assert set(cases) == {ref(cohort, name) for name in CASES}
    assert "OLD-1" in cases  # an imported case is known by its old reference
    for name in CASES:
        found = cases[ref(cohort, name)]
        assert set(found) >= {"case_ref", "before", "during", "projection"}
        for window in ("before", "during", "after"):
            if window == "after" and CASES[name][2] is None:
                assert "after" not in found
                continue
            n, cost, by_agency = expected(name, window)
            figures = found[window]
            assert (figures["contacts"], D(figures["cost_gbp"])) == (n, cost), (name, window)
            assert {code: (row["contacts"], D(row["cost_gbp"])) for code, row in figures["by_agency"].items()} \
                == by_agency, (name, window)
    assert cases["OLD-1"]["after"]["complete"] is True and "annualised_cost_gbp" not in cases["OLD-1"]["after"]
    third = cases[ref(cohort, "third")]["after"]
    assert third["complete"] is False
    assert D(third["cost_gbp"]) == VISIT  # raw, up to today
    assert D(third["annualised_cost_gbp"]) > VISIT  # scaled, under its own key
    for window in ("before", "during", "after"):
        total = sum((expected(name, window)[1] for name in CASES), D("0"))
        assert D(data["totals"][window]["cost_gbp"]) == total, window
        assert data["totals"][window]["contacts"] == sum(expected(name, window)[0] for name in CASES)


def test_cli_cohort_filters_and_refuses_bad_ones(cohort):
    data = cli("impact", "--cohort", "agency=HOUSING")
    assert [c["case_ref"] for c in data["cases"]] == [ref(cohort, "second")]
    data = cli("impact", "--cohort", "imported=yes", "--months", "6")
    assert [c["case_ref"] for c in data["cases"]] == ["OLD-1"] and data["months"] == 6
    with pytest.raises(Exception, match="no agency has the code"):
        cli("impact", "--cohort", "agency=NOPE")


def yearly_demand() -> tuple[dict, dict]:
    """Each agency's yearly cost before and after, over the closed cases with days after closure."""
    before, after = {}, {}
    for _, _, closed, contacts in CASES.values():
        if closed is None:
            continue
        try:
            year_on = closed.replace(year=closed.year + 1)
        except ValueError:  # 29 February: a calendar year on ends on 28 February
            year_on = closed.replace(year=closed.year + 1, day=28)
        days = (year_on - closed).days
        counted = min(days, (TODAY - closed).days + 1)
        for _, agency, kind, window in contacts:
            if window == "before":
                before[NAMES[agency]] = before.get(NAMES[agency], D("0")) + PRICE[kind]
            elif window == "after":
                after[NAMES[agency]] = after.get(NAMES[agency], D("0")) + PRICE[kind] * days / counted
    return before, after


def test_cli_savings_prints_the_cba_figures_and_takes_inputs(cohort):
    data = cli("savings")
    assert data["cases_used"] == 3 and data["cases_live"] == 1
    # Key work: £1,800 a closed case, paid by the key worker's agency, grade 1 (no uplift), year 1 (not discounted).
    assert {k: D(v) for k, v in data["who_pays"].items()} == {"Police": D("3600.00"), "Housing": D("1800.00")}
    assert D(data["cost_gbp"]) == D("5400.00")
    # Year 1 fiscal benefit per agency: (before − after) × 0.6 × 0.7 × (1 − 5%); year 2 keeps 70%, ÷ 1.035.
    before, after = yearly_demand()
    for agency in ("Police", "Housing"):
        gross = before[agency] - after.get(agency, D("0"))
        year1 = gross * D("0.6") * D("0.7") * D("0.95")
        pv = year1 + year1 * D("0.7") / D("1.035")
        assert abs(D(data["who_saves"][agency]["fiscal"]) - pv) <= D("0.02"), agency
    assert any("Deadweight" in row["input"] and row["value"] == "40%" for row in data["inputs"])
    changed = cli("savings", "--input", "cost_per_case_gbp=1000", "deadweight=0")
    assert D(changed["cost_gbp"]) == D("3000.00")
    assert any("Deadweight" in row["input"] and row["value"] == "0%" for row in changed["inputs"])


def test_impact_page_agrees_with_the_contacts(client, cohort):
    sign_in(client, cohort["admin"])
    response = client.get("/impact/")
    assert response.status_code == 200
    body = response.content.decode()
    totals = {w: sum((expected(name, w)[1] for name in CASES), D("0")) for w in ("before", "during", "after")}
    for window in ("before", "during", "after"):
        assert money(totals[window]) in body, window
    police_before = sum((expected(name, "before")[2].get("POLICE", (0, D("0")))[1] for name in CASES), D("0"))
    assert money(police_before) in body
    for words in ("Before, during and after", "Against a comparison group", "The old way against the new way",
                  "Savings report", "Who pays and who saves (present values)", "Deadweight: the share"):
        assert words in body, words
    assert AuditEvent.objects.filter(object_type="impact", action=AuditEvent.Action.VIEW,
                                     user=cohort["admin"]).count() == 1
    # A page of aggregates reads no case one by one, so it records none.
    assert not AuditEvent.objects.filter(object_type="case", purpose="case impact").exists()
    client.get("/api/v1/impact")
    assert AuditEvent.objects.filter(object_type="case", purpose="case impact").count() == len(CASES)


def test_the_impact_page_groups_and_edits_inputs(client, cohort):
    sign_in(client, cohort["analyst"])
    response = client.get("/impact/", {"by": "agency", "cost_per_case_gbp": "1000", "deadweight": "10"})
    assert response.status_code == 200
    groups = {g["label"]: g for g in response.context["impact"].groups}
    assert set(groups) == {"Police", "Housing"}
    police_closed = ["OLD-1", "third"]
    assert groups["Police"]["cases"] == 3 and groups["Police"]["closed"] == 2
    assert groups["Police"]["before_cost_gbp"] == sum((expected(n, "before")[1] for n in police_closed), D("0"))
    assert response.context["savings"].result["cost_gbp"] == D("3000.00")
    assert "10%" in dict(response.context["savings"].result["inputs"])[
        "Deadweight: the share of the change that would have happened anyway"]
    bad = client.get("/impact/", {"deadweight": "140", "opened_from": "soon"})
    assert bad.status_code == 200 and "There is a problem" in bad.content.decode()
    assert bad.context["impact"] is None


def test_analysts_see_aggregates_only(client, cohort):
    sign_in(client, cohort["analyst"])
    data = client.get("/api/v1/impact").json()
    assert data["cases"] == [] and data["totals"]["before"]["cases"] == 4
    body = client.get("/impact/").content.decode()
    for case in cohort["cases"].values():
        assert case.reference not in body
    # A cohort of one case would be one family's figures: withheld.
    one = client.get("/api/v1/impact", {"agency": "HOUSING"}).json()
    assert one["totals"] is None and one["withheld"]
    assert client.get("/api/v1/savings", {"agency": "HOUSING"}).json()["withheld"]


def test_case_teams_see_their_own_cases_one_by_one(client, cohort):
    sign_in(client, cohort["workers"]["HOUSING"])
    data = client.get("/api/v1/impact").json()
    assert [c["case_ref"] for c in data["cases"]] == [ref(cohort, "second")]
    assert D(data["totals"]["before"]["cost_gbp"]) == expected("second", "before")[1]
    assert client.get("/api/v1/savings").status_code == 403
    assert client.get("/impact/").status_code == 403
    assert 'href="/impact/"' not in client.get("/cases/").content.decode()


def test_api_matches_the_command_line(client, cohort):
    sign_in(client, cohort["admin"])
    api = client.get("/api/v1/impact").json()
    assert api["cases"] == cli("impact")["cases"]
    assert api["totals"] == cli("impact")["totals"]
    savings = client.get("/api/v1/savings", {"deadweight": "20"}).json()
    assert savings["net_present_value_gbp"] == cli("savings", "--input", "deadweight=20")["net_present_value_gbp"]
    assert client.get("/api/v1/savings", {"deadweight": "abc"}).status_code == 400
    assert client.get("/api/v1/impact", {"opened_from": "2025-01-01", "opened_to": "2024-01-01"}).status_code == 400
    schema = client.get("/api/v1/schema/").content.decode()
    assert "/api/v1/impact" in schema and "/api/v1/savings" in schema


def test_pdf_has_a_cover_page_of_headline_figures(client, cohort):
    from pypdf import PdfReader

    sign_in(client, cohort["admin"])
    response = client.get("/impact.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    pdf = PdfReader(io.BytesIO(response.content))
    assert len(pdf.pages) >= 2
    cover = pdf.pages[0].extract_text()
    before = sum((expected(name, "before")[1] for name in CASES), D("0"))
    after = sum((expected(name, "after")[1] for name in CASES), D("0"))
    assert money(before) in cover and money(after) in cover
    assert "Net present value" in cover and "Payback year" in cover
    rest = "".join(page.extract_text() for page in pdf.pages[1:])
    for words in ("Method", "Assumptions", "Per agency", "Outcomes"):
        assert words in rest, words


def test_csv_and_xlsx_downloads(client, cohort):
    sign_in(client, cohort["analyst"])
    rows = list(csv.reader(io.StringIO(client.get("/impact.csv").content.decode())))
    windows = {r[1]: r for r in rows if r[0] == "Windows"}
    before = sum((expected(name, "before")[1] for name in CASES), D("0"))
    assert D(windows["Before the case"][5]) == before
    book = load_workbook(io.BytesIO(client.get("/impact.xlsx").content))
    assert {"About", "Windows", "By agency", "Inputs", "Savings", "Who pays and saves"} <= set(book.sheetnames)
    sheet = book["Windows"]
    assert D(str(sheet.cell(row=2, column=5).value)).quantize(D("0.01")) == before
    assert AuditEvent.objects.filter(object_type="impact", action=AuditEvent.Action.EXPORT).count() == 2


def test_case_page_shows_cost_and_impact(client, cohort):
    case = cohort["cases"]["OLD-1"]
    sign_in(client, cohort["workers"]["POLICE"])
    body = client.get(f"/cases/{case.pk}/").content.decode()
    assert "Cost and impact" in body
    for window in ("before", "during", "after"):
        assert money(expected("OLD-1", window)[1]) in body, window
    assert "2015-16" in body and "Arrest" in body  # the unit cost used and its price year
    # Housing's contacts show only as a signpost to a police key worker: totalled, not named.
    assert ">Other agencies</th>" in body and "2019-20" not in body and "Tenancy visit" not in body
    assert "The old way against the new way" in body
    assert "contacts (95% band" in body  # twelve months before and after: both ways projected, with their band
    sign_in(client, cohort["admin"])
    whole = client.get(f"/cases/{case.pk}/").content.decode()
    assert "2019-20" in whole and "Tenancy visit" in whole and ">Other agencies</th>" not in whole
    live = client.get(f"/cases/{cohort['cases']['live'].pk}/").content.decode()
    assert "The case is still open: there is no trend after it yet." in live


def test_a_case_opened_in_onecase_is_known_by_its_own_reference(cohort):
    worker = cohort["workers"]["POLICE"]
    home = household_with(20)
    Person.objects.create(household=home)
    case = case_open(actor=None, key_worker=worker, household=home)
    data = cli("impact", "--cohort", "imported=no", f"opened_from={TODAY.isoformat()}")
    assert [c["case_ref"] for c in data["cases"]] == [case.reference]
