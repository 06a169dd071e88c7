"""/api/v1/measures/: the list, a measure with its XmR chart, and its forecast."""

import pytest
from rest_framework.test import APIClient

from onecase.accounts.models import Agency, Role
from onecase.accounts.services import token_create
from onecase.measures.services import baseline_add
from onecase.sharing.models import AuditEvent
from tests.factories import AgencyFactory, UserFactory
from tests.test_measure_pages import measures  # noqa: F401
from tests.test_measures import limits

pytestmark = pytest.mark.django_db


def api_as(user) -> APIClient:
    _, token = token_create(actor=None, user=user, name="measures test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def analyst_api(db):
    return api_as(UserFactory(role=Role.ANALYST, agency=AgencyFactory(code="ANALYSIS")))


def test_list_gives_every_definition_without_a_target(analyst_api, measures):  # noqa: F811
    response = analyst_api.get("/api/v1/measures/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [r["slug"] for r in rows] == ["rent-arrears", "asb"]  # by tier
    rent = rows[0]
    assert (rent["tier"], rent["owner"], rent["period"], rent["source"]) == (2, "HOUSING", "month", "ledger")
    assert rent["filters"]["contact_types"] == ["rent_arrears_contact"]
    assert not any("target" in r for r in rows)


def test_detail_has_the_xmr_chart_with_the_baseline_asked_for(analyst_api, measures):  # noqa: F811
    response = analyst_api.get("/api/v1/measures/rent-arrears/?baseline=2024-01:2024-12")
    assert response.status_code == 200
    data = response.json()
    rent = [10 + (i % 4) + (8 if i >= 18 else 0) for i in range(24)]
    assert [p["value"] for p in data["series"]] == rent
    mean, unpl, lnpl, url = limits(rent[:12])
    xmr = data["xmr"]
    assert xmr["mean"] == pytest.approx(mean) and xmr["unpl"] == pytest.approx(unpl)
    assert xmr["lnpl"] == pytest.approx(lnpl) and xmr["url"] == pytest.approx(url)
    assert [p["period"] for p in xmr["points"]][-1] == "2025-12"
    assert "outside_limits" in xmr["points"][-1]["signals"]
    assert AuditEvent.objects.filter(action="view", object_type="measure", detail__api=True).count() == 1


def test_detail_uses_recorded_baselines_and_lists_them(analyst_api, measures):  # noqa: F811
    baseline_add(actor=None, measure=measures["rent"], start="2024-01", end="2024-06", reason="Half a year")
    data = analyst_api.get("/api/v1/measures/rent-arrears/").json()
    assert [(b["start"], b["end"], b["reason"]) for b in data["baselines"]] == [("2024-01", "2024-06", "Half a year")]
    rent = [10 + (i % 4) for i in range(6)]
    assert data["xmr"]["mean"] == pytest.approx(limits(rent)[0])


@pytest.mark.parametrize(
    "query", ["baseline=2024-01", "baseline=2024-12:2024-01", "baseline=2019-01:2019-12", "baseline=x"]
)
def test_a_bad_baseline_is_a_400(analyst_api, measures, query):  # noqa: F811
    response = analyst_api.get(f"/api/v1/measures/rent-arrears/?{query}")
    assert response.status_code == 400
    assert "baseline" in response.json()


def test_forecast_has_both_methods_and_their_backtest(analyst_api, measures):  # noqa: F811
    response = analyst_api.get("/api/v1/measures/asb/forecast/?months=4")
    assert response.status_code == 200
    data = response.json()
    assert len(data["history"]) == 24
    methods = {f["method"]: f for f in data["forecasts"]}
    assert set(methods) == {"seasonal_naive", "ets"}
    for f in methods.values():
        assert len(f["points"]) == 4
        assert [p["period"] for p in f["points"]] == ["2026-01", "2026-02", "2026-03", "2026-04"]
        assert all(p["lower"] <= p["value"] <= p["upper"] for p in f["points"])
        assert f["backtest"]["mae"] is not None
    assert analyst_api.get("/api/v1/measures/asb/forecast/?months=0").status_code == 400


def test_missing_measure_is_404_and_front_line_roles_are_refused(analyst_api, measures):  # noqa: F811
    assert analyst_api.get("/api/v1/measures/no-such-measure/").status_code == 404
    assert analyst_api.get("/api/v1/measures/no-such-measure/forecast/").status_code == 404
    worker = api_as(UserFactory(role=Role.KEY_WORKER, agency=Agency.objects.get(code="HOUSING")))
    for path in (
        "/api/v1/measures/",
        "/api/v1/measures/rent-arrears/",
        "/api/v1/measures/rent-arrears/forecast/",
        "/api/v1/measures/rent-arrears/?baseline=bad",
    ):
        response = worker.get(path)
        assert response.status_code == 403, path
        assert b"Rent arrears" not in response.content


def test_measures_are_in_the_openapi_schema(analyst_api):
    schema = analyst_api.get("/api/v1/schema/?format=json").json()
    assert {"/api/v1/measures/", "/api/v1/measures/{slug}/", "/api/v1/measures/{slug}/forecast/"} <= set(
        schema["paths"]
    )
