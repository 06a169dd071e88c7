"""Demand ranking across agencies, costed, with flags, scoped to the user."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from onecase.accounts.models import Agency, Role
from onecase.contacts.demand import demand_ranking
from onecase.contacts.services import demand_classify, needs_classify, resolution_refresh
from onecase.costs.models import UnitCost
from onecase.imports.services import import_contacts
from onecase.people.models import Address, AgencyPerson, Household, Person, PersonLink
from onecase.sharing.models import Tier
from onecase.sharing.services import agreement_create
from tests.factories import UserFactory

PURPOSES = ["finding_families", "key_work"]  # the everyday purpose, and key work on cases

pytestmark = pytest.mark.django_db
NOW = timezone.make_aware(dt.datetime(2025, 6, 30, 12))


def rows_for(agency, person_ref, days, contact_type, need):
    return [
        f"{agency},{agency}-{person_ref}-{n},{person_ref},{(NOW - dt.timedelta(days=d)).isoformat()},{contact_type},{need}"
        for n, d in enumerate(days)
    ]


@pytest.fixture
def city(write_file):
    lines = ["agency,record_id,person_ref,occurred_at,contact_type,presenting_need"]
    # The Smyths: police, housing and the food bank, mostly recent, three ASB reports in a week.
    lines += rows_for("POLICE", "S1", [1, 3, 6, 200], "asb_report", "my neighbour is threatening me")
    lines += rows_for("HOUSING", "HS", [2, 10, 20], "rent_arrears_contact", "I can't pay my rent arrears")
    lines += rows_for("FOODBANK", "FS", [5, 40], "parcel", "no money for food")
    # The Browns: one housing repair.
    lines += rows_for("HOUSING", "HB", [30], "repair_request", "the roof is leaking")
    import_contacts(actor=None, path=write_file("city.csv", "\n".join(lines) + "\n"))
    homes = {}
    for name, postcode in (("smyth", "ST1 1AA"), ("brown", "ST2 2BB")):
        address = Address.objects.create(postcode=postcode, number="1", street="high street", line=f"1 High Street, {postcode}")
        homes[name] = Household.objects.create(address=address)
    smyth = Person.objects.create(household=homes["smyth"])
    brown = Person.objects.create(household=homes["brown"])
    for record in AgencyPerson.objects.all():
        PersonLink.objects.create(agency_person=record, person=brown if record.person_ref == "HB" else smyth,
                                  match_probability=0.99)
    resolution_refresh()
    needs_classify(actor=None)
    demand_classify(actor=None)
    costs = {("POLICE", "asb_report"): "120.50", ("HOUSING", "rent_arrears_contact"): "45.10",
             ("HOUSING", "repair_request"): "80.00"}
    for (code, contact_type), value in costs.items():
        UnitCost.objects.create(agency=Agency.objects.get(code=code), contact_type=contact_type,
                                unit_cost_gbp=Decimal(value), price_year="2019-20")
    return {"smyth": homes["smyth"], "brown": homes["brown"], "person": smyth}


def test_households_ranked_with_counts_cost_and_flags(city):
    top, second = demand_ranking(None, by="household", top=10, now=NOW)
    assert top["household_id"] == city["smyth"].pk and second["household_id"] == city["brown"].pk
    assert top["contacts_by_agency"] == {"FOODBANK": 2, "HOUSING": 3, "POLICE": 4}
    assert top["contacts_total"] == 9 and top["distinct_agencies"] == 3
    # Σ count × unit cost to the penny; the food bank parcel has no unit cost.
    assert top["cost_gbp"] == str(4 * Decimal("120.50") + 3 * Decimal("45.10"))
    assert top["label"] == "1 High Street, ST1 1AA"
    assert set(top["flags"]) == {"needs_owner", "asb_trigger", "rising_demand"}
    assert second["flags"] == [] and second["cost_gbp"] == "80.00"
    assert 0 < top["failure_demand_share"] < 1
    assert top["key_worker"] is None


def test_people_and_addresses_and_dates(city):
    (person,) = demand_ranking(None, by="person", top=1, now=NOW)
    assert person["person_id"] == city["person"].pk and person["contacts_total"] == 9
    since = (NOW - dt.timedelta(days=7)).date()
    recent = demand_ranking(None, by="household", since=since, until=NOW.date(), now=NOW)
    assert [r["contacts_total"] for r in recent] == [5]


def test_order_by_cost(city):
    ranked = demand_ranking(None, by="household", order="cost", now=NOW)
    assert [r["household_id"] for r in ranked] == [city["smyth"].pk, city["brown"].pk]


def test_scope_voluntary_partner_counts_only_what_agreements_allow(city):
    volunteer = UserFactory(agency=Agency.objects.get(code="FOODBANK"), role=Role.VOLUNTARY_PARTNER)
    (row,) = demand_ranking(volunteer, by="household", now=NOW)
    assert row["contacts_by_agency"] == {"FOODBANK": 2}
    housing = UserFactory(agency=Agency.objects.get(code="HOUSING"), role=Role.KEY_WORKER)
    agreement_create(actor=None, reference="ISA", title="t", lawful_basis="public_task", purposes="p", purpose_codes=PURPOSES,
                     data_categories=["identity", "contacts"], starts_on=dt.date(2020, 1, 1),
                     parties={Agency.objects.get(code="HOUSING"): Tier.SUMMARY,
                              Agency.objects.get(code="POLICE"): Tier.SUMMARY})
    top = demand_ranking(housing, by="household", now=NOW)[0]
    assert top["contacts_by_agency"] == {"HOUSING": 3, "POLICE": 4}


def test_analysts_see_counts_without_names(city):
    analyst = UserFactory(agency=Agency.objects.get(code="HOUSING"), role=Role.ANALYST)
    top = demand_ranking(analyst, by="household", now=NOW)[0]
    assert top["contacts_total"] == 9
    assert top["label"] == f"Household {city['smyth'].pk}"


def test_demand_command_json(city, capsys):
    call_command("demand", by="household", top=1, as_json=True)
    (row,) = json.loads(capsys.readouterr().out)
    assert row["household_id"] == city["smyth"].pk
    assert set(row) >= {"household_id", "label", "contacts_total", "contacts_by_agency", "distinct_agencies",
                        "first_contact", "last_contact", "cost_gbp", "failure_demand_share", "key_worker", "flags"}
