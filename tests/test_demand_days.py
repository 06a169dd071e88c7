"""Contacts per agency and day (kept by triggers), the months read from them, and the ranking for
some agencies read from the busiest subjects down: always what the ledger itself says."""

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onecase.accounts.models import Agency, Role
from onecase.contacts import demand
from onecase.contacts.demand import (
    DemandScope,
    _ranked_by_counts,
    _ranked_in_ledger,
    ledger_for,
    month_list,
    monthly_counts,
    partnership_monthly,
)
from onecase.contacts.models import Contact, DemandDay
from onecase.people.models import Address, AgencyPerson, Household
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
UK = ZoneInfo("Europe/London")
UTC = dt.UTC
# Around month ends: 23:30 UTC on 30 June is July in the UK (summer time); on 31 January it is January.
TIMES = [
    dt.datetime(2025, 6, 30, 22, 59, tzinfo=UTC), dt.datetime(2025, 6, 30, 23, 0, tzinfo=UTC),
    dt.datetime(2025, 6, 30, 23, 30, tzinfo=UTC), dt.datetime(2025, 7, 1, 0, 30, tzinfo=UTC),
    dt.datetime(2025, 1, 31, 23, 30, tzinfo=UTC), dt.datetime(2025, 2, 1, 0, 0, tzinfo=UTC),
    dt.datetime(2025, 3, 30, 0, 30, tzinfo=UTC), dt.datetime(2025, 3, 31, 23, 15, tzinfo=UTC),
    dt.datetime(2025, 10, 31, 23, 45, tzinfo=UTC), dt.datetime(2025, 12, 31, 23, 59, tzinfo=UTC),
    dt.datetime(2026, 1, 1, 0, 0, tzinfo=UTC), dt.datetime(2025, 8, 15, 12, 0, tzinfo=UTC),
]


@pytest.fixture
def world():
    agencies = [Agency.objects.create(code=code, name=f"Agency {code}") for code in ("A", "B", "C")]
    record = AgencyPerson.objects.create(agency=agencies[0], person_ref="P")
    homes = [Household.objects.create(address=Address.objects.create(postcode=f"ST{i} 1AA", number="1"))
             for i in range(3)]
    return agencies, record, homes


def add(agencies, record, n, at, home=None):
    return Contact.objects.create(agency=agencies[n % 3], agency_person=record, record_id=f"R{n}", contact_type="call",
                                  occurred_at=at, imported_at=at, updated_at=at, household=home)


def days():
    return Counter({(d.agency_id, d.day): d.contacts for d in DemandDay.objects.all()})


def expected_days():
    return Counter((c.agency_id, c.occurred_at.astimezone(UTC).date()) for c in Contact.objects.all())


def test_every_kind_of_write_keeps_the_days_exact(world):
    agencies, record, _ = world
    made = [add(agencies, record, n, at) for n, at in enumerate(TIMES)]
    assert days() == expected_days()
    made[0].occurred_at = dt.datetime(2025, 7, 2, 1, 0, tzinfo=UTC)
    made[0].save()
    Contact.objects.filter(record_id__in=["R1", "R2"]).update(agency=agencies[2])
    Contact.objects.filter(record_id="R3").update(occurred_at=dt.datetime(2024, 12, 25, tzinfo=UTC))
    Contact.objects.filter(record_id="R4").update(contact_type="visit")  # neither agency nor time
    with connection.cursor() as cursor:
        cursor.execute("UPDATE contacts_contact SET occurred_at = %s WHERE record_id = 'R5'",
                       [dt.datetime(2025, 2, 3, 4, 5, tzinfo=UTC)])
    assert days() == expected_days()
    Contact.objects.filter(record_id__in=["R6", "R7", "R8"]).delete()
    assert days() == expected_days()
    assert not DemandDay.objects.filter(contacts__lte=0).exists()


def _local_months(contacts, months):
    counts = Counter(c.occurred_at.astimezone(UK).strftime("%Y-%m") for c in contacts)
    return [(month, counts[month]) for month in months]


@pytest.mark.parametrize("end", [dt.date(2026, 1, 10), dt.date(2025, 7, 1), dt.date(2025, 10, 31)])
def test_months_are_uk_months_whatever_the_hour(world, end):
    agencies, record, homes = world
    for n, at in enumerate(TIMES):
        add(agencies, record, n, at, home=homes[n % 2])
    months = month_list(end, 24)
    assert partnership_monthly(None, months=months) == _local_months(Contact.objects.all(), months)
    # Counted as the user's scope counts: the analyst counts every agency, a practitioner their own.
    analyst = UserFactory(agency=agencies[0], role=Role.ANALYST)
    assert partnership_monthly(analyst, months=months) == _local_months(Contact.objects.all(), months)
    practitioner = UserFactory(agency=agencies[1], role=Role.PRACTITIONER)
    own = Contact.objects.filter(agency=agencies[1])
    assert partnership_monthly(practitioner, months=months) == _local_months(own, months)
    series = monthly_counts(None, by="household", ids=[homes[0].pk, homes[1].pk, homes[2].pk], months=months)
    for home in homes:
        assert series[home.pk] == [n for _, n in _local_months(Contact.objects.filter(household=home), months)]


def test_no_months_and_no_scope(world):
    agencies, record, _ = world
    add(agencies, record, 0, TIMES[0])
    assert partnership_monthly(None, months=[]) == []
    assert monthly_counts(None, by="person", ids=[], months=["2025-06"]) == {}
    auditor = UserFactory(agency=agencies[0], role=Role.AUDITOR)
    assert partnership_monthly(auditor, months=["2025-06", "2025-07"]) == [("2025-06", 0), ("2025-07", 0)]


records = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 7)), min_size=1, max_size=40)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=records, scope=st.frozensets(st.integers(0, 2), min_size=1), top=st.integers(1, 4),
       first=st.integers(1, 3))
def test_reading_from_the_busiest_down_ranks_as_the_ledger_does(monkeypatch, records, scope, top, first):
    # A first read of one to three subjects, doubling: the early stop, the later reads and the end are all taken.
    monkeypatch.setattr(demand, "FIRST_READ", first)
    monkeypatch.setattr(demand, "MOST_READ", 6)
    with transaction.atomic():
        agencies = [Agency.objects.create(code=code, name=code) for code in ("A", "B", "C")]
        record = AgencyPerson.objects.create(agency=agencies[0], person_ref="P")
        homes = [Household.objects.create(address=Address.objects.create(postcode=f"ST{i} 1AA", number="1"))
                 for i in range(8)]
        for n, (agency, home) in enumerate(records):
            Contact.objects.create(agency=agencies[agency], agency_person=record, record_id=f"R{n}",
                                   contact_type="call", household=homes[home], occurred_at=TIMES[0],
                                   imported_at=TIMES[0], updated_at=TIMES[0])
        agency_ids = frozenset(agencies[i].pk for i in scope)
        ledger = ledger_for(DemandScope(agency_ids, True)).filter(household_id__isnull=False)
        assert (_ranked_by_counts("household", agency_ids, top, "contacts")
                == _ranked_in_ledger(ledger, "household_id", top, "contacts"))
        transaction.set_rollback(True)
