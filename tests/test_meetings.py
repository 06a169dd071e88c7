"""Multi-agency meetings: permissions, agenda proposals, decisions written to cases, restricted
minutes, costs pinned to the pound, overlaps (on the demo partnership) and the audit trail."""

import datetime as dt
import io
import json
import re
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.utils import timezone

from onecase.accounts.models import Agency, Role
from onecase.cases.models import Action, CaseEvent
from onecase.cases.services import case_open
from onecase.contacts.demand import demand_ranking
from onecase.contacts.models import Contact, NeedCategory
from onecase.contacts.services import resolution_refresh
from onecase.demo.generator import DEFAULT_END_DATE
from onecase.imports.services import import_contacts
from onecase.meetings.models import AgendaItem, AttendeeRole, Decision, Meeting, MeetingType, Minutes
from onecase.meetings.rules import may_read_minutes
from onecase.meetings.selectors import meeting_costs, meetings_visible_to, overlaps, series_visible_to
from onecase.meetings.services import (
    agenda_item_add,
    agenda_propose,
    attendee_add,
    attendee_role_set,
    decision_record,
    meeting_create,
    meeting_source,
    minutes_write,
    research_note_add,
    series_create,
)
from onecase.people.models import Address, AgencyPerson, Household, Person, PersonLink
from onecase.sharing.models import AuditEvent, Tier
from onecase.sharing.services import agreement_create
from tests.auth import sign_in
from tests.factories import AgencyFactory, UserFactory

pytestmark = pytest.mark.django_db

SECRET_MINUTES = "Minutes text only the recipients may read"
THREE_SERIES = ("Kilnbury MARAC", "Kilnbury complex case panel", "Kilnbury team around the family")


def plant_series_of(agency, *, person, reason: str, member=None):
    """Two series chaired by ``agency`` that both discuss ``person``: an overlap only its members see."""
    made = {}
    for kind, name in ((MeetingType.MARAC, f"{agency.code} MARAC"), (MeetingType.TEAM_AROUND_FAMILY,
                                                                       f"{agency.code} team around the family")):
        series = series_create(actor=None, kind=kind, name=name, chair_agency=agency,
                               members=[member] if member else [])
        meeting = meeting_create(actor=None, series=series, held_on=timezone.localdate() - dt.timedelta(days=7),
                                 status=Meeting.Status.HELD)
        agenda_item_add(actor=None, meeting=meeting, person=person, reason=reason)
        made[kind] = meeting
    return made


@pytest.fixture
def world():
    police = AgencyFactory(code="POLICE", name="Midshire Police")
    csc = AgencyFactory(code="CSC", name="Children's Social Care")
    housing = AgencyFactory(code="HOUSING", name="Housing Services")
    foodbank = AgencyFactory(code="FOODBANK", name="Food Bank")
    partnership = AgencyFactory(code="PARTNERSHIP", name="Partnership team")
    users = {
        "chair_admin": UserFactory(agency=police, role=Role.AGENCY_ADMIN),
        "police_worker": UserFactory(agency=police, role=Role.PRACTITIONER),
        "csc_worker": UserFactory(agency=csc, role=Role.KEY_WORKER, first_name="Kim", last_name="Reed"),
        "housing_worker": UserFactory(agency=housing, role=Role.PRACTITIONER),
        "foodbank_worker": UserFactory(agency=foodbank, role=Role.PRACTITIONER),
        "analyst": UserFactory(agency=partnership, role=Role.ANALYST),
        "auditor": UserFactory(agency=partnership, role=Role.AUDITOR),
        "partnership": UserFactory(agency=partnership, role=Role.PARTNERSHIP_ADMIN),
    }
    household = Household.objects.create(address=Address.objects.create(postcode="ST1 1AA", line="1 Kiln Row"))
    person = Person.objects.create(household=household)
    other = Person.objects.create()
    record = AgencyPerson.objects.create(agency=police, person_ref="P1", given_name="Dana", family_name="Quorn")
    PersonLink.objects.create(agency_person=record, person=other, match_probability=0.99)
    marac = series_create(actor=users["partnership"], kind=MeetingType.MARAC, name="Midshire MARAC",
                          chair_agency=police, members=[csc, housing])
    roles = {
        "chair": attendee_role_set(actor=None, code="chair", name="Chair", hourly_rate_gbp="58.00"),
        "police": attendee_role_set(actor=None, code="police", name="Police officer", hourly_rate_gbp="42.00"),
        "idva": attendee_role_set(actor=None, code="idva", name="IDVA", hourly_rate_gbp="28.00"),
        "social_worker": attendee_role_set(actor=None, code="sw", name="Social worker", hourly_rate_gbp="39.00"),
    }
    return {"police": police, "csc": csc, "housing": housing, "foodbank": foodbank, "users": users,
            "household": household, "person": person, "other": other, "marac": marac, "roles": roles}


# --- permissions and services --------------------------------------------------------------


def test_only_the_partnership_sets_up_series_and_only_the_chair_runs_them(world):
    users = world["users"]
    with pytest.raises(PermissionDenied):
        series_create(actor=users["chair_admin"], kind=MeetingType.MARAC, name="Another", chair_agency=world["police"])
    with pytest.raises(ValidationError):
        series_create(actor=None, kind="coffee_morning", name="Coffee", chair_agency=world["police"])
    meeting = meeting_create(actor=users["police_worker"], series=world["marac"], held_on=dt.date(2026, 10, 1))
    for outsider in ("csc_worker", "foodbank_worker", "analyst"):
        with pytest.raises(PermissionDenied):
            meeting_create(actor=users[outsider], series=world["marac"], held_on=dt.date(2026, 10, 8))
        with pytest.raises(PermissionDenied):
            attendee_add(actor=users[outsider], meeting=meeting, name="X", agency=world["police"],
                         role=world["roles"]["chair"], hours="1")
        with pytest.raises(PermissionDenied):
            agenda_item_add(actor=users[outsider], meeting=meeting, household=world["household"], reason="Why")


def test_agenda_items_name_one_subject_once_and_link_the_live_case(world):
    users = world["users"]
    case = case_open(actor=None, key_worker=users["csc_worker"], household=world["household"])
    meeting = meeting_create(actor=None, series=world["marac"], held_on=dt.date(2026, 10, 1))
    item = agenda_item_add(actor=users["chair_admin"], meeting=meeting, household=world["household"], reason="Risk")
    assert item.case == case and not item.proposed_automatically
    with pytest.raises(ValidationError):
        agenda_item_add(actor=users["chair_admin"], meeting=meeting, household=world["household"], reason="Again")
    with pytest.raises(ValidationError):
        agenda_item_add(actor=users["chair_admin"], meeting=meeting, household=world["household"],
                        person=world["person"], reason="Both")
    with pytest.raises(ValidationError):
        agenda_item_add(actor=users["chair_admin"], meeting=meeting, person=world["person"], case=case, reason="x")


def test_member_agencies_add_research_for_their_own_agency(world):
    users = world["users"]
    meeting = meeting_create(actor=None, series=world["marac"], held_on=dt.date(2026, 10, 1))
    item = agenda_item_add(actor=None, meeting=meeting, household=world["household"], reason="Risk")
    note = research_note_add(actor=users["csc_worker"], item=item, text="Known to us since 2024.")
    assert note.agency == world["csc"] and note.author == users["csc_worker"]
    for outsider in ("foodbank_worker", "analyst", "auditor"):
        with pytest.raises(PermissionDenied):
            research_note_add(actor=users[outsider], item=item, text="Nothing")


def test_decisions_write_actions_to_the_case_naming_the_meeting(world):
    users = world["users"]
    case = case_open(actor=None, key_worker=users["csc_worker"], household=world["household"])
    meeting = meeting_create(actor=None, series=world["marac"], held_on=dt.date(2026, 10, 1))
    item = agenda_item_add(actor=None, meeting=meeting, household=world["household"], reason="Risk")
    due = dt.date(2026, 10, 15)
    # The chair's agency is not on the case: the case's rules refuse the action, and nothing is kept.
    with pytest.raises(PermissionDenied):
        decision_record(actor=users["chair_admin"], item=item, text="Safety plan",
                        actions=[{"title": "Safety plan review", "owner": users["csc_worker"], "due_on": due}])
    assert Decision.objects.count() == 0 and Action.objects.count() == 0
    decision = decision_record(actor=users["partnership"], item=item, text="Safety plan agreed",
                               actions=[{"title": "Safety plan review", "owner": users["csc_worker"], "due_on": due}])
    (action,) = decision.actions.all()
    assert action.case == case and action.owner == users["csc_worker"] and action.due_on == due
    assert action.source == meeting_source(meeting) == "Midshire MARAC, 1 October 2026"
    assert CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.ACTION, summary__contains="Midshire MARAC").exists()
    # An owner who is not on the case is refused by action_add.
    with pytest.raises(ValidationError):
        decision_record(actor=None, item=item, text="More", actions=[
            {"title": "Visit", "owner": users["foodbank_worker"], "due_on": due}])
    # No case, no actions (a decision alone is fine).
    other = agenda_item_add(actor=None, meeting=meeting, person=world["other"], reason="Risk")
    with pytest.raises(ValidationError):
        decision_record(actor=None, item=other, text="x", actions=[
            {"title": "Visit", "owner": users["csc_worker"], "due_on": due}])
    assert decision_record(actor=None, item=other, text="Refer to the IDVA service").actions.count() == 0


def test_minutes_are_read_by_named_recipients_and_administrators_only(world, client):
    users = world["users"]
    meeting = meeting_create(actor=None, series=world["marac"], held_on=dt.date(2026, 10, 1))
    with pytest.raises(PermissionDenied):
        minutes_write(actor=users["police_worker"], meeting=meeting, text="x", recipients=[users["csc_worker"]])
    with pytest.raises(ValidationError):  # only member agencies' staff receive them
        minutes_write(actor=users["chair_admin"], meeting=meeting, text="x", recipients=[users["foodbank_worker"]])
    minutes = minutes_write(actor=users["chair_admin"], meeting=meeting, text=SECRET_MINUTES,
                            recipients=[users["csc_worker"]])
    readers = {name for name, user in users.items() if may_read_minutes(user, minutes)}
    assert readers == {"chair_admin", "csc_worker", "partnership"}

    url = f"/meetings/{meeting.pk}/minutes/"
    for name in ("housing_worker", "police_worker"):  # members of the series, but not recipients
        sign_in(client, users[name])
        refused = AuditEvent.objects.filter(action=AuditEvent.Action.REFUSED).count()
        response = client.get(url)
        assert response.status_code == 403, name
        assert SECRET_MINUTES not in response.content.decode()
        assert AuditEvent.objects.filter(action=AuditEvent.Action.REFUSED).count() == refused + 1
        detail = client.get(f"/meetings/{meeting.pk}/").content.decode()
        assert SECRET_MINUTES not in detail and "named recipients only" in detail
    sign_in(client, users["csc_worker"])
    response = client.get(url)
    assert response.status_code == 200 and SECRET_MINUTES in response.content.decode()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.VIEW, object_type="minutes",
                                     object_id=str(minutes.pk), user=users["csc_worker"]).count() == 1


# --- costs ---------------------------------------------------------------------------------


def test_meeting_cost_is_attendees_times_hours_times_rate_to_the_pound(world, client):
    roles, police, csc = world["roles"], world["police"], world["csc"]
    first = meeting_create(actor=None, series=world["marac"], held_on=dt.date(2026, 9, 1), status="held")
    attendee_add(actor=None, meeting=first, name="Chair", agency=police, role=roles["chair"], hours="3.5")  # 203.00
    attendee_add(actor=None, meeting=first, name="PC", agency=police, role=roles["police"], hours="2.5")  # 105.00
    attendee_add(actor=None, meeting=first, name="IDVA", agency=csc, role=roles["idva"], hours="3")  # 84.00
    agenda_item_add(actor=None, meeting=first, household=world["household"], reason="Risk")
    agenda_item_add(actor=None, meeting=first, person=world["other"], reason="Risk")
    second = meeting_create(actor=None, series=world["marac"], held_on=dt.date(2026, 9, 29), status="held")
    attendee_add(actor=None, meeting=second, name="Chair", agency=police, role=roles["chair"], hours="2")  # 116.00
    attendee_add(actor=None, meeting=second, name="PC", agency=police, role=roles["police"], hours="1.25")  # 52.50
    agenda_item_add(actor=None, meeting=second, household=world["household"], reason="Repeat")
    taf = series_create(actor=None, kind=MeetingType.TEAM_AROUND_FAMILY, name="Midshire TAF", chair_agency=csc)
    third = meeting_create(actor=None, series=taf, held_on=dt.date(2026, 9, 15), status="held")
    attendee_add(actor=None, meeting=third, name="SW", agency=csc, role=roles["social_worker"], hours="1.5")  # 58.50
    agenda_item_add(actor=None, meeting=third, household=world["household"], reason="School")
    cancelled = meeting_create(actor=None, series=taf, held_on=dt.date(2026, 9, 22), status="cancelled")
    attendee_add(actor=None, meeting=cancelled, name="SW", agency=csc, role=roles["social_worker"], hours="2")

    report = meeting_costs(None, since=dt.date(2026, 9, 1), until=dt.date(2026, 9, 30))
    assert {r.meeting.pk: r.cost for r in report.meetings} == {
        first.pk: Decimal("392.00"), second.pk: Decimal("168.50"), third.pk: Decimal("58.50")}
    assert {r.series.name: r.cost for r in report.series} == {"Midshire MARAC": Decimal("560.50"),
                                                              "Midshire TAF": Decimal("58.50")}
    # Per case: each meeting's cost shared between its agenda items.
    subjects = {(s.kind, s.subject_id): s.cost for s in report.subjects}
    assert subjects == {("household", world["household"].pk): Decimal("423.00"),  # 196 + 168.50 + 58.50
                        ("person", world["other"].pk): Decimal("196.00")}
    assert report.total == Decimal("619.00") and round(report.total) == 619

    # The rate table is editable: a new chair's rate changes the cost.
    AttendeeRole.objects.filter(code="chair").update(hourly_rate_gbp=Decimal("60.00"))
    assert meeting_costs(None, since=dt.date(2026, 9, 1)).total == Decimal("630.00")

    sign_in(client, world["users"]["partnership"])
    page = client.get("/meetings/costs/?since=2026-09-01&until=2026-09-30").content.decode()
    assert "£630.00" in page and "Midshire TAF" in page and "1 Kiln Row" in page and "<svg" in page
    csv_text = client.get("/meetings/costs.csv?since=2026-09-01&until=2026-09-30").content.decode()
    assert "total,,,,,,3,,,630.00" in csv_text
    # Analysts and auditors see totals and series, never who was discussed.
    for name in ("analyst", "auditor"):
        sign_in(client, world["users"][name])
        page = client.get("/meetings/costs/?since=2026-09-01&until=2026-09-30").content.decode()
        assert "£630.00" in page and "Midshire TAF" in page
        assert "1 Kiln Row" not in page and "Quorn" not in page
        csv_text = client.get("/meetings/costs.csv?since=2026-09-01&until=2026-09-30").content.decode()
        assert "subject,," not in csv_text


# --- scoping and pages ---------------------------------------------------------------------


def test_staff_see_their_series_meetings_and_analysts_see_counts_only(world, client):
    users = world["users"]
    meeting = meeting_create(actor=None, series=world["marac"], held_on=timezone.localdate(), status="held")
    agenda_item_add(actor=None, meeting=meeting, person=world["other"], reason="Risk to a child")
    assert set(series_visible_to(users["csc_worker"])) == {world["marac"]}
    assert set(series_visible_to(users["partnership"])) == {world["marac"]}
    for name in ("foodbank_worker", "analyst", "auditor"):
        assert not series_visible_to(users[name]).exists() and not meetings_visible_to(users[name]).exists()
        sign_in(client, users[name])
        assert client.get(f"/meetings/{meeting.pk}/").status_code == 404
        assert "Quorn" not in client.get("/meetings/").content.decode()
        assert client.get(f"/api/v1/meetings/{meeting.pk}").status_code == 404
        assert client.get("/api/v1/meetings").json()["results"] == []
    sign_in(client, users["housing_worker"])
    # Housing holds no record of her: without an agreement covering identity she is not named.
    page = client.get(f"/meetings/{meeting.pk}/").content.decode()
    assert "Quorn" not in page and "A person your agency holds no record of" in page
    agreement_create(actor=None, reference="MARAC-ISA", title="MARAC protocol", lawful_basis="law_enforcement",
                     purposes="Safety planning", purpose_codes=["marac"], data_categories=["identity", "contacts"],
                     starts_on=dt.date(2020, 1, 1), parties={world["police"]: Tier.FULL, world["housing"]: Tier.FULL})
    views = AuditEvent.objects.filter(action=AuditEvent.Action.VIEW, object_type="meeting").count()
    page = client.get(f"/meetings/{meeting.pk}/").content.decode()
    assert "Dana Quorn" in page and "Risk to a child" in page
    assert AuditEvent.objects.filter(action=AuditEvent.Action.VIEW, object_type="meeting").count() == views + 1
    assert "Add to the agenda" not in page and "Add research" in page  # a member, not the chair
    body = client.get(f"/api/v1/meetings/{meeting.pk}").json()
    assert body["agenda"][0]["label"] == "Dana Quorn" and body["series"] == "Midshire MARAC"
    assert client.get("/api/v1/meetings").json()["results"][0]["id"] == meeting.pk


def _police_holds(world, person):
    """The chair's agency (police) holds a record of ``person``, so its staff may identify them."""
    record = AgencyPerson.objects.create(agency=world["police"], person_ref=f"H{person.pk}", given_name="Sam")
    PersonLink.objects.create(agency_person=record, person=person, match_probability=0.99)


def test_the_agenda_takes_only_subjects_the_chair_may_identify(world, client):
    meeting = meeting_create(actor=None, series=world["marac"], held_on=timezone.localdate())
    sign_in(client, world["users"]["chair_admin"])
    base = f"/meetings/{meeting.pk}/agenda/new/"
    missing = client.post(base, {"kind": "household", "subject": world["household"].pk + 10_000, "reason": "x"})
    # The police hold no record of anyone in the household: it answers exactly as a missing one.
    hidden = client.post(base, {"kind": "household", "subject": world["household"].pk, "reason": "x"})
    assert hidden.status_code == missing.status_code == 200
    for response in (hidden, missing):
        assert response.content.count(b"There is no household with that number") == 2  # summary and field
    assert not meeting.agenda.exists()
    # A person the police hold a record of goes on the agenda; the household then may too.
    assert client.post(base, {"kind": "person", "subject": world["other"].pk, "reason": "Risk"}).status_code == 302
    _police_holds(world, world["person"])
    assert client.post(base, {"kind": "household", "subject": world["household"].pk, "reason": "Risk"}).status_code \
        == 302
    assert meeting.agenda.count() == 2


def test_a_profile_offers_the_meetings_whose_agenda_its_viewer_sets_and_fills_the_form_in(world, client):
    soon = meeting_create(actor=None, series=world["marac"], held_on=timezone.localdate() + dt.timedelta(days=7))
    meeting_create(actor=None, series=world["marac"], held_on=timezone.localdate() - dt.timedelta(days=7))  # past
    other = world["other"]
    sign_in(client, world["users"]["chair_admin"])
    page = client.get(f"/people/{other.pk}/").content.decode()
    assert "Add this person to a meeting&#x27;s agenda" in page or "Add this person to a meeting's agenda" in page
    link = f"/meetings/{soon.pk}/agenda/new/?person={other.pk}"
    assert link in page and page.count("/agenda/new/?person=") == 1  # the past meeting is not offered
    form = client.get(link).content.decode()
    assert f'value="{other.pk}"' in form
    assert 'value="person" selected' in form
    assert client.post(link, {"kind": "person", "subject": other.pk, "reason": "Risk"}).status_code == 302
    assert soon.agenda.count() == 1
    # A member agency's worker, who does not set the agenda, is offered nothing.
    record = AgencyPerson.objects.create(agency=world["housing"], person_ref="HX", given_name="Dana")
    PersonLink.objects.create(agency_person=record, person=other, match_probability=0.99)
    sign_in(client, world["users"]["housing_worker"])
    page = client.get(f"/people/{other.pk}/")
    assert page.status_code == 200 and "/agenda/new/" not in page.content.decode()


def test_forms_on_the_meeting_page_write_through_services_and_audit(world, client):
    users = world["users"]
    case = case_open(actor=None, key_worker=users["csc_worker"], household=world["household"])
    meeting = meeting_create(actor=None, series=world["marac"], held_on=timezone.localdate(), status="held")
    base = f"/meetings/{meeting.pk}"
    sign_in(client, users["chair_admin"])
    before = AuditEvent.objects.filter(action=AuditEvent.Action.CHANGE, object_type="meeting").count()

    page = client.post(f"{base}/attendees/new/", {}).content.decode()
    assert "There is a problem" in page and "Choose the agency they came for" in page
    response = client.post(f"{base}/attendees/new/", {"name": "DI Caldwell", "agency": world["police"].pk,
                                                      "role": world["roles"]["chair"].pk, "hours": "2.5"})
    assert response.status_code == 302 and meeting.attendees.get().hours == Decimal("2.50")

    page = client.post(f"{base}/agenda/new/", {"kind": "household", "subject": "999999", "reason": "x"}).content
    assert b"There is no household with that number" in page
    _police_holds(world, world["person"])
    client.post(f"{base}/agenda/new/", {"kind": "household", "subject": world["household"].pk, "reason": "Risk"})
    item = meeting.agenda.get()
    assert item.case == case
    response = client.post(f"{base}/agenda/propose/", follow=True)
    assert "Nobody new meets the thresholds." in response.content.decode()
    response = client.post(f"/meetings/series/{world['marac'].pk}/new/", {"held_on": "2026-12-03",
                                                                        "status": "scheduled"})
    assert response.status_code == 302 and world["marac"].meetings.filter(held_on="2026-12-03").exists()

    sign_in(client, users["csc_worker"])
    assert client.get(f"{base}/agenda/{item.pk}/research/").status_code == 200
    client.post(f"{base}/agenda/{item.pk}/research/", {"text": "Child protection plan since May."})
    assert item.research.get().agency == world["csc"]
    assert client.get(f"{base}/agenda/{item.pk}/decision/").status_code == 403  # members do not decide

    sign_in(client, users["partnership"])
    page = client.post(f"{base}/agenda/{item.pk}/decision/", {"text": "Plan", "action1_title": "Review"}).content
    assert b"Choose who owns action 1" in page and b"Enter when action 1 is due" in page
    response = client.post(f"{base}/agenda/{item.pk}/decision/", {
        "text": "Safety plan agreed", "action1_title": "Safety plan review", "action1_owner": users["csc_worker"].pk,
        "action1_due": "2026-12-01"})
    assert response.status_code == 302
    assert Action.objects.get(case=case).source.startswith("Midshire MARAC")

    sign_in(client, users["chair_admin"])
    page = client.post(f"{base}/minutes/edit/", {"text": ""}).content.decode()
    assert "Enter the minutes" in page and "Choose who receives the minutes" in page
    housing_pk = users["housing_worker"].pk
    checked = re.compile(r'<input[^>]*value="(\d+)" checked>')
    page = client.post(f"{base}/minutes/edit/", {"text": "", "recipients": [housing_pk]}).content.decode()
    assert checked.findall(page) == [str(housing_pk)]  # a choice survives the error
    assert '<a href="#id_text">Enter the minutes</a>' in page
    client.post(f"{base}/minutes/edit/", {"text": SECRET_MINUTES, "recipients": [housing_pk]})
    assert list(Minutes.objects.get().recipients.all()) == [users["housing_worker"]]
    assert checked.findall(client.get(f"{base}/minutes/edit/").content.decode()) == [str(housing_pk)]
    after = AuditEvent.objects.filter(action=AuditEvent.Action.CHANGE, object_type="meeting").count()
    assert after - before == 6  # attendee, agenda item, proposal, new meeting, research, decision
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CHANGE, object_type="minutes").count() == 1


# --- agenda proposals ----------------------------------------------------------------------

NOW = timezone.make_aware(dt.datetime(2026, 10, 1, 9))


def _ledger(write_file, rows):
    lines = ["agency,record_id,person_ref,occurred_at,contact_type,presenting_need"]
    for n, (agency, ref, days, contact_type) in enumerate(rows):
        lines.append(f"{agency},R{n},{ref},{(NOW - dt.timedelta(days=days)).isoformat()},{contact_type},words")
    import_contacts(actor=None, path=write_file("ledger.csv", "\n".join(lines) + "\n"))
    people = {}
    for record in AgencyPerson.objects.filter(person_ref__in={r[1] for r in rows}):
        if record.person_ref not in people:
            address = Address.objects.create(postcode="ST4 4AA", line=f"{record.person_ref} Potters Row")
            people[record.person_ref] = Person.objects.create(household=Household.objects.create(address=address))
        PersonLink.objects.create(agency_person=record, person=people[record.person_ref], match_probability=0.99)
    resolution_refresh()
    abuse = NeedCategory.objects.get(code="domestic_abuse")
    Contact.objects.filter(contact_type="domestic_abuse_incident").update(need_category=abuse)
    return people


def test_marac_proposes_repeats_and_repeated_domestic_abuse(world, write_file, settings):
    people = _ledger(write_file, [
        ("POLICE", "TWICE", 100, "domestic_abuse_incident"), ("POLICE", "TWICE", 20, "domestic_abuse_incident"),
        ("POLICE", "REPEAT", 10, "domestic_abuse_incident"),
        ("POLICE", "ONCE", 30, "domestic_abuse_incident"),
        ("POLICE", "OLD", 500, "domestic_abuse_incident"), ("POLICE", "OLD", 450, "domestic_abuse_incident"),
        ("FOODBANK", "ELSEWHERE", 5, "domestic_abuse_incident"), ("FOODBANK", "ELSEWHERE", 6, "domestic_abuse_incident"),
    ])
    earlier = meeting_create(actor=None, series=world["marac"], held_on=dt.date(2026, 7, 1), status="held")
    agenda_item_add(actor=None, meeting=earlier, person=people["REPEAT"], reason="High risk")
    meeting = meeting_create(actor=None, series=world["marac"], held_on=dt.date(2026, 10, 1))
    with pytest.raises(PermissionDenied):
        agenda_propose(actor=world["users"]["csc_worker"], meeting=meeting, now=NOW)
    items = agenda_propose(actor=world["users"]["chair_admin"], meeting=meeting, now=NOW)
    proposed = {item.person_id: item.rule for item in items}
    # The food bank is not a member of this MARAC: its contacts are not counted.
    assert proposed == {people["REPEAT"].pk: AgendaItem.Rule.MARAC_REPEAT,
                        people["TWICE"].pk: AgendaItem.Rule.MARAC_CONTACTS}
    assert all(i.proposed_automatically for i in items)
    assert "since the MARAC of 1 July 2026" in next(i.reason for i in items if i.rule == "marac_repeat")
    assert agenda_propose(actor=None, meeting=meeting, now=NOW) == []  # already on the agenda
    assert AuditEvent.objects.filter(object_type="meeting", purpose="agenda proposed").count() == 2

    settings.ONECASE_MEETING_AGENDA = {"marac_contacts": 3}
    again = meeting_create(actor=None, series=world["marac"], held_on=dt.date(2026, 10, 1))
    assert {i.rule for i in agenda_propose(actor=None, meeting=again, now=NOW)} == {AgendaItem.Rule.MARAC_REPEAT}


def test_asb_case_review_proposes_the_demand_dashboards_asb_trigger(world, write_file):
    people = _ledger(write_file, [
        ("POLICE", "NOISY", 40, "asb_report"), ("POLICE", "NOISY", 30, "asb_report"),
        ("HOUSING", "NOISY", 15, "asb_complaint"),
        ("POLICE", "SPREAD", 80, "asb_report"), ("POLICE", "SPREAD", 40, "asb_report"),
        ("POLICE", "SPREAD", 5, "asb_report"),
    ])
    review = series_create(actor=None, kind=MeetingType.ASB_CASE_REVIEW, name="ASB review",
                           chair_agency=world["housing"], members=[world["police"]])
    meeting = meeting_create(actor=None, series=review, held_on=dt.date(2026, 10, 1))
    items = agenda_propose(actor=None, meeting=meeting, now=NOW)
    assert [(i.household_id, i.rule) for i in items] == [(people["NOISY"].household_id, "asb_trigger")]
    flags = demand_ranking(None, by="household", now=NOW)
    triggered = {r["household_id"] for r in flags if "asb_trigger" in r["flags"]}
    assert triggered == {people["NOISY"].household_id}  # the same rule as the dashboard's flag
    taf = series_create(actor=None, kind=MeetingType.TEAM_AROUND_FAMILY, name="TAF", chair_agency=world["csc"])
    assert agenda_propose(actor=None, meeting=meeting_create(actor=None, series=taf, held_on=NOW.date()),
                          now=NOW) == []


# --- overlaps ------------------------------------------------------------------------------


def test_overlaps_are_scoped_and_counted_only_for_analysts(world, client):
    users = world["users"]
    plant_series_of(world["police"], person=world["person"], reason="Risk", member=world["csc"])
    found = overlaps(None)
    assert [(o.kind, o.subject_id, len(o.series)) for o in found] == [("household", world["household"].pk, 2)]
    assert found[0].listings[0].via == f"person {world['person'].pk}"  # a person counts for their household
    assert overlaps(users["housing_worker"]) == []  # not a member of these series
    assert len(overlaps(users["csc_worker"])) == 1
    sign_in(client, users["analyst"])
    page = client.get("/meetings/overlaps/").content.decode()
    assert "1 Kiln Row" not in page and "households or people were on the agendas of more than one series" in page
    assert client.get("/api/v1/meetings/overlaps").json() == {"since": None, "until": None, "count": 1,
                                                              "overlaps": []}


@pytest.fixture
def demo(tmp_path):
    call_command("demo_data", people=400, end_date=DEFAULT_END_DATE, out=tmp_path, no_progress=True,
                 stdout=io.StringIO())
    return json.loads((tmp_path / "truth_families.json").read_text())


def test_demo_plants_the_top_family_on_three_series_and_the_overlap_page_names_them(demo, client):
    top = demand_ranking(None, by="household", top=1)[0]  # the planted revolving-door family
    family = next(o for o in overlaps(None) if (o.kind, o.subject_id) == ("household", top["household_id"]))
    assert set(THREE_SERIES) <= {s.name for s in family.series}
    assert len({s.kind for s in family.series}) >= 3
    planted = [listing.meeting for listing in family.listings if listing.meeting.series.name in THREE_SERIES]
    assert len(planted) == 3
    # The demo has series of at least three types, each with a few meetings and attendees.
    kinds = {m.series.kind for m in Meeting.objects.select_related("series")}
    assert len(kinds) >= 3 and Meeting.objects.count() >= 9
    assert all(m.attendees.exists() for m in Meeting.objects.filter(status="held"))

    admin = UserFactory(agency=AgencyFactory(code="PARTNERSHIP"), role=Role.PARTNERSHIP_ADMIN)
    sign_in(client, admin)
    since, until = DEFAULT_END_DATE - dt.timedelta(days=365), DEFAULT_END_DATE + dt.timedelta(days=60)
    before = AuditEvent.objects.filter(action=AuditEvent.Action.VIEW, object_type="meeting_overlaps").count()
    page = client.get(f"/meetings/overlaps/?since={since}&until={until}").content.decode()
    assert top["label"] in page
    for meeting in planted:  # every one of the three meetings is named and linked
        assert f"{meeting.series.name}, {meeting.held_on.day} {meeting.held_on:%B %Y}" in page
        assert f'href="/meetings/{meeting.pk}/"' in page
    assert AuditEvent.objects.filter(action=AuditEvent.Action.VIEW, object_type="meeting_overlaps").count() == before + 1

    rows = json.loads(_command("meetings_overlap", "--json"))
    row = next(r for r in rows if r.get("household_id") == top["household_id"])
    assert set(THREE_SERIES) <= set(row["series"])
    body = client.get(f"/api/v1/meetings/overlaps?since={since}&until={until}").json()
    assert any(o["subject_id"] == top["household_id"] and set(THREE_SERIES) <= set(o["series"])
               for o in body["overlaps"])
    # The emergency department sits on the MARAC and the complex case panel, not the team around the family.
    nurse = UserFactory(agency=Agency.objects.get(code="ED"), role=Role.PRACTITIONER)
    theirs = next(o for o in overlaps(nurse) if o.subject_id == top["household_id"])
    assert "Kilnbury team around the family" not in {s.name for s in theirs.series}


def _command(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()
