"""The measures pages: the dashboard by tier, a measure's page, its CSV, the definitions, and the forms
partnership administrators use to change a measure and add a baseline."""

import csv
import io

import pytest

from onecase.accounts.models import Agency, Role
from onecase.measures.models import Measure
from onecase.measures.services import baseline_add, measure_create, measure_update
from onecase.sharing.models import AuditEvent
from tests.auth import sign_in
from tests.factories import AgencyFactory, UserFactory
from tests.test_measures import at, contacts, demo_partnership

pytestmark = pytest.mark.django_db


@pytest.fixture
def measures(db):
    """Two years of monthly contacts at housing and the police, and a Tier 2 and a Tier 3 measure on them."""
    demo_partnership()
    housing, police = Agency.objects.get(code="HOUSING"), Agency.objects.get(code="POLICE")
    rows_housing, rows_police = [], []
    for i in range(24):
        year, month = 2024 + i // 12, i % 12 + 1
        rows_housing += [(at(year, month, 5, 12, 0), "rent_arrears_contact", {})] * (
            10 + (i % 4) + (8 if i >= 18 else 0)
        )
        rows_police += [(at(year, month, 6, 12, 0), "asb_report", {})] * (6 + (i % 3))
    contacts(housing, rows_housing)
    contacts(police, rows_police)
    rent = measure_create(
        actor=None,
        slug="rent-arrears",
        name="Rent arrears contacts",
        tier=2,
        owner="HOUSING",
        description="Contacts with council tenants about rent they owe.",
        agencies=["HOUSING"],
        contact_types=["rent_arrears_contact"],
    )
    # A name a spreadsheet would run as a formula, to see the CSV neutralise it.
    asb = measure_create(
        actor=None,
        slug="asb",
        name='=HYPERLINK("http://x") ASB reports',
        tier=3,
        description="Anti-social behaviour reported to the police.",
        contact_types=["asb_report"],
    )
    return {"rent": rent, "asb": asb}


@pytest.fixture
def analyst(db):
    return UserFactory(role=Role.ANALYST, agency=AgencyFactory(code="ANALYSIS"))


def test_dashboard_shows_each_tier_with_small_charts_and_latest_signal(client, measures, analyst):
    sign_in(client, analyst)
    response = client.get("/measures/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Tier 1: the citizen&#x27;s perspective" in body or "Tier 1: the citizen's perspective" in body
    assert "Tier 2: front doors and leading indicators" in body and "Tier 3: multi-agency measures" in body
    assert "Rent arrears contacts" in body and body.count("<svg") >= 2
    assert "2025-12" in body  # the latest period, with its signal in words
    assert "rent_arrears_contact" not in body and "HOUSING" not in body  # names, never codes
    assert "target" not in body.lower().replace("no targets", "")
    assert AuditEvent.objects.filter(user=analyst, action="search", object_type="measures").count() == 1
    assert 'href="/measures/"' in body  # in the navigation


def test_measure_page_has_charts_signals_forecast_leads_table_and_csv_link(client, measures, analyst):
    baseline_add(actor=None, measure=measures["rent"], start="2024-01", end="2024-12", reason="The first year.")
    sign_in(client, analyst)
    response = client.get("/measures/rent-arrears/")
    assert response.status_code == 200
    body = response.content.decode()
    for words in (
        "Process behaviour chart",
        "Signals",
        "Baselines",
        "The first year.",
        "Forecast",
        "What it may lead",
        "ASB reports",
        "Every figure",
        "Download every figure as CSV",
        "Kilnbury City Council Housing Services",
    ):
        assert words in body, words
    assert body.count("<svg") >= 3  # X chart, moving range, forecast
    # The last six months are 8 higher: above the first year's upper limit, named in words.
    assert "2025-07" in body and "outside" in body.lower()
    assert "Add the baseline" not in body  # analysts do not set baselines
    assert AuditEvent.objects.filter(user=analyst, action="view", object_type="measure").count() == 1


def test_csv_has_every_point_and_neutralises_formulas(client, measures, analyst):
    sign_in(client, analyst)
    response = client.get("/measures/asb.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["period", "measure", "value"]
    assert len(rows) == 1 + 24
    assert rows[1][0] == "2024-01" and rows[1][2] == "6"
    assert all(r[1].startswith("'=HYPERLINK") for r in rows[1:])
    assert AuditEvent.objects.filter(user=analyst, action="export", object_type="measure").count() == 1


@pytest.mark.parametrize("role", [Role.PRACTITIONER, Role.KEY_WORKER, Role.FRONT_DOOR, Role.AGENCY_ADMIN, Role.AUDITOR])
def test_roles_that_see_no_aggregates_are_refused(client, measures, role):
    user = UserFactory(role=role, agency=Agency.objects.get(code="HOUSING"))
    sign_in(client, user)
    for path in (
        "/measures/",
        "/measures/definitions/",
        "/measures/rent-arrears/",
        "/measures/rent-arrears.csv",
        "/measures/rent-arrears/edit/",
        "/measures/rent-arrears/baselines/new/",
    ):
        response = client.get(path)
        assert response.status_code == 403, path
        assert b"Rent arrears contacts" not in response.content
    assert b'href="/measures/"' not in client.get("/").content


def test_a_missing_measure_is_not_found(client, measures, analyst):
    sign_in(client, analyst)
    assert client.get("/measures/no-such-measure/").status_code == 404
    assert client.get("/measures/no-such-measure.csv").status_code == 404


def test_definitions_in_plain_words(client, measures, analyst):
    sign_in(client, analyst)
    body = client.get("/measures/definitions/").content.decode()
    assert "Kilnbury City Council Housing Services" in body and "Rent arrears contact" in body
    assert "rent_arrears_contact" not in body and "HOUSING" not in body
    assert "Change rent arrears contacts" not in body


def test_administrator_adds_a_baseline_from_the_measure_page(client, measures, partnership_admin):
    sign_in(client, partnership_admin)
    body = client.get("/measures/rent-arrears/").content.decode()
    assert "Add the baseline" in body
    response = client.post(
        "/measures/rent-arrears/baselines/new/", {"start": "2024-01", "end": "2024-12", "reason": "Before the shift"}
    )
    assert response.status_code == 302
    assert list(measures["rent"].baselines.values_list("start", "end", "reason")) == [
        ("2024-01", "2024-12", "Before the shift")
    ]
    response = client.post("/measures/rent-arrears/baselines/new/", {"start": "2024-06", "end": "2023-01"})
    assert response.status_code == 200  # the page again, with the error
    assert "The baseline must end after it starts" in response.content.decode()
    assert measures["rent"].baselines.count() == 1


def _form(measure, **changes):
    data = {
        "name": measure.name,
        "description": measure.description,
        "tier": measure.tier,
        "owner": measure.owner.code if measure.owner else "",
        "period": measure.period,
        "source": measure.source,
        "statistic": measure.statistic,
        "agencies": measure.agencies,
        "contact_types": ", ".join(measure.contact_types),
        "need_categories": measure.need_categories,
        "demand_class": measure.demand_class,
        "postcode_district": measure.postcode_district,
        "cohort": measure.cohort,
        "series_name": "",
        "series_lsoa": "",
        "series_decile": "",
        "version": measure.version,
    }
    return {**data, **changes}


def test_administrator_changes_a_measure_and_a_stale_form_shows_both_versions(client, measures, partnership_admin):
    sign_in(client, partnership_admin)
    rent = measures["rent"]
    page = client.get("/measures/rent-arrears/edit/")
    assert page.status_code == 200 and 'name="version" value="1"' in page.content.decode()
    stale = _form(rent, name="Rent owed")
    response = client.post("/measures/rent-arrears/edit/", _form(rent, name="Arrears of rent", postcode_district="st1"))
    assert response.status_code == 302
    rent.refresh_from_db()
    assert (rent.name, rent.postcode_district, rent.version) == ("Arrears of rent", "ST1", 2)
    response = client.post("/measures/rent-arrears/edit/", stale)
    assert response.status_code == 409
    body = response.content.decode()
    assert "Someone changed this since you opened it" in body and "Arrears of rent" in body and "Rent owed" in body
    assert 'name="version" value="2"' in body
    assert Measure.objects.get(pk=rent.pk).name == "Arrears of rent"
    response = client.post("/measures/rent-arrears/edit/", _form(rent, name="", version=2))
    assert response.status_code == 200 and "Enter a name for the measure." in response.content.decode()


def test_analyst_may_not_edit(client, measures, analyst):
    sign_in(client, analyst)
    assert client.get("/measures/rent-arrears/edit/").status_code == 403
    assert client.post("/measures/rent-arrears/edit/", _form(measures["rent"], name="X")).status_code == 403
    measure_update(actor=None, measure=measures["rent"], name="Still mine")
    assert Measure.objects.get(slug="rent-arrears").name == "Still mine"


def test_a_weekly_measure_has_its_page_and_csv(client, measures, analyst):  # noqa: F811
    measure_create(
        actor=None,
        slug="asb-weekly",
        name="ASB reports per week",
        tier=3,
        period="week",
        description="Anti-social behaviour reported to the police, per week.",
        contact_types=["asb_report"],
    )
    sign_in(client, analyst)
    response = client.get("/measures/asb-weekly/")
    assert response.status_code == 200
    assert "2025-W49" in response.content.decode()  # 6 December 2025 is in ISO week 49
    rows = list(csv.reader(io.StringIO(client.get("/measures/asb-weekly.csv").content.decode())))
    assert rows[1][0] == "2024-W01" and sum(int(r[2]) for r in rows[1:]) == sum(6 + (i % 3) for i in range(24))


def test_a_weekly_measure_asks_for_weeks_in_its_baseline_form(client, measures, partnership_admin):
    measure_create(
        actor=None,
        slug="asb-weekly",
        name="ASB reports per week",
        tier=3,
        period="week",
        description="Anti-social behaviour reported to the police, per week.",
        contact_types=["asb_report"],
    )
    sign_in(client, partnership_admin)
    weekly = client.get("/measures/asb-weekly/").content.decode()
    assert "For example, 2024-W01." in weekly and "For example, 2024-01." not in weekly
    monthly = client.get("/measures/rent-arrears/").content.decode()
    assert "For example, 2024-01." in monthly and "2024-W01" not in monthly
    missing = client.post("/measures/asb-weekly/baselines/new/", {"start": "", "end": "2024-W10"})
    assert "Enter the first period of the baseline, like 2024-W01." in missing.content.decode()


def test_the_home_page_points_analysts_to_measures_and_impact(client, measures, analyst):
    sign_in(client, analyst)
    body = client.get("/").content.decode()
    assert "Where to look" in body
    for href in ('href="/demand/"', 'href="/measures/"', 'href="/impact/"'):
        assert body.count(href) >= 2, href  # the service navigation, and the list on the page
