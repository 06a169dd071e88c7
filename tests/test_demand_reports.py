"""Failure-demand share per agency and per month, demands in context, and reclassifying a contact."""

import csv
import datetime as dt
import io

import pytest
from django.utils import timezone

from onecase.accounts.models import Agency, Role
from onecase.contacts.models import Contact, DemandClass, NeedCategory
from onecase.contacts.services import resolution_refresh
from onecase.people.models import AgencyPerson
from onecase.reports.demand_reports import (
    MIN_PHRASE_COUNT,
    demands_in_context,
    failure_share_by_agency,
    failure_share_by_month,
)
from onecase.sharing.models import AuditEvent
from tests.auth import sign_in
from tests.factories import UserFactory
from tests.test_demand import city  # noqa: F401

pytestmark = pytest.mark.django_db


def expected_shares(queryset, key):
    result = {}
    for contact in queryset:
        label = key(contact)
        total, failures = result.get(label, (0, 0))
        result[label] = (total + 1, failures + (contact.demand_class == DemandClass.FAILURE))
    return result


def test_failure_share_per_agency_and_month_match_the_ledger(city):  # noqa: F811
    contacts = Contact.objects.select_related("agency")
    by_agency = {r.label: (r.contacts, r.failures) for r in failure_share_by_agency(None)}
    assert by_agency == expected_shares(contacts, lambda c: c.agency.name)
    assert any(failures for _, failures in by_agency.values())  # the city has repeats
    by_month = {r.label: (r.contacts, r.failures) for r in failure_share_by_month(None)}
    assert by_month == expected_shares(contacts, lambda c: f"{timezone.localtime(c.occurred_at):%Y-%m}")
    assert list(by_month) == sorted(by_month)


def test_shares_are_scoped_to_what_the_user_may_count(city):  # noqa: F811
    volunteer = UserFactory(agency=Agency.objects.get(code="FOODBANK"), role=Role.VOLUNTARY_PARTNER)
    assert [r.label for r in failure_share_by_agency(volunteer)] == [Agency.objects.get(code="FOODBANK").name]
    since = dt.date(2030, 1, 1)
    assert failure_share_by_agency(None, since=since) == []


def test_demands_in_context_counts_categories_and_frequent_words(city):  # noqa: F811
    report = demands_in_context(None)
    total = sum(r.total for r in report.categories)
    assert total == Contact.objects.count()
    rent = next(r for r in report.categories if r.by_agency.get("HOUSING") == 3)
    assert rent.total >= 3
    # Each phrase in the city is used by fewer than MIN_PHRASE_COUNT people, so none is listed.
    assert Contact.objects.filter(presenting_need="my neighbour is threatening me").count() < MIN_PHRASE_COUNT
    assert report.phrases == []
    police = Agency.objects.get(code="POLICE")
    for n in range(MIN_PHRASE_COUNT):
        say(police, f"J{n}", "Help me find a job!" if n % 2 else "help me  find a job")
    phrases = demands_in_context(None).phrases
    assert [(p.label, p.total, p.by_agency) for p in phrases] == [("help me find a job", MIN_PHRASE_COUNT,
                                                                    {"POLICE": MIN_PHRASE_COUNT})]


def say(agency, person_ref, words, times=1, agency_person=None):
    """``times`` contacts in which one agency person (new unless given) uses ``words``."""
    agency_person = agency_person or AgencyPerson.objects.create(agency=agency, person_ref=person_ref)
    now = timezone.now()
    Contact.objects.bulk_create(
        Contact(agency=agency, record_id=f"{person_ref}-{words[:10]}-{n}", agency_person=agency_person,
                occurred_at=now, contact_type="call", presenting_need=words, imported_at=now, updated_at=now)
        for n in range(times)
    )
    return agency_person


def test_one_persons_words_are_not_listed_however_often_they_use_them(city):  # noqa: F811
    police = Agency.objects.get(code="POLICE")
    smyth_at_police = AgencyPerson.objects.get(agency=police, person_ref="S1")
    say(police, "S1", "I am scared of my landlord", times=300, agency_person=smyth_at_police)
    resolution_refresh()
    assert demands_in_context(None).phrases == []
    # Four people more than the one who said it 300 times: still fewer than the minimum.
    for n in range(MIN_PHRASE_COUNT - 2):
        say(police, f"L{n}", "I am scared of my landlord")
    assert demands_in_context(None).phrases == []


def test_words_used_by_enough_people_are_counted_as_people(city):  # noqa: F811
    police, housing = Agency.objects.get(code="POLICE"), Agency.objects.get(code="HOUSING")
    say(police, "S1", "I am scared of my landlord", times=300,
        agency_person=AgencyPerson.objects.get(agency=police, person_ref="S1"))
    for n in range(MIN_PHRASE_COUNT - 1):
        say(housing, f"L{n}", "I am scared of my landlord", times=2)
    # The Smyths' housing record is the same linked person as their police record: counted once in all.
    say(housing, "HS", "I am scared of my landlord", agency_person=AgencyPerson.objects.get(agency=housing,
                                                                                          person_ref="HS"))
    resolution_refresh()
    (row,) = demands_in_context(None).phrases
    assert (row.label, row.total) == ("i am scared of my landlord", MIN_PHRASE_COUNT)
    # The police's figure is one person: left out, so that the one person cannot be singled out.
    assert row.by_agency == {"HOUSING": MIN_PHRASE_COUNT}


def test_context_page_says_counts_are_of_people_and_small_numbers_are_not_shown(client, city):  # noqa: F811
    police = Agency.objects.get(code="POLICE")
    say(police, "S1", "a phrase only one person used", times=300,
        agency_person=AgencyPerson.objects.get(agency=police, person_ref="S1"))
    for n in range(MIN_PHRASE_COUNT):
        say(police, f"W{n}", "where can I sleep tonight")
    sign_in(client, UserFactory(agency=police, role=Role.ANALYST))
    page = client.get("/demand/in-context/").content.decode()
    assert "The numbers are of people, not contacts" in page
    assert f"Words used by fewer than {MIN_PHRASE_COUNT} people are not shown" in page
    assert "where can i sleep tonight" in page and "a phrase only one person used" not in page
    rows = list(csv.reader(io.StringIO(client.get("/demand/in-context.csv").content.decode())))
    assert rows[0][:4] == ["kind", "demand", "counted", "total"]
    assert ["in their words", "where can i sleep tonight", "people", str(MIN_PHRASE_COUNT)] in [r[:4] for r in rows]
    assert not any("only one person" in cell for row in rows for cell in row)


def test_report_pages_and_csv(client, city):  # noqa: F811
    analyst = UserFactory(agency=Agency.objects.get(code="POLICE"), role=Role.ANALYST)
    sign_in(client, analyst)
    page = client.get("/demand/failure/")
    assert page.status_code == 200 and b"<svg" in page.content
    csv = client.get("/demand/failure.csv?by=agency").content.decode().splitlines()
    assert csv[0] == "agency,contacts,failure_demand,failure_demand_share,failure_demand_cost_gbp" and len(csv) == 4
    context = client.get("/demand/in-context/")
    assert context.status_code == 200 and b"By need category" in context.content
    assert client.get("/demand/in-context.csv").content.decode().startswith("kind,demand,counted,total,")
    errors = client.get("/demand/failure/?since=2025-06-01&until=2025-01-01")
    assert b"The end date must be the same as or after the start date" in errors.content
    assert AuditEvent.objects.filter(username=analyst.username, action="export").count() == 2


def test_staff_reclassify_their_own_agencys_contact(client, city):  # noqa: F811
    contact = Contact.objects.filter(agency__code="HOUSING").first()
    other = Contact.objects.filter(agency__code="POLICE").first()
    officer = UserFactory(agency=Agency.objects.get(code="HOUSING"), role=Role.PRACTITIONER)
    sign_in(client, officer)
    assert client.get(f"/contacts/{other.pk}/classify/").status_code == 404
    page = client.get(f"/contacts/{contact.pk}/classify/?next=/people/{city['person'].pk}/")
    assert page.status_code == 200
    category = NeedCategory.objects.order_by("pk").first()
    response = client.post(f"/contacts/{contact.pk}/classify/", {
        "demand_class": DemandClass.VALUE, "need_category": category.pk, "next": f"/people/{city['person'].pk}/",
    })
    assert response.status_code == 302 and response["Location"] == f"/people/{city['person'].pk}/"
    contact.refresh_from_db()
    assert contact.demand_class == DemandClass.VALUE and contact.demand_class_manual
    assert contact.need_category == category and contact.need_category_manual
    changes = AuditEvent.objects.filter(object_type="contact", object_id=str(contact.pk), action="change")
    assert changes.count() == 2
    unsafe = client.post(f"/contacts/{contact.pk}/classify/", {"demand_class": "failure", "next": "https://evil.example/"})
    assert unsafe["Location"] == "/demand/"
