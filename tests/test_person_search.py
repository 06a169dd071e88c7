"""Finding a person: misspelt names, nicknames, swapped names and narrowing by date of birth,
postcode, NHS number or reference; the identity rule (a searcher learns nothing of records they may
not see); the audit trail (purpose and fields, never what was typed); the page and the API."""

import datetime as dt
import json
import re

import pytest
from django.core.exceptions import PermissionDenied

from onecase.accounts.models import Role
from onecase.audit.models import AuditEvent
from onecase.linkage.models import SearchKey, SearchPending
from onecase.linkage.search import NO_TERMS, PURPOSES, SearchInvalid, person_search_read, search_index_refresh
from onecase.people.models import Address, AgencyPerson, Household, Person, PersonLink
from onecase.sharing.models import Tier
from onecase.sharing.services import agreement_create
from tests.auth import sign_in
from tests.factories import AgencyFactory, UserFactory

pytestmark = pytest.mark.django_db


def record(agency, ref, given, family, *, person=None, dob=None, postcode="", nhs="", household=None):
    """One agency's record of a person, linked to ``person`` (a new one when None)."""
    person = person or Person.objects.create(household=household)
    agency_person = AgencyPerson.objects.create(agency=agency, person_ref=ref, given_name=given, family_name=family,
                                                date_of_birth=dob, postcode=postcode, nhs_number=nhs)
    PersonLink.objects.create(agency_person=agency_person, person=person, match_probability=0.99)
    return person


@pytest.fixture(params=["keys made", "keys pending"])
def indexed(request):
    """Every search test runs with the keys made by the index and with them still waiting (read at search)."""
    return request.param == "keys made"


def found(user, indexed, **terms):
    if indexed:
        search_index_refresh()
    return person_search_read(user, **terms)


@pytest.fixture
def police():
    return AgencyFactory(code="POLICE", name="Midshire Police", sector="police")


@pytest.fixture
def worker(police):
    return UserFactory(agency=police, role=Role.KEY_WORKER)


def test_a_misspelt_name_finds_the_person(police, worker, indexed):
    jonathan = record(police, "P1", "Jonathan", "Smith")
    record(police, "P2", "Mary", "Jones")
    results = found(worker, indexed, name="Jonathon Smyth")
    assert [r.person_id for r in results] == [jonathan.pk]
    assert 0.5 < results[0].score < 1
    exact = found(worker, indexed, name="Jonathan Smith")
    assert exact[0].person_id == jonathan.pk and exact[0].score == 1.0


def test_a_nickname_finds_the_formal_name(police, worker, indexed):
    robert = record(police, "P1", "Robert", "Jones")
    record(police, "P2", "Roberta", "Hughes")
    results = found(worker, indexed, name="Bob Jones")
    assert [r.person_id for r in results] == [robert.pk]
    assert "Given name: nickname or short form" in results[0].matched_on


@pytest.mark.parametrize("typed", ["Smith Jonathan", "Smith, Jonathan", "Mr Jonathan Smith"])
def test_swapped_names_and_titles_find_the_person(police, worker, indexed, typed):
    jonathan = record(police, "P1", "Jonathan", "Smith")
    record(police, "P2", "Smith", "Walker")
    results = found(worker, indexed, name=typed)
    assert results and results[0].person_id == jonathan.pk and results[0].score == 1.0


def test_family_name_alone_finds_everyone_of_that_name(police, worker, indexed):
    smiths = {record(police, f"P{n}", given, "Smith").pk for n, given in enumerate(["Ann", "Bill", "Carl"])}
    record(police, "P9", "Smith", "Jones")  # a given name Smith is not a family name Smith
    assert {r.person_id for r in found(worker, indexed, name="smith")} == smiths


def test_date_of_birth_postcode_and_nhs_number_narrow_the_search(police, worker, indexed):
    first = record(police, "P1", "John", "Smith", dob=dt.date(1980, 3, 7), postcode="ST1 4HH", nhs="4857773456")
    second = record(police, "P2", "John", "Smith", dob=dt.date(1991, 11, 2), postcode="ST6 2NJ", nhs="9434765919")
    undated = record(police, "P3", "John", "Smith")
    assert {r.person_id for r in found(worker, indexed, name="John Smith")} == {first.pk, second.pk, undated.pk}
    by_dob = found(worker, indexed, name="John Smith", date_of_birth=dt.date(1980, 3, 7))
    # A record that does not say neither matches nor rules out: found, but below the one that agrees.
    assert [r.person_id for r in by_dob] == [first.pk, undated.pk]
    assert by_dob[0].score == 1.0 > by_dob[1].score
    assert [r.person_id for r in found(worker, indexed, name="John Smith", postcode="st62nj")][0] == second.pk
    assert second.pk not in {r.person_id for r in found(worker, indexed, name="John Smith", postcode="ST1 4HH")}
    assert [r.person_id for r in found(worker, indexed, nhs_number="485 777 3456")] == [first.pk]
    assert [r.person_id for r in found(worker, indexed, date_of_birth=dt.date(1991, 11, 2))] == [second.pk]
    # Day and month swapped is the model's own level, not a miss.
    swapped = found(worker, indexed, name="John Smith", date_of_birth=dt.date(1980, 7, 3))
    assert swapped[0].person_id == first.pk and "Date of birth: day and month swapped" in swapped[0].matched_on


def test_an_agencys_reference_finds_its_record(police, worker, indexed):
    person = record(police, "MP-00123", "Jonathan", "Smith")
    record(police, "MP-00124", "Jonathan", "Smith")
    results = found(worker, indexed, reference=" mp-00123 ")
    assert [r.person_id for r in results] == [person.pk]
    assert results[0].matched_on == ["Agency reference: same"]


def test_keys_follow_changes_to_a_record(police, worker):
    person = record(police, "P1", "Jonathan", "Smith")
    assert search_index_refresh() == 1
    assert SearchPending.objects.count() == 0 and SearchKey.objects.filter(key="s:smith").exists()
    AgencyPerson.objects.filter(person_ref="P1").update(family_name="Walker")  # raw SQL-like writers too
    assert SearchPending.objects.count() == 1  # the database marks it for new keys
    # Before and after the keys are made again, the old name finds no one and the new one finds them.
    for _ in range(2):
        assert person_search_read(worker, name="Jonathan Smith") == []
        assert [r.person_id for r in person_search_read(worker, name="Jonathan Walker")] == [person.pk]
        search_index_refresh()
    assert not SearchKey.objects.filter(key="s:smith").exists()


def test_a_voluntary_partner_learns_nothing_from_police_records(client, police, indexed):
    foodbank = AgencyFactory(code="FOODBANK", name="Kilnbury Food Bank", sector="voluntary")
    volunteer = UserFactory(agency=foodbank, role=Role.VOLUNTARY_PARTNER)
    jonathan = record(police, "P1", "Jonathan", "Smith", dob=dt.date(1980, 3, 7), postcode="ST1 4HH")
    if indexed:
        search_index_refresh()
    sign_in(client, volunteer)

    def answers(name):
        page = client.get("/people/search/", {"name": name}).content.decode().replace(name, "NAME")
        page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", page)  # a new mask on every response
        api = client.get("/api/v1/people/search", {"name": name})
        return page, api.status_code, api.json()

    known, unknown = answers("Jonathan Smith"), answers("Zachary Quill")
    assert known == unknown and known[2] == [] and "No one found" in known[0]
    assert person_search_read(volunteer, date_of_birth=dt.date(1980, 3, 7)) == []
    details = [e.detail for e in AuditEvent.objects.filter(action=AuditEvent.Action.SEARCH).order_by("id")]
    assert details == [{"fields": ["name"], "results": 0, "api": False}, {"fields": ["name"], "results": 0,
                                                                          "api": True}] * 2 + [
        {"fields": ["date_of_birth"], "results": 0, "api": False}]

    # The food bank's own record of the same person is searched, and only it: not the police's date of birth.
    record(foodbank, "FB1", "Jon", "Smith", person=jonathan)
    results = found(volunteer, indexed, name="Jonathon Smith")
    assert [(r.person_id, r.name, r.date_of_birth) for r in results] == [(jonathan.pk, "Jon Smith", None)]
    assert results[0].agencies == ["Kilnbury Food Bank", "Midshire Police"]  # a signpost: its own record
    assert person_search_read(volunteer, date_of_birth=dt.date(1980, 3, 7)) == []

    # An agreement covering identity lets the food bank know the police's records.
    agreement_create(actor=None, reference="ISA-FP", title="Food bank and police", lawful_basis="public_task",
                     purposes="Finding families", purpose_codes=["finding_families"], data_categories=["identity"],
                     starts_on=dt.date(2020, 1, 1), parties={foodbank: Tier.SUMMARY, police: Tier.SUMMARY})
    by_dob = person_search_read(volunteer, date_of_birth=dt.date(1980, 3, 7))
    assert [(r.person_id, r.date_of_birth) for r in by_dob] == [(jonathan.pk, dt.date(1980, 3, 7))]


def test_each_search_is_audited_with_its_purpose_and_no_typed_values(police):
    council = AgencyFactory(code="COUNCIL", name="Kilnbury Council", sector="council")
    handler = UserFactory(agency=council, role=Role.FRONT_DOOR)
    household = Household.objects.create(address=Address.objects.create(postcode="ST1 4HH", line="1 Kiln Row"))
    jonathan = record(police, "P1", "Jonathan", "Smyth", household=household, dob=dt.date(1980, 3, 7))
    record(council, "C1", "Jon", "Smyth", person=jonathan)
    agreement = agreement_create(
        actor=None, reference="ISA-CP", title="Council and police", lawful_basis="public_task", purposes="Families",
        purpose_codes=["finding_families"], data_categories=["identity"], starts_on=dt.date(2020, 1, 1),
        parties={council: Tier.SUMMARY, police: Tier.SUMMARY})
    results = person_search_read(handler, name="Jonathon Smyth", date_of_birth=dt.date(1980, 3, 7),
                                 purpose="concern", ip="10.0.0.1")
    assert [(r.person_id, r.household_id, r.address) for r in results] == [(jonathan.pk, household.pk, "1 Kiln Row")]
    search = AuditEvent.objects.get(action=AuditEvent.Action.SEARCH)
    assert search.purpose == PURPOSES["concern"] and search.object_type == "person" and search.ip == "10.0.0.1"
    assert search.detail == {"fields": ["name", "date_of_birth"], "results": 1, "api": False}
    disclosed = AuditEvent.objects.filter(action=AuditEvent.Action.DISCLOSE)
    # The police's records named and placed the person: one disclosure, under the agreement; the council's own none.
    assert [(e.object_id, e.detail["owner_agency_id"], e.detail["agreement"]) for e in disclosed] == [
        (str(jonathan.pk), police.pk, agreement.reference)]
    rows = json.dumps([e.__dict__ for e in AuditEvent.objects.all()], default=str).lower()
    for typed in ("jonathon", "smyth", "1980", "kiln row"):
        assert typed not in rows


@pytest.mark.parametrize("terms, field, message", [
    ({}, "", NO_TERMS),
    ({"name": "  "}, "", NO_TERMS),
    ({"name": "J"}, "name", "Enter at least 2 letters of the name"),
    ({"date_of_birth": dt.date(2999, 1, 1)}, "date_of_birth", "Date of birth must be today or in the past"),
    ({"postcode": "not a postcode"}, "postcode", "Enter a full postcode, like ST1 4HH"),
    ({"nhs_number": "12345"}, "nhs_number", "Enter the NHS number as 10 digits, like 485 777 3456"),
    ({"name": "Jo Smith", "purpose": "curiosity"}, "purpose", "Select why you are searching"),
])
def test_what_cannot_be_searched_for_is_named(worker, terms, field, message):
    with pytest.raises(SearchInvalid) as raised:
        person_search_read(worker, **terms)
    assert raised.value.problems == {field: message}
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.SEARCH).exists()


@pytest.mark.parametrize("role", [Role.ANALYST, Role.AUDITOR])
def test_analysts_and_auditors_may_not_search(client, police, role):
    record(police, "P1", "Jonathan", "Smith")
    user = UserFactory(agency=police, role=role)
    with pytest.raises(PermissionDenied):
        person_search_read(user, name="Jonathan Smith")
    sign_in(client, user)
    for path in ("/people/search/", "/people/search/?name=Jonathan+Smith", "/api/v1/people/search?name=Smith",
                 "/api/v1/people/search"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "Jonathan" not in response.content.decode()
    assert "header-search-name" not in client.get("/").content.decode()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.SEARCH).exists()


def test_the_api_returns_a_ranked_list(client, police, worker):
    household = Household.objects.create(address=Address.objects.create(postcode="ST1 4HH", line="1 Kiln Row"))
    exact = record(police, "P1", "Jonathan", "Smith", household=household)
    close = record(police, "P2", "Jonathon", "Smyth")
    sign_in(client, worker)
    response = client.get("/api/v1/people/search", {"name": "Jonathan Smith", "purpose": "referral"})
    assert response.status_code == 200
    rows = response.json()
    assert [r["person_id"] for r in rows] == [exact.pk, close.pk]
    assert set(rows[0]) == {"person_id", "household_id", "name", "date_of_birth", "address", "agencies", "score",
                            "matched_on"}
    assert (rows[0]["household_id"], rows[0]["name"], rows[0]["score"]) == (household.pk, "Jonathan Smith", 1.0)
    assert rows[1]["household_id"] is None and 0 < rows[1]["score"] < 1
    assert AuditEvent.objects.get(action=AuditEvent.Action.SEARCH).detail == {
        "fields": ["name"], "results": 2, "api": True}
    assert client.get("/api/v1/people/search", {"name": "Smith", "limit": 1}).json()[0]["person_id"] == exact.pk


@pytest.mark.parametrize("query, field, words", [
    ({}, "search", NO_TERMS),
    ({"name": "", "postcode": ""}, "search", NO_TERMS),
    ({"name": "Smith", "date_of_birth": "1985-02-30"}, "date_of_birth", "YYYY-MM-DD"),
    ({"date_of_birth": "27/03/1985"}, "date_of_birth", "YYYY-MM-DD"),
    ({"date_of_birth": "2999-01-01"}, "date_of_birth", "today or in the past"),
    ({"nhs_number": "485"}, "nhs_number", "10 digits"),
    ({"name": "Smith", "purpose": "nosy"}, "purpose", ""),
])
def test_the_api_answers_400_with_a_clear_message(client, worker, query, field, words):
    sign_in(client, worker)
    response = client.get("/api/v1/people/search", query)
    assert response.status_code == 400
    body = response.json()
    assert field in body and words in body["detail"]


def test_the_search_page(client, police, worker):
    household = Household.objects.create(address=Address.objects.create(postcode="ST1 4HH", line="1 Kiln Row"))
    jonathan = record(police, "P1", "Jonathan", "Smith", household=household, dob=dt.date(1980, 3, 7))
    record(police, "P2", "Jonathan", "Smith", dob=dt.date(1991, 11, 2))
    sign_in(client, worker)
    home = client.get("/").content.decode()
    assert 'id="header-search-name"' in home and 'action="/people/search/"' in home
    empty = client.get("/people/search/")
    assert empty.status_code == 200 and "There is a problem" not in empty.content.decode()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.SEARCH).exists()

    page = client.get("/people/search/", {"name": "jonathon smyth", "dob_day": "7", "dob_month": "3",
                                          "dob_year": "1980", "purpose": "contact"}).content.decode()
    assert f'href="/people/{jonathan.pk}/"' in page and f'href="/households/{household.pk}/"' in page
    assert "1 person found" in page and "7 March 1980" in page and "Midshire Police" in page
    assert 'id="header-search-name"' not in page  # the page's own form is the search

    for query, message in [({"name": ""}, NO_TERMS), ({"name": "Smith", "dob_day": "31", "dob_month": "2",
                                                       "dob_year": "1980"}, "Date of birth must be a real date"),
                           ({"dob_day": "3", "dob_year": "1980"}, "Date of birth must include a month"),
                           ({"postcode": "nowhere"}, "Enter a full postcode, like ST1 4HH")]:
        response = client.get("/people/search/", query)
        body = response.content.decode()
        assert response.status_code == 200 and "There is a problem" in body and message in body, query
        assert "<title>Error: " in body
    assert AuditEvent.objects.filter(action=AuditEvent.Action.SEARCH).count() == 1


def test_the_database_marks_every_new_or_changed_record(police):
    AgencyPerson.objects.create(agency=police, person_ref="P1", given_name="Ann", family_name="Lee")
    pending = SearchPending.objects.count()
    AgencyPerson.objects.filter(person_ref="P1").update(sex="f")  # not part of what identifies them
    assert SearchPending.objects.count() == pending == 1
    AgencyPerson.objects.filter(person_ref="P1").update(postcode="ST1 4HH")
    assert SearchPending.objects.count() == 2


def test_a_broad_search_compares_the_records_sharing_most_keys_first(client, police, worker, monkeypatch):
    from onecase.linkage import search

    for n in range(12):
        record(police, f"S{n}", "John", f"Sa{n}ders")  # the same nickname group and initial, another name
    smith = record(police, "P1", "John", "Smith")
    search_index_refresh()
    monkeypatch.setattr(search, "CANDIDATES", 5)
    monkeypatch.setattr(search, "RESULTS", 3)
    # The exact record shares the family-name key too, so it is among the few compared, and first.
    assert [r.person_id for r in person_search_read(worker, name="John Smith", limit=3)][:1] == [smith.pk]
    assert len(person_search_read(worker, name="Jon Sanders", limit=3)) == 3
    sign_in(client, worker)
    monkeypatch.setattr("onecase.web.search_views.RESULTS", 3)
    page = client.get("/people/search/", {"name": "Jon Sanders"}).content.decode()
    assert "The 3 best matches" in page and "Add a date of birth or postcode" in page


def test_a_bulk_refresh_gives_sqlite_its_statistics(police, monkeypatch):
    from django.db import connection

    from onecase.linkage import search

    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL analyses its tables by itself")
    record(police, "P1", "Ann", "Lee")
    monkeypatch.setattr(search, "STATISTICS_AFTER", 1)
    search_index_refresh()
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT tbl FROM sqlite_stat1")
        assert {"people_personlink", "linkage_searchkey"} <= {row[0] for row in cursor.fetchall()}


def test_the_job_worker_makes_the_keys_every_minute():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(func="onecase.linkage.search.search_index_refresh")
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 1, -1)
