"""What identifies a person to a viewer: names, addresses and agency involvement come only from
records the viewer's agency holds, or from agencies sharing identity with it at summary or above.

A person or household the viewer may not identify answers exactly as one that does not exist.
"""

import datetime as dt
import re
from datetime import UTC, datetime

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onecase.accounts.models import Agency, Role, User
from onecase.accounts.rules import NO_PERSON_ACCESS
from onecase.audit.models import AuditEvent
from onecase.cases.models import Case
from onecase.cases.services import case_open
from onecase.contacts.models import Contact
from onecase.people.models import Address, AgencyPerson, Household, Person, PersonLink
from onecase.sharing.models import Tier
from onecase.sharing.services import agreement_create
from tests.auth import sign_in
from tests.factories import AgencyFactory, UserFactory
from tests.test_permission_matrix import LIST_URLS, SUBJECT_FORMS, TIERED_URLS

PURPOSES = ["finding_families", "key_work"]  # the everyday purpose, and key work on cases

pytestmark = pytest.mark.django_db

CODES = ["AAA", "BBB", "CCC", "DDD"]
AGENCY_NAMES = {"AAA": "Agency Ashford", "BBB": "Agency Brinton", "CCC": "Agency Carrow", "DDD": "Agency Dunmore"}
HISTORY_HEADING = "Who has looked at this record"
PEOPLE = 4  # people 0 and 1 live in household 0, people 2 and 3 in household 1
NOW = datetime(2025, 6, 1, tzinfo=UTC)


def family(code: str, person: int) -> str:
    """A family name only agency ``code`` holds for ``person``: finding it on a page discloses that record."""
    return f"Qx{code}{person}zed"


def street(person: int) -> str:
    return f"{person // 2 + 1} Identity Row"


records = st.lists(st.tuples(st.sampled_from(CODES), st.integers(0, PEOPLE - 1)), min_size=1, max_size=10,
                   unique=True)
agreements = st.lists(
    st.tuples(st.sampled_from(CODES), st.sampled_from(CODES), st.integers(1, 3), st.booleans()), max_size=3
)
viewers = st.lists(st.tuples(st.sampled_from(CODES), st.sampled_from(Role.values)), min_size=1, max_size=3)


def build(records, agreements):
    agencies = {code: Agency.objects.create(code=code, name=AGENCY_NAMES[code]) for code in CODES}
    households = [Household.objects.create(address=Address.objects.create(postcode=f"ZZ{h} 1ZZ", line=street(2 * h)))
                  for h in range(PEOPLE // 2)]
    people = [Person.objects.create(household=households[p // 2]) for p in range(PEOPLE)]
    for n, (code, p) in enumerate(records):
        record = AgencyPerson.objects.create(agency=agencies[code], person_ref=f"{code}-{p}", given_name="Sam",
                                             family_name=family(code, p))
        PersonLink.objects.create(agency_person=record, person=people[p], match_probability=0.99)
        Contact.objects.create(agency=agencies[code], record_id=f"R{n}", agency_person=record, contact_type="call",
                               person=people[p], household=people[p].household, occurred_at=NOW, imported_at=NOW,
                               updated_at=NOW)
    shares = []
    for n, (first, second, tier, identity) in enumerate(agreements):
        if first == second:
            continue
        agreement_create(actor=None, reference=f"ISA-{n}", title="t", lawful_basis="public_task", purposes="p", purpose_codes=PURPOSES,
                         data_categories=["identity", "contacts", "needs"] if identity else ["contacts"],
                         starts_on=dt.date(2020, 1, 1), parties={agencies[first]: tier, agencies[second]: tier})
        shares.append((first, second, tier, identity))
    return agencies, households, people, shares


def identifies(viewer_code, role, owner_code, shares) -> bool:
    """The rule, written out independently: may a record of ``owner_code`` identify someone to this viewer?"""
    if role in NO_PERSON_ACCESS:
        return False
    if role == Role.PARTNERSHIP_ADMIN or owner_code == viewer_code:
        return True
    return any({first, second} == {viewer_code, owner_code} and identity and tier >= Tier.SUMMARY
               for first, second, tier, identity in shares)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=records, agreements=agreements, viewers=viewers)
def test_nothing_identifies_a_person_unless_the_rule_allows_it(records, agreements, viewers):
    with transaction.atomic():
        check(records, agreements, viewers)
        transaction.set_rollback(True)


def check(records, agreements, viewers):
    agencies, households, people, shares = build(records, agreements)
    held = {}  # person index -> agencies holding a record of them
    for code, p in records:
        held.setdefault(p, set()).add(code)
    for n, (code, role) in enumerate(viewers):
        user = User.objects.create(username=f"viewer{n}", agency=agencies[code], role=role)
        client = sign_in(Client(), user)
        allowed_names = {family(c, p) for c, p in records if identifies(code, role, c, shares)}
        forbidden_names = {family(c, p) for c, p in records} - allowed_names
        known = {p for p in range(PEOPLE) if any(identifies(code, role, c, shares) for c in held.get(p, ()))}
        if role == Role.PARTNERSHIP_ADMIN:
            known = set(range(PEOPLE))  # the partnership sees every person and household there is
        pages = {}
        for p in range(PEOPLE):
            subject = {"person": people[p], "household": households[p // 2]}
            for name, url in {**TIERED_URLS, **SUBJECT_FORMS}.items():
                pages[(name, p)] = client.get(url(subject))
        for name, path in LIST_URLS.items():
            pages[(name, None)] = client.get(path)
        for (name, p), response in pages.items():
            body = response.content.decode(errors="replace")
            leaked = {f for f in forbidden_names if f in body}
            assert not leaked, (name, p, role, code, leaked)
            if p is None:
                continue
            household_known = bool(known & {2 * (p // 2), 2 * (p // 2) + 1})
            if role in NO_PERSON_ACCESS:
                assert response.status_code == 403, (name, p)
                continue
            if name == "web:person":
                assert response.status_code == (200 if p in known else 404), (name, p, role, code)
            elif name == "web:household" or response.status_code != 403:
                assert response.status_code == (200 if household_known else 404), (name, p, role, code)
            if response.status_code != 200:
                continue
            if not household_known:
                assert street(p) not in body, (name, p)
            if name == "web:person":
                # "Who has looked at this record" names whoever looked, not who holds records: a data
                # protection officer sees their own staff's looks and each disclosure of their own
                # agency's records, whoever it went to; the rest of the page follows the identity rule.
                body, _, history = body.partition(HISTORY_HEADING)
                if history and role not in (Role.PARTNERSHIP_ADMIN, Role.AUDITOR):
                    accessors = {code} | set(AuditEvent.objects.filter(
                        object_type="person", object_id=str(people[p].pk), action=AuditEvent.Action.DISCLOSE,
                        detail__owner_agency_id=agencies[code].pk).values_list("agency_code", flat=True))
                    for other in set(CODES) - accessors:
                        assert AGENCY_NAMES[other] not in history, (p, other, role, code)
                # Another agency's involvement: at its tier if it identifies them, else a signpost only
                # about a person the viewer's own agency holds a record of.
                for other in set(CODES) - {code}:
                    may_name = other in held.get(p, ()) and (
                        identifies(code, role, other, shares) or code in held.get(p, ())
                        or role == Role.PARTNERSHIP_ADMIN
                    )
                    if not may_name:
                        assert AGENCY_NAMES[other] not in body, (p, other, role, code)


def without_csrf(body: str) -> str:
    """The page without its CSRF token, which is masked afresh on every response."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", body)


@pytest.fixture
def town():
    police = AgencyFactory(code="POLICE", name="Kiln Police")
    housing = AgencyFactory(code="HOUSING", name="Kiln Housing")
    foodbank = AgencyFactory(code="FOODBANK", name="Kiln Food Bank", sector="voluntary")
    made = {"police": police, "housing": housing, "foodbank": foodbank, "households": [], "people": []}
    for n in range(30):
        household = Household.objects.create(address=Address.objects.create(postcode="KL1 1AA",
                                                                            line=f"{n + 1} Copper Street"))
        person = Person.objects.create(household=household)
        record = AgencyPerson.objects.create(agency=police, person_ref=f"P{n}", given_name="Kim",
                                             family_name=f"Wrightpolice{n}")
        PersonLink.objects.create(agency_person=record, person=person, match_probability=0.99)
        Contact.objects.create(agency=police, record_id=f"C{n}", agency_person=record, contact_type="incident",
                               person=person, household=household, occurred_at=NOW, imported_at=NOW, updated_at=NOW)
        made["households"].append(household)
        made["people"].append(person)
    # The food bank knows the first person, by a spelling of its own; the police know her too.
    own = AgencyPerson.objects.create(agency=foodbank, person_ref="F0", given_name="Kimberley",
                                      family_name="Wrightfoodbank")
    PersonLink.objects.create(agency_person=own, person=made["people"][0], match_probability=0.95)
    # A second person in her household, known only to the police.
    lodger = Person.objects.create(household=made["households"][0])
    record = AgencyPerson.objects.create(agency=police, person_ref="LODGER", given_name="Lee",
                                         family_name="Lodgerpolice")
    PersonLink.objects.create(agency_person=record, person=lodger, match_probability=0.99)
    made["lodger"] = lodger
    made["volunteer"] = UserFactory(agency=foodbank, role=Role.VOLUNTARY_PARTNER)
    made["officer"] = UserFactory(agency=police, role=Role.PRACTITIONER, username="pc-harding")
    made["housing_worker"] = UserFactory(agency=housing, role=Role.KEY_WORKER, username="kw-housing")
    return made


def test_enumerating_households_answers_404_for_each_and_costs_the_same_as_a_missing_id(client, town):
    sign_in(client, town["volunteer"])
    unknown = [h.pk for h in town["households"][1:]]
    missing = max(h.pk for h in Household.objects.all()) + 1000
    bodies = set()
    for pk in unknown:
        response = client.get(f"/households/{pk}/")
        assert response.status_code == 404, pk
        body = response.content.decode()
        assert "Copper Street" not in body and "Wright" not in body and "Kiln Police" not in body
        bodies.add(without_csrf(body))
        assert client.get(f"/people/{Person.objects.get(household_id=pk).pk}/").status_code == 404
    missing_response = client.get(f"/households/{missing}/")
    assert missing_response.status_code == 404
    assert bodies == {without_csrf(missing_response.content.decode())}  # word for word a missing id's page
    # The same work for a household that exists as for one that does not.
    with CaptureQueriesContext(connection) as existing_queries:
        client.get(f"/households/{unknown[0]}/")
    with CaptureQueriesContext(connection) as missing_queries:
        client.get(f"/households/{missing}/")
    assert len(existing_queries) == len(missing_queries)
    # The household the food bank knows: its own person, by its own spelling, and the police as a signpost.
    known = client.get(f"/households/{town['households'][0].pk}/").content.decode()
    assert "1 Copper Street" in known and "Kimberley Wrightfoodbank" in known
    assert "Wrightpolice" not in known and "Lodgerpolice" not in known
    assert "Kiln Police" in known  # a signpost: the police are involved with someone the food bank holds
    person = client.get(f"/people/{town['people'][0].pk}/").content.decode()
    assert "Kimberley Wrightfoodbank" in person and "Wrightpolice" not in person and "Kiln Police" in person
    assert client.get(f"/people/{town['lodger'].pk}/").status_code == 404


def test_rankings_and_the_api_name_people_only_from_records_that_identify_them(client, town):
    sign_in(client, town["volunteer"])
    for by in ("person", "household", "address"):
        body = client.get(f"/api/v1/demand?by={by}&top=100").content.decode()
        assert "Wrightpolice" not in body and "Lodgerpolice" not in body
        assert "2 Copper Street" not in body
    assert "Wrightpolice" not in client.get("/demand.csv?by=person").content.decode()
    # With an agreement that shares identity at summary tier, the police's records identify them too.
    agreement_create(actor=None, reference="ISA-PF", title="t", lawful_basis="public_task", purposes="p", purpose_codes=PURPOSES,
                     data_categories=["identity", "contacts", "needs"], starts_on=dt.date(2020, 1, 1),
                     parties={town["police"]: Tier.SUMMARY, town["foodbank"]: Tier.SUMMARY})
    body = client.get("/api/v1/demand?by=person&top=100").content.decode()
    assert "Wrightpolice7" in body
    assert client.get(f"/households/{town['households'][5].pk}/").status_code == 200
    # A signpost-only agreement, or one that does not cover identity, identifies nobody.
    for reference, tier, categories in (("ISA-S", Tier.SIGNPOST, ["identity"]), ("ISA-C", Tier.FULL, ["contacts"])):
        housing = AgencyFactory(code=f"H{reference[-1]}", name=f"Housing {reference}")
        record = AgencyPerson.objects.create(agency=housing, person_ref="X", family_name=f"Housed{reference[-1]}")
        PersonLink.objects.create(agency_person=record, person=town["lodger"], match_probability=0.9)
        agreement_create(actor=None, reference=reference, title="t", lawful_basis="public_task", purposes="p", purpose_codes=PURPOSES,
                         data_categories=categories, starts_on=dt.date(2020, 1, 1),
                         parties={housing: tier, town["foodbank"]: tier})
    lodger_page = client.get(f"/people/{town['lodger'].pk}/")  # known now only through the police agreement
    assert lodger_page.status_code == 200
    assert "HousedS" not in lodger_page.content.decode() and "HousedC" not in lodger_page.content.decode()


def test_a_case_needs_a_reason_to_hold_it(client, town):
    unknown = town["households"][3]
    sign_in(client, town["volunteer"])
    response = client.post("/api/v1/cases", {"subject": {"household_id": unknown.pk},
                                             "key_worker": town["volunteer"].username},
                           content_type="application/json")
    assert response.status_code == 404
    missing = client.post("/api/v1/cases", {"subject": {"household_id": unknown.pk + 10_000},
                                            "key_worker": town["volunteer"].username},
                          content_type="application/json")
    assert missing.status_code == 404 and missing.json() == response.json()
    assert not Case.objects.exists()
    with pytest.raises(PermissionDenied):
        case_open(actor=town["volunteer"], key_worker=town["volunteer"], household=unknown)
    assert client.get(f"/cases/open/?household={unknown.pk}").status_code == 404
    # A household the food bank holds a record in: it may open a case there.
    own = client.post("/api/v1/cases", {"subject": {"household_id": town["households"][0].pk},
                                        "key_worker": town["volunteer"].username},
                      content_type="application/json")
    assert own.status_code == 201
    # The partnership administrator may open a case anywhere.
    admin = UserFactory(agency=AgencyFactory(code="PARTNERSHIP"), role=Role.PARTNERSHIP_ADMIN)
    assert case_open(actor=admin, key_worker=town["officer"], household=unknown).pk


def test_a_conflict_names_a_case_and_its_key_worker_only_to_someone_who_may_see_it(client, town):
    household = town["households"][0]
    police_case = case_open(actor=None, key_worker=town["officer"], household=household)
    sign_in(client, town["volunteer"])
    response = client.post("/api/v1/cases", {"subject": {"household_id": household.pk},
                                             "key_worker": town["volunteer"].username},
                           content_type="application/json")
    assert response.status_code == 409
    body = response.content.decode()
    assert police_case.reference not in body and "pc-harding" not in body and response.json()["existing_case"] is None
    page = client.post(f"/cases/open/?household={household.pk}",
                       {"household": household.pk, "key_worker": town["volunteer"].pk, "summary": "x"})
    text = page.content.decode()
    assert police_case.reference not in text and "pc-harding" not in text and "cannot see" in text
    # Someone who may see the case is told which it is and who holds it.
    officer = sign_in(Client(), town["officer"])
    again = officer.post("/api/v1/cases", {"subject": {"household_id": household.pk},
                                           "key_worker": town["officer"].username},
                         content_type="application/json")
    assert again.status_code == 409
    assert police_case.reference in again.json()["detail"] and again.json()["existing_case"] == police_case.pk
