"""Failure demand costed: contacts × unit cost per agency, per month and per agency and month, in the
reports, the demand ranking, the page, its CSV downloads and the API, each recomputed from the ledger."""

import csv
import io
from collections import defaultdict
from decimal import Decimal

import pytest
from django.utils import timezone

from onecase.accounts.models import Agency, Role
from onecase.contacts.demand import demand_ranking
from onecase.contacts.models import Contact, DemandClass
from onecase.costs.models import UnitCost
from onecase.reports.demand_reports import (
    failure_cost_by_agency_and_month,
    failure_share_by_agency,
    failure_share_by_month,
    unpriced_failures,
)
from onecase.sharing.models import AuditEvent
from tests.auth import sign_in
from tests.factories import UserFactory
from tests.test_demand import city  # noqa: F401

pytestmark = pytest.mark.django_db


def by_hand(key):
    """Σ unit cost of the failure-demand contacts, per ``key(contact)``, one contact at a time."""
    totals, unpriced = defaultdict(lambda: Decimal("0.00")), 0
    for contact in Contact.objects.filter(demand_class=DemandClass.FAILURE).select_related("agency"):
        unit = UnitCost.objects.filter(agency=contact.agency, contact_type=contact.contact_type).first()
        if unit is None:
            unpriced += 1
            totals[key(contact)] += 0
        else:
            totals[key(contact)] += unit.unit_cost_gbp
    return dict(totals), unpriced


def month_of(contact):
    return f"{timezone.localtime(contact.occurred_at):%Y-%m}"


@pytest.fixture
def costed(city):  # noqa: F811
    # One food-bank parcel (no unit cost) marked as failure demand, so unpriced contacts are counted too.
    parcel = Contact.objects.filter(contact_type="parcel").first()
    Contact.objects.filter(pk=parcel.pk).update(demand_class=DemandClass.FAILURE)
    return city


def test_failure_cost_per_agency_month_and_both_match_the_ledger(costed):
    agencies, unpriced = by_hand(lambda c: c.agency.name)
    assert sum(agencies.values()) > 0
    assert {r.label: r.failure_cost for r in failure_share_by_agency(None) if r.failures} == agencies
    months, _ = by_hand(month_of)
    assert {r.label: r.failure_cost for r in failure_share_by_month(None) if r.failures} == months
    both, _ = by_hand(lambda c: (month_of(c), c.agency.code))
    assert {(r.month, r.code): r.cost for r in failure_cost_by_agency_and_month(None)} == both
    assert unpriced_failures(None) == unpriced >= 1


def test_ranking_has_the_cost_of_each_households_failure_demand(costed):
    expected, _ = by_hand(lambda c: c.household_id)
    rows = demand_ranking(None, by="household", top=10)
    assert rows and any(Decimal(r["failure_cost_gbp"]) for r in rows)
    for row in rows:
        assert Decimal(row["failure_cost_gbp"]) == expected.get(row["household_id"], Decimal("0.00"))


def test_page_csv_and_api_show_the_same_cost(costed, client):
    analyst = UserFactory(agency=Agency.objects.get(code="POLICE"), role=Role.ANALYST)
    sign_in(client, analyst)
    agencies, unpriced = by_hand(lambda c: c.agency.name)
    total = sum(agencies.values())
    page = client.get("/demand/failure/").content.decode()
    assert f"Failure demand cost £{total:,.2f} in this period" in page
    contacts = "contact" if unpriced == 1 else "contacts"
    assert "Cost of failure demand" in page
    assert f"{unpriced} failure-demand {contacts} of a type with no unit cost" in page

    rows = list(csv.DictReader(io.StringIO(client.get("/demand/failure.csv?by=agency").content.decode())))
    assert {r["agency"]: Decimal(r["failure_demand_cost_gbp"]) for r in rows if int(r["failure_demand"])} == agencies
    both, _ = by_hand(lambda c: (month_of(c), c.agency.name))
    rows = list(csv.DictReader(io.StringIO(client.get("/demand/failure.csv?by=agency-month").content.decode())))
    assert {(r["month"], r["agency"]): Decimal(r["failure_demand_cost_gbp"]) for r in rows} == both
    assert AuditEvent.objects.filter(object_type="failure_demand", action=AuditEvent.Action.EXPORT).count() == 2

    ranked = list(csv.DictReader(io.StringIO(client.get("/demand.csv").content.decode())))
    households, _ = by_hand(lambda c: c.household_id)
    assert sum(Decimal(r["failure_demand_cost_gbp"]) for r in ranked) == sum(households.values())

    body = client.get("/api/v1/failure-demand").json()
    codes, _ = by_hand(lambda c: c.agency.code)
    assert {r["agency"]: Decimal(r["failure_cost_gbp"]) for r in body["by_agency"] if r["failure_demand"]} == codes
    assert Decimal(body["failure_cost_gbp"]) == total and body["unpriced_failure_demand"] == unpriced
    months, _ = by_hand(month_of)
    assert {r["month"]: Decimal(r["failure_cost_gbp"]) for r in body["by_month"] if r["failure_demand"]} == months
    assert len(body["by_agency_and_month"]) == len(both)
    assert client.get("/api/v1/failure-demand?since=2025-02-01&until=2025-01-01").status_code == 400


def test_auditors_are_refused(costed, client):
    auditor = UserFactory(agency=Agency.objects.get(code="POLICE"), role=Role.AUDITOR)
    sign_in(client, auditor)
    assert client.get("/api/v1/failure-demand").status_code == 403
    assert client.get("/demand/failure/").status_code == 403
