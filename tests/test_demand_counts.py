"""Demand counts (kept by triggers) always equal the ledger, and rank as the ledger does."""

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onecase.accounts.models import Agency
from onecase.contacts.bulk import demand_counts_paused, rebuild_demand_counts
from onecase.contacts.demand import KEYS, DemandScope, _ranked_by_counts, _ranked_in_ledger, ledger_for
from onecase.contacts.models import Contact, DemandCount, DemandTotal
from onecase.contacts.services import resolution_refresh
from onecase.costs.models import UnitCost
from onecase.people.models import Address, AgencyPerson, Household, Person, PersonLink

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def counted():
    return (
        Counter({(c.kind, c.subject_id, c.agency_id, c.contact_type): c.contacts for c in DemandCount.objects.all()}),
        Counter({(t.kind, t.subject_id): t.contacts for t in DemandTotal.objects.all()}),
    )


def expected():
    counts, totals = Counter(), Counter()
    for contact in Contact.objects.all():
        for kind, column in KEYS.items():
            subject = getattr(contact, column)
            if subject is not None:
                counts[(kind, subject, contact.agency_id, contact.contact_type)] += 1
                totals[(kind, subject)] += 1
    return counts, totals


@pytest.fixture
def world():
    agencies = [Agency.objects.create(code=code, name=code) for code in ("A", "B", "C")]
    people = [AgencyPerson.objects.create(agency=agencies[i % 3], person_ref=f"P{i}") for i in range(4)]
    homes = [Household.objects.create(address=Address.objects.create(postcode=f"ST{i} 1AA", number="1"))
             for i in range(3)]
    persons = [Person.objects.create(household=homes[i % 3]) for i in range(4)]
    return agencies, people, homes, persons


def contact(agencies, people, n, **subjects):
    return Contact.objects.create(agency=agencies[n % 3], agency_person=people[n % 4], record_id=f"R{n}",
                                  contact_type=("call", "visit")[n % 2], occurred_at=NOW, imported_at=NOW,
                                  updated_at=NOW, **subjects)


def test_every_kind_of_write_keeps_the_counts_exact(world):
    agencies, people, homes, persons = world
    made = [contact(agencies, people, n, person=persons[n % 4], household=homes[n % 3],
                    address=homes[n % 3].address if n % 2 else None) for n in range(12)]
    contact(agencies, people, 99)  # no subject yet
    assert counted() == expected()
    Contact.objects.filter(record_id__in=["R1", "R2"]).update(household=homes[0], contact_type="arrest")
    assert counted() == expected()
    Contact.objects.filter(record_id="R3").update(agency=agencies[2], person=None)
    made[4].address = homes[2].address
    made[4].save()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE contacts_contact SET address_id = NULL WHERE record_id IN ('R5', 'R7')")
    assert counted() == expected()
    Contact.objects.filter(record_id__in=["R6", "R8", "R99"]).delete()
    assert counted() == expected()
    assert not DemandCount.objects.filter(contacts__lte=0).exists()


def test_resolution_refresh_counts_people_and_households_again(world):
    agencies, people, homes, persons = world
    for n in range(8):
        contact(agencies, people, n, address=homes[n % 3].address)
    for i, record in enumerate(people):
        PersonLink.objects.create(agency_person=record, person=persons[i], match_probability=0.99)
    resolution_refresh()
    assert DemandTotal.objects.filter(kind="person").count() == 4
    assert counted() == expected()
    Person.objects.filter(pk=persons[0].pk).update(household=homes[2])
    resolution_refresh(agency_person_ids=[people[0].pk])  # a few: kept by the triggers
    assert counted() == expected()


def test_paused_counts_are_rebuilt(world):
    agencies, people, homes, persons = world
    with transaction.atomic(), demand_counts_paused():
        for n in range(5):
            contact(agencies, people, n, person=persons[n % 4], household=homes[n % 3])
        assert DemandCount.objects.count() == 0
        rebuild_demand_counts()
    assert counted() == expected()
    contact(agencies, people, 6, person=persons[1])  # the triggers work again after the block
    assert counted() == expected()


records = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 5), st.sampled_from(["call", "visit", "arrest"])),
                   max_size=30)
scopes = st.one_of(st.none(), st.frozensets(st.integers(0, 2)))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=records, scope=scopes, top=st.integers(1, 5), order=st.sampled_from(["contacts", "cost"]))
def test_counts_rank_as_the_ledger_does(records, scope, top, order):
    with transaction.atomic():
        agencies = [Agency.objects.create(code=code, name=code) for code in ("A", "B", "C")]
        record = AgencyPerson.objects.create(agency=agencies[0], person_ref="P")
        homes = [Household.objects.create(address=Address.objects.create(postcode=f"ST{i} 1AA", number="1"))
                 for i in range(6)]
        UnitCost.objects.create(agency=agencies[0], contact_type="call", unit_cost_gbp=Decimal("10.50"))
        UnitCost.objects.create(agency=agencies[1], contact_type="visit", unit_cost_gbp=Decimal("0.35"))
        for n, (agency, home, contact_type) in enumerate(records):
            Contact.objects.create(agency=agencies[agency], agency_person=record, record_id=f"R{n}",
                                   contact_type=contact_type, household=homes[home], occurred_at=NOW,
                                   imported_at=NOW, updated_at=NOW)
        agency_ids = None if scope is None else frozenset(agencies[i].pk for i in scope)
        ledger = ledger_for(DemandScope(agency_ids, True)).filter(household_id__isnull=False)
        assert (_ranked_by_counts("household", agency_ids, top, order)
                == _ranked_in_ledger(ledger, "household_id", top, order))
        transaction.set_rollback(True)
