"""Logging one contact or concern: on a person's or household's page, and POST /api/v1/contacts.

Both go through the checks an imported file's rows get, load the contact as an import would (idempotent
on the agency and record id), place it on its person's chronology at once, and are audited by the service.
"""

import datetime as dt

import pytest
from django.utils import timezone

from onecase.accounts.models import Role, Sector
from onecase.accounts.services import token_create
from onecase.audit.models import AuditEvent
from onecase.contacts.models import Contact
from onecase.contacts.services import contact_log
from onecase.linkage import jobs
from onecase.linkage.models import DecisionPair, LinkDecision, LinkRequest
from onecase.people.models import Address, AgencyPerson, Household, Person, PersonLink
from onecase.sharing.models import Tier
from onecase.sharing.services import agreement_create
from tests.auth import sign_in
from tests.factories import AgencyFactory, UserFactory

pytestmark = pytest.mark.django_db

WORDS = "I can't afford food until my money comes in"


@pytest.fixture
def world():
    """A household of two: the food bank knows Mary, the council knows Mary and Sam; the food bank
    may identify the council's people under an agreement."""
    foodbank = AgencyFactory(code="FOODBANK", name="Hilltop Food Bank", sector=Sector.VOLUNTARY)
    council = AgencyFactory(code="COUNCIL", name="Riverside Council", sector=Sector.COUNCIL)
    household = Household.objects.create(address=Address.objects.create(postcode="ST1 4HH", line="4 Mill Lane"))
    mary, sam = Person.objects.create(household=household), Person.objects.create(household=household)
    records = {}
    for agency, ref, person, given in ((foodbank, "FB-1", mary, "Mary"), (council, "C-1", mary, "Mary"),
                                       (council, "C-2", sam, "Sam")):
        record = AgencyPerson.objects.create(agency=agency, person_ref=ref, given_name=given, family_name="Okafor",
                                             date_of_birth=dt.date(1985, 5, 1), postcode="ST1 4HH")
        PersonLink.objects.create(agency_person=record, person=person, match_probability=0.99)
        records[ref] = record
    agreement_create(actor=None, reference="ISA-1", title="Food and council", lawful_basis="public_task",
                     purposes="Finding families", purpose_codes=["finding_families"],
                     data_categories=["identity", "contacts", "needs"], starts_on=dt.date(2020, 1, 1),
                     parties={foodbank: Tier.FULL, council: Tier.FULL})
    volunteer = UserFactory(agency=foodbank, role=Role.VOLUNTARY_PARTNER)
    return {"foodbank": foodbank, "council": council, "household": household, "mary": mary, "sam": sam,
            "volunteer": volunteer, **records}


def form_data(**changes):
    now = timezone.localtime() - dt.timedelta(hours=1)
    data = {"contact_type": "concern", "day": str(now.day), "month": str(now.month), "year": str(now.year),
            "time": now.strftime("%H:%M"), "presenting_need": WORDS, "outcome": "Gave a food parcel"}
    data.update(changes)
    return data


def test_a_volunteer_logs_a_concern_about_someone_the_food_bank_knows(client, world):
    sign_in(client, world["volunteer"])
    mary = world["mary"]
    profile = client.get(f"/people/{mary.pk}/")
    assert f'href="/people/{mary.pk}/contacts/new/"' in profile.content.decode()
    page = client.get(f"/people/{mary.pk}/contacts/new/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Log a contact or concern" in body and "Mary Okafor" in body and "Concern" in body
    assert "{%" not in body and "{#" not in body

    response = client.post(f"/people/{mary.pk}/contacts/new/", form_data(), follow=True)
    assert response.redirect_chain[-1][0] == f"/people/{mary.pk}/#chronology"
    body = response.content.decode()
    assert "govuk-notification-banner--success" in body and "Contact saved" in body
    assert "I can&#x27;t afford food until my money comes in" in body  # on the chronology at once

    contact = Contact.objects.get(agency=world["foodbank"])
    assert (contact.person_id, contact.household_id) == (mary.pk, world["household"].pk)
    assert contact.agency_person_id == world["FB-1"].pk  # the food bank's own record of her
    assert contact.contact_type == "concern" and contact.staff_role == "Voluntary partner"
    assert contact.need_category is not None and contact.need_category.code == "finances"
    world["FB-1"].refresh_from_db()
    assert world["FB-1"].given_name == "Mary"  # the logged contact does not blank who the record says she is
    assert AgencyPerson.objects.filter(agency=world["foodbank"]).count() == 1


def test_someone_the_agency_holds_no_record_of_is_given_one_linked_at_once(client, world):
    sign_in(client, world["volunteer"])
    sam = world["sam"]
    response = client.post(f"/people/{sam.pk}/contacts/new/", form_data())
    assert response.status_code == 302
    record = AgencyPerson.objects.get(agency=world["foodbank"], person_ref__startswith="onecase-")
    link = PersonLink.objects.get(agency_person=record, undone_at__isnull=True)
    assert (link.person_id, link.match_probability, link.method) == (sam.pk, 1.0, PersonLink.Method.LOGGED)
    assert link.created_by == world["volunteer"]
    # Later link runs keep the new record with Sam's others; a reviewer may undo that.
    decision = LinkDecision.objects.get(agency_person=record)
    assert decision.kind == LinkDecision.Kind.CONFIRM and list(decision.created_links.all()) == [link]
    pair = DecisionPair.objects.get(decision=decision)
    assert pair.together and {pair.agency_person_a_id, pair.agency_person_b_id} == {record.pk, world["C-2"].pk}
    contact = Contact.objects.get(agency=world["foodbank"])
    assert (contact.person_id, contact.household_id) == (sam.pk, world["household"].pk)
    assert not LinkRequest.objects.exists()  # linked already: nothing for linkage to do
    assert WORDS.replace("'", "&#x27;") in client.get(f"/people/{sam.pk}/").content.decode()


def test_on_a_household_page_the_user_chooses_whom_it_is_about(client, world):
    sign_in(client, world["volunteer"])
    household = world["household"]
    page = client.get(f"/households/{household.pk}/contacts/new/").content.decode()
    assert "Who is it about?" in page and "Mary Okafor" in page and "Sam Okafor" in page
    missing = client.post(f"/households/{household.pk}/contacts/new/", form_data())
    assert "Select who it is about" in missing.content.decode() and not Contact.objects.exists()
    response = client.post(f"/households/{household.pk}/contacts/new/", form_data(person=world["sam"].pk))
    assert response.status_code == 302 and response["Location"] == f"/households/{household.pk}/#chronology"
    assert Contact.objects.get().person_id == world["sam"].pk


def test_sending_the_form_twice_saves_one_contact(client, world):
    sign_in(client, world["volunteer"])
    url = f"/people/{world['mary'].pk}/contacts/new/"
    record = client.get(url).context["form"]["record"].value()
    assert record.startswith("onecase-")
    for _ in range(2):
        assert client.post(url, form_data(record=record)).status_code == 302
    assert Contact.objects.filter(agency=world["foodbank"]).count() == 1


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"year": str(timezone.localdate().year + 1)}, "id_day", "The date and time is more than a day in the future"),
    ({"year": "1850"}, "id_day", "The date and time is before 1900"),
    ({"presenting_need": "Help\x00 please"}, "id_presenting_need",
     "What they asked for contains a control character (character code 0)"),
    ({"presenting_need": "x" * 2001}, "id_presenting_need", "What they asked for is longer than 2,000 characters"),
    ({"outcome": "y" * 201}, "id_outcome", "What happened is longer than 200 characters"),
    ({"contact_type": "made_up"}, "id_contact_type", "Select the type of contact from the list"),
    ({"day": "31", "month": "2"}, "id_day", "The date must be a real date"),
    ({"time": "25:00"}, "id_time", "Enter the time as hours and minutes"),
    ({"presenting_need": ""}, "id_presenting_need", "Enter what they asked for, in their own words"),
])
def test_errors_name_the_field_and_nothing_is_saved(client, world, changes, field, message):
    sign_in(client, world["volunteer"])
    records, events = AgencyPerson.objects.count(), AuditEvent.objects.filter(action="change").count()
    response = client.post(f"/people/{world['sam'].pk}/contacts/new/", form_data(**changes))
    assert response.status_code == 200
    body = response.content.decode()
    assert message in body and f'href="#{field}"' in body  # in the summary, linked to the field
    assert "<title>Error: " in body
    assert not Contact.objects.exists() and AgencyPerson.objects.count() == records
    assert not PersonLink.objects.filter(method=PersonLink.Method.LOGGED).exists()
    assert AuditEvent.objects.filter(action="change").count() == events


def test_the_contact_types_offered_are_the_agencys_own_and_a_concern(client, world):
    Contact.objects.create(agency=world["foodbank"], record_id="R1", agency_person=world["FB-1"],
                           contact_type="food_parcel", occurred_at=timezone.now(), imported_at=timezone.now(),
                           updated_at=timezone.now())
    Contact.objects.create(agency=world["council"], record_id="R2", agency_person=world["C-1"],
                           contact_type="rent_arrears_contact", occurred_at=timezone.now(),
                           imported_at=timezone.now(), updated_at=timezone.now())
    sign_in(client, world["volunteer"])
    form = client.get(f"/people/{world['mary'].pk}/contacts/new/").context["form"]
    assert [value for value, _ in form.fields["contact_type"].choices] == ["", "food_parcel", "concern", "other"]
    assert dict(form.fields["contact_type"].choices)["food_parcel"] == "Food parcel"


@pytest.mark.parametrize("role", [Role.ANALYST, Role.AUDITOR, Role.DPO])
def test_roles_that_log_nothing_are_refused_and_not_offered_the_link(client, world, role):
    sign_in(client, UserFactory(agency=world["foodbank"], role=role))
    mary = world["mary"]
    assert client.get(f"/people/{mary.pk}/contacts/new/").status_code == 403
    assert client.post(f"/people/{mary.pk}/contacts/new/", form_data()).status_code == 403
    if role == Role.DPO:
        assert "contacts/new/" not in client.get(f"/people/{mary.pk}/").content.decode()
    assert not Contact.objects.exists()


def test_someone_the_user_may_not_identify_answers_as_missing(client, world):
    stranger = Person.objects.create()
    hidden = AgencyPerson.objects.create(agency=AgencyFactory(code="POLICE"), person_ref="X1", given_name="Hidden")
    PersonLink.objects.create(agency_person=hidden, person=stranger, match_probability=0.99)
    sign_in(client, world["volunteer"])
    assert client.get(f"/people/{stranger.pk}/contacts/new/").status_code == 404
    assert client.post(f"/people/{stranger.pk}/contacts/new/", form_data()).status_code == 404
    assert client.get("/people/999999/contacts/new/").status_code == 404
    assert not Contact.objects.exists()


def test_the_service_writes_the_audit_row_without_personal_data(world):
    volunteer = world["volunteer"]
    logged = contact_log(actor=volunteer, person=world["mary"], via="web", record={
        "record_id": "onecase-" + "a" * 32, "occurred_at": "2025-03-01T10:00", "contact_type": "concern",
        "presenting_need": WORDS})
    event = AuditEvent.objects.get(action=AuditEvent.Action.CHANGE, object_type="contact")
    assert (event.user, event.object_id) == (volunteer, str(logged.contact.pk))
    assert event.detail["logged"] == "web" and event.detail["created"] is True and event.detail["linking"] == "now"
    assert WORDS not in str(event.detail) and "Mary" not in str(event.detail)


# --- the API ------------------------------------------------------------------------------------


def api_post(client, secret, body):
    return client.post("/api/v1/contacts", body, content_type="application/json",
                       HTTP_AUTHORIZATION=f"Token {secret}")


def token_for(user):
    return token_create(actor=None, user=user, name="case system")[1]


def api_body(**changes):
    body = {"record_id": "FB-2025-0001", "person_ref": "FB-1", "occurred_at": "2025-03-01T10:00",
            "contact_type": "parcel", "given_name": "Mary", "family_name": "Okafor", "date_of_birth": "1985-05-01",
            "postcode": "ST1 4HH", "presenting_need": WORDS}
    body.update(changes)
    return body


@pytest.fixture
def system(world):
    return token_for(UserFactory(agency=world["foodbank"], role=Role.AGENCY_ADMIN))


def test_api_creates_a_contact_that_follows_its_linked_person_and_is_idempotent(client, world, system):
    first = api_post(client, system, api_body())
    assert first.status_code == 201
    contact = Contact.objects.get(pk=first.json()["id"])
    assert first.json() == {"id": contact.pk, "record_id": "FB-2025-0001", "status": "created", "linking": "now"}
    assert (contact.agency, contact.person_id, contact.household_id) == (world["foodbank"], world["mary"].pk,
                                                                         world["household"].pk)
    again = api_post(client, system, api_body())
    assert again.status_code == 200 and again.json()["id"] == contact.pk and again.json()["status"] == "unchanged"
    changed = api_post(client, system, api_body(outcome="Referred to money advice"))
    assert changed.status_code == 200 and changed.json()["status"] == "updated"
    assert Contact.objects.filter(agency=world["foodbank"]).count() == 1
    contact.refresh_from_db()
    assert contact.outcome == "Referred to money advice"
    events = AuditEvent.objects.filter(action=AuditEvent.Action.CHANGE, object_type="contact", object_id=contact.pk)
    assert [e.detail["logged"] for e in events] == ["api"] * 3


def test_api_queues_a_link_for_a_person_not_linked_yet(client, world, system, monkeypatch,
                                                        django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr(jobs, "async_task", lambda func, *args, **kwargs: queued.append(func))
    with django_capture_on_commit_callbacks(execute=True):
        response = api_post(client, system, api_body(person_ref="FB-NEW"))
    assert response.status_code == 201 and response.json()["linking"] == "queued"
    request = LinkRequest.objects.get(status=LinkRequest.Status.WAITING)
    assert request.reason == "a contact sent by an agency's system" and queued == [jobs.TASK]
    event = AuditEvent.objects.get(object_type="contact", object_id=response.json()["id"])
    assert event.detail["link_request"] == request.pk
    contact = Contact.objects.get(pk=response.json()["id"])
    assert contact.person_id is None
    assert AgencyPerson.objects.get(agency=world["foodbank"], person_ref="FB-NEW").given_name == "Mary"


def test_api_takes_the_agency_from_the_token_never_the_body(client, world, system):
    refused = api_post(client, system, api_body(agency="COUNCIL"))
    assert refused.status_code == 400 and "agency" in refused.json()
    assert not Contact.objects.exists()
    own = api_post(client, system, api_body(agency="foodbank"))
    assert own.status_code == 201
    assert Contact.objects.get().agency == world["foodbank"]


@pytest.mark.parametrize(("changes", "field", "reason"), [
    ({"occurred_at": (timezone.now() + dt.timedelta(days=3)).isoformat()}, "occurred_at",
     "is more than a day in the future"),
    ({"record_id": ""}, "record_id", "is empty"),
    ({"presenting_need": "a\x00b"}, "presenting_need", "contains a control character (character code 0)"),
    ({"presenting_need": "x" * 2001}, "presenting_need", "is longer than 2,000 characters"),
    ({"nhs_number": "123"}, "nhs_number", "must be 10 digits"),
    ({"date_of_birth": "01/05/1985"}, "date_of_birth", "must be a date written YYYY-MM-DD"),
    ({"favourite_colour": "blue"}, "favourite_colour", "is not a field of the contact format"),
    ({"contact_type": ["parcel"]}, "contact_type", "must be text"),
])
def test_api_errors_name_the_field(client, world, system, changes, field, reason):
    response = api_post(client, system, api_body(**changes))
    assert response.status_code == 400
    assert response.json()[field] == [reason] and f"{field}: {reason}" in response.json()["detail"]
    assert not Contact.objects.exists() and not AgencyPerson.objects.filter(person_ref="FB-2025-0001").exists()


@pytest.mark.parametrize("role", [Role.ANALYST, Role.AUDITOR])
def test_api_refuses_roles_that_see_no_people(client, world, role):
    response = api_post(client, token_for(UserFactory(agency=world["foodbank"], role=role)), api_body())
    assert response.status_code == 403
    assert not Contact.objects.exists()


def test_api_needs_a_token(client, world):
    assert client.post("/api/v1/contacts", api_body(), content_type="application/json").status_code in (401, 403)
    assert not Contact.objects.exists()
