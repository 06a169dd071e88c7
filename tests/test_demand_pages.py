"""The demand dashboard: ranked table, sparklines, trend chart with its table, CSV downloads."""

import csv
import io

import pytest

from onecase.accounts.models import Agency, Role
from onecase.sharing.models import AuditEvent
from tests.auth import sign_in
from tests.factories import UserFactory
from tests.test_demand import city  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def test_dashboard_ranks_households_with_charts_and_tables(client, city):  # noqa: F811
    admin = UserFactory(agency=Agency.objects.get(code="HOUSING"), role=Role.PARTNERSHIP_ADMIN)
    sign_in(client, admin)
    page = client.get("/demand/?until=2025-06-30").content.decode()
    assert page.index("1 High Street, ST1 1AA") < page.index("1 High Street, ST2 2BB")
    assert f'href="/households/{city["smyth"].pk}/"' in page
    assert "Needs an owner" in page and "ASB case review trigger" in page
    assert page.count('class="app-sparkline"') == 2
    assert 'class="app-bar-chart"' in page and "Contacts per month as a table" in page
    assert AuditEvent.objects.filter(action="search", object_type="demand").count() == 1


def test_dashboard_csv_has_the_same_rows_and_months(client, city):  # noqa: F811
    admin = UserFactory(agency=Agency.objects.get(code="HOUSING"), role=Role.PARTNERSHIP_ADMIN)
    sign_in(client, admin)
    response = client.get("/demand.csv?by=household&order=cost")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [int(r["household_id"]) for r in rows] == [city["smyth"].pk, city["brown"].pk]
    assert rows[0]["contacts_by_agency"] == "FOODBANK=2 HOUSING=3 POLICE=4"
    month_columns = [c for c in rows[0] if c[:2] == "20" and len(c) == 7]
    assert len(month_columns) == 24
    assert AuditEvent.objects.filter(action="export", object_type="demand").count() == 1
    trend = client.get("/demand/per-month.csv").content.decode().splitlines()
    assert trend[0] == "month,contacts,whole_month" and len(trend) == 25
    # The month not yet over is the last row, and is said to be part of a month.
    assert [row.rsplit(",", 1)[1] for row in trend[1:]] == ["yes"] * 23 + ["no"]


def test_filter_errors_are_shown(client, city):  # noqa: F811
    sign_in(client, UserFactory(agency=Agency.objects.get(code="HOUSING"), role=Role.PARTNERSHIP_ADMIN))
    page = client.get("/demand/?since=2025-06-01&until=2025-01-01").content.decode()
    assert "There is a problem" in page and "The end date must be the same as or after the start date" in page


def test_voluntary_partner_sees_only_their_own_counts(client, city):  # noqa: F811
    sign_in(client, UserFactory(agency=Agency.objects.get(code="FOODBANK"), role=Role.VOLUNTARY_PARTNER))
    page = client.get("/demand/").content.decode()
    assert "FOODBANK&nbsp;2" in page and "POLICE&nbsp;" not in page
