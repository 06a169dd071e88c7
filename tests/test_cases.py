"""Cases: one key worker, pull-in grants, the chronology, drift, costs, and the fixed API."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.utils import timezone

from onecase.accounts.models import Agency, Role
from onecase.cases import services
from onecase.cases.models import Case, CaseEvent, Grant, Status
from onecase.cases.selectors import case_costs_for, cases_visible_to, chronology_for, drift_alerts, my_cases
from onecase.contacts.demand import demand_ranking
from onecase.sharing.models import AuditEvent, Tier
from onecase.sharing.services import agreement_create, agreement_revoke
from tests.auth import sign_in
from tests.factories import UserFactory
from tests.test_demand import NOW, city  # noqa: F401

PURPOSES = ["finding_families", "key_work"]  # the everyday purpose, and key work on cases

pytestmark = pytest.mark.django_db


def agency(code):
    return Agency.objects.get(code=code)


@pytest.fixture
def team(city):  # noqa: F811
    agreement = agreement_create(
        actor=None, reference="ISA-1", title="Families", lawful_basis="public_task", purposes="Key work", purpose_codes=PURPOSES,
        data_categories=["identity", "contacts", "needs"], starts_on=dt.date(2020, 1, 1),
        parties={agency("HOUSING"): Tier.FULL, agency("POLICE"): Tier.FULL},
    )
    return {
        **city,
        "agreement": agreement,
        "kw": UserFactory(username="kw", agency=agency("POLICE"), role=Role.KEY_WORKER),
        "officer": UserFactory(username="officer", agency=agency("HOUSING"), role=Role.PRACTITIONER),
        "volunteer": UserFactory(username="volunteer", agency=agency("FOODBANK"), role=Role.VOLUNTARY_PARTNER),
        "analyst": UserFactory(username="analyst", agency=agency("POLICE"), role=Role.ANALYST),
    }


def open_case(team):
    return services.case_open(actor=team["kw"], key_worker=team["kw"], household=team["smyth"], summary="Rent, ASB")


def test_open_refuses_a_duplicate_and_needs_a_case_holder(team):
    case = open_case(team)
    assert case.status == Status.OPEN and case.agency.code == "POLICE"
    assert case.events.filter(kind=CaseEvent.Kind.OPENED).count() == 1
    with pytest.raises(services.DuplicateCase) as error:
        open_case(team)
    assert error.value.case == case
    with pytest.raises(ValidationError):
        services.case_open(actor=None, key_worker=team["analyst"], household=team["brown"])
    with pytest.raises(PermissionDenied):
        services.case_open(actor=team["officer"], key_worker=team["kw"], household=team["brown"])


def test_needs_are_categorised_from_the_citizens_words(team):
    case = open_case(team)
    need = services.need_add(actor=team["kw"], case=case, words="I can't pay my rent arrears")
    assert need.category is not None and need.category.name  # placed by the keyword table
    assert case.events.filter(kind=CaseEvent.Kind.NEED).count() == 1


def test_pull_in_grant_lifecycle(team):
    case = open_case(team)
    ends = timezone.localdate() + dt.timedelta(days=30)
    grant = services.grant_invite(actor=team["kw"], case=case, invitee=team["officer"], purpose="Tenancy",
                                  ends_on=ends)
    assert grant.agreement == team["agreement"]
    # Invited, not yet accepted: the officer cannot see the case.
    assert not cases_visible_to(team["officer"]).filter(pk=case.pk).exists()
    with pytest.raises(PermissionDenied):
        services.grant_accept(actor=team["volunteer"], grant=grant)
    services.grant_accept(actor=team["officer"], grant=grant)
    assert cases_visible_to(team["officer"]).filter(pk=case.pk).exists()
    services.note_add(actor=team["officer"], case=case, text="Tenancy at risk; visit booked")
    action = services.action_add(actor=team["officer"], case=case, title="Arrange a payment plan",
                                 owner=team["officer"], due_on=ends)
    assert action.agency.code == "HOUSING"
    # The officer may not change what the grant does not cover, nor own the case.
    with pytest.raises(PermissionDenied):
        services.flag_raise(actor=team["officer"], case=case, kind="other", description="x")
    with pytest.raises(PermissionDenied):
        services.case_set_status(actor=team["officer"], case=case, status=Status.ACTIVE)
    case.refresh_from_db()
    assert case.key_worker == team["kw"]
    services.grant_revoke(actor=team["kw"], grant=grant)
    assert not cases_visible_to(team["officer"]).filter(pk=case.pk).exists()
    # What they added stays.
    assert case.notes.count() == 1 and case.actions.count() == 1


def test_grant_needs_an_agreement_and_stops_with_it(team):
    case = open_case(team)
    ends = timezone.localdate() + dt.timedelta(days=10)
    outsider = UserFactory(agency=Agency.objects.create(code="CAB", name="Advice"), role=Role.PRACTITIONER)
    with pytest.raises(ValidationError, match="no sharing agreement"):
        services.grant_invite(actor=team["kw"], case=case, invitee=outsider, purpose="Debt", ends_on=ends)
    grant = services.grant_invite(actor=team["kw"], case=case, invitee=team["officer"], purpose="x", ends_on=ends)
    services.grant_accept(actor=team["officer"], grant=grant)
    agreement_revoke(actor=None, agreement=team["agreement"], reason="ended")
    assert not cases_visible_to(team["officer"]).filter(pk=case.pk).exists()


def test_expired_grants_stop_by_themselves(team):
    case = open_case(team)
    grant = services.grant_invite(actor=team["kw"], case=case, invitee=team["officer"], purpose="x",
                                  ends_on=timezone.localdate())
    services.grant_accept(actor=team["officer"], grant=grant)
    assert cases_visible_to(team["officer"]).filter(pk=case.pk).exists()
    Grant.objects.filter(pk=grant.pk).update(ends_on=timezone.localdate() - dt.timedelta(days=1))
    assert not cases_visible_to(team["officer"]).filter(pk=case.pk).exists()


def test_chronology_merges_contacts_and_case_events_within_disclosure(team):
    case = open_case(team)
    services.note_add(actor=team["kw"], case=case, text="First visit")
    entries = chronology_for(team["kw"], case).entries
    contacts = [e for e in entries if e.source == "contact"]
    # Police (own) and housing (full under the agreement); the food bank is not a party.
    assert {e.agency for e in contacts} == {"POLICE", "HOUSING"}
    assert len(contacts) == 7
    assert any(e.source == "case" and e.detail == "First visit" for e in entries)
    assert chronology_for(team["kw"], case).withheld_agencies == 1
    assert [e.at for e in entries] == sorted((e.at for e in entries), reverse=True)


def test_status_close_needs_outcomes_and_transfer_keeps_history(team):
    case = open_case(team)
    need = services.need_add(actor=team["kw"], case=case, words="help me find a job")
    services.case_set_status(actor=team["kw"], case=case, status=Status.CLOSING)
    with pytest.raises(ValidationError, match="outcome"):
        services.case_set_status(actor=team["kw"], case=case, status=Status.CLOSED)
    services.need_outcome(actor=team["kw"], need=need, outcome="better", evidence="Started work in May")
    other = UserFactory(agency=agency("POLICE"), role=Role.KEY_WORKER)
    services.case_transfer(actor=team["kw"], case=case, to=other, reason="Caseload")
    assert [s.key_worker for s in case.key_worker_spells.all()] == [team["kw"], other]
    assert case.key_worker_spells.first().ended_at is not None
    services.case_set_status(actor=other, case=case, status=Status.CLOSED)
    assert case.closed_at is not None
    with pytest.raises(ValidationError):
        services.case_set_status(actor=other, case=case, status=Status.ACTIVE)
    services.case_set_status(actor=other, case=case, status=Status.REOPENED)


def test_drift_and_my_cases(team):
    case = open_case(team)
    ends = timezone.localdate() + dt.timedelta(days=5)
    grant = services.grant_invite(actor=team["kw"], case=case, invitee=team["officer"], purpose="x", ends_on=ends)
    services.grant_accept(actor=team["officer"], grant=grant)
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    services.action_add(actor=team["kw"], case=case, title="a", owner=team["kw"], due_on=yesterday)
    services.action_add(actor=team["kw"], case=case, title="b", owner=team["officer"], due_on=yesterday)
    names = sorted([agency("HOUSING").name, agency("POLICE").name])
    assert drift_alerts(case) == [f"Actions are overdue in 2 agencies: {', '.join(names)}."]
    Case.objects.filter(pk=case.pk).update(last_activity_at=timezone.now() - dt.timedelta(days=40))
    case.refresh_from_db()
    assert drift_alerts(case)[0] == "No one on the team has recorded anything for 40 days."
    mine = my_cases(team["kw"])
    assert mine.owned == [case] and [a.title for a in mine.overdue] == ["a"]
    assert mine.expiring == [grant]
    assert [g.case for g in my_cases(team["officer"]).pulled_into] == [case]


def test_my_cases_names_without_linking_a_case_the_user_can_no_longer_open(client, team):
    case = open_case(team)
    grant = services.grant_invite(actor=team["kw"], case=case, invitee=team["officer"], purpose="x",
                                  ends_on=timezone.localdate() + dt.timedelta(days=20))
    services.grant_accept(actor=team["officer"], grant=grant)
    due = timezone.localdate() + dt.timedelta(days=2)
    services.action_add(actor=team["kw"], case=case, title="Visit", owner=team["officer"], due_on=due)
    case_url = f"/cases/{case.pk}/"
    sign_in(client, team["officer"])
    assert case_url in client.get("/cases/").content.decode()
    grant.refresh_from_db()
    services.grant_revoke(actor=team["kw"], grant=grant, reason="Work done")
    page = client.get("/cases/").content.decode()
    assert case.reference in page and "you can no longer open this case" in page
    assert case_url not in page
    assert client.get(case_url).status_code == 404


def test_costs_in_the_twelve_months_before_opening(team):
    case = open_case(team)
    Case.objects.filter(pk=case.pk).update(opened_at=NOW)
    case.refresh_from_db()
    costs = case_costs_for(team["kw"], case)
    by_code = {r["agency"].code: (r["contacts"], r["cost"]) for r in costs.rows}
    # The police contact 200 days back is inside the year; all 9 contacts count.
    assert by_code["POLICE"] == (4, 4 * Decimal("120.50"))
    assert by_code["HOUSING"] == (3, 3 * Decimal("45.10"))
    assert costs.total_contacts == 9 and costs.total_cost == 4 * Decimal("120.50") + 3 * Decimal("45.10")


def test_demand_shows_the_key_worker(team):
    assert demand_ranking(None, by="household", now=NOW)[0]["key_worker"] is None
    open_case(team)
    top = demand_ranking(None, by="household", now=NOW)[0]
    assert top["key_worker"] == "kw" and "needs_owner" not in top["flags"]


def test_the_api_finds_staff_only_among_those_the_caller_may_choose(client, team):
    # Permission before existence: a role that opens no cases is refused whatever username it names.
    sign_in(client, team["analyst"])
    body = {"subject": {"household_id": team["smyth"].pk}, "key_worker": "nobody-by-this-name"}
    assert client.post("/api/v1/cases", body, content_type="application/json").status_code == 403
    # A key worker opens cases for themselves: a colleague elsewhere answers as an unknown username.
    sign_in(client, team["kw"])
    named = {username: client.post("/api/v1/cases", {**body, "key_worker": username},
                                   content_type="application/json") for username in ("officer", "nobody")}
    assert named["officer"].status_code == named["nobody"].status_code == 400
    assert named["officer"].json() == named["nobody"].json()
    assert not Case.objects.exists()
    case_id = client.post("/api/v1/cases", {**body, "key_worker": "kw"}, content_type="application/json").json()["id"]
    grant = {"purpose": "Tenancy", "ends_on": (timezone.localdate() + dt.timedelta(days=30)).isoformat()}
    # Only who may be pulled in is found: the analyst answers as an unknown username.
    invited = {username: client.post(f"/api/v1/cases/{case_id}/grants", {**grant, "username": username},
                                     content_type="application/json") for username in ("analyst", "nobody")}
    assert invited["analyst"].status_code == invited["nobody"].status_code == 400
    assert invited["analyst"].json() == invited["nobody"].json()
    # A colleague on the case team who may not pull people in is refused before any username is looked up.
    colleague = sign_in(client.__class__(), UserFactory(agency=agency("POLICE"), role=Role.PRACTITIONER))
    for username in ("officer", "nobody"):
        response = colleague.post(f"/api/v1/cases/{case_id}/grants", {**grant, "username": username},
                                  content_type="application/json")
        assert response.status_code == 403
    assert not Grant.objects.exists()


def test_the_fixed_api(client, team):
    sign_in(client, team["kw"])
    created = client.post("/api/v1/cases", {"subject": {"household_id": team["smyth"].pk}, "key_worker": "kw"},
                          content_type="application/json")
    assert created.status_code == 201, created.content
    case_id = created.json()["id"]
    again = client.post("/api/v1/cases", {"subject": {"household_id": team["smyth"].pk}, "key_worker": "kw"},
                        content_type="application/json")
    assert again.status_code == 409 and again.json()["existing_case"] == case_id
    detail = client.get(f"/api/v1/cases/{case_id}")
    assert detail.status_code == 200 and detail.json()["key_worker"] == "kw"
    assert detail.json()["subject"] == {"household_id": team["smyth"].pk}
    ends = (timezone.localdate() + dt.timedelta(days=30)).isoformat()
    grant = client.post(f"/api/v1/cases/{case_id}/grants",
                        {"username": "officer", "purpose": "Tenancy sustainment", "ends_on": ends},
                        content_type="application/json")
    assert grant.status_code == 201, grant.content
    grant_id = grant.json()["id"]

    officer = sign_in(client.__class__(), team["officer"])
    assert officer.get(f"/api/v1/cases/{case_id}").status_code == 404
    assert officer.post(f"/api/v1/cases/{case_id}/grants/{grant_id}/accept").status_code == 200
    chronology = officer.get(f"/api/v1/cases/{case_id}/chronology")
    assert chronology.status_code == 200 and any(e["source"] == "contact" for e in chronology.json())

    assert client.delete(f"/api/v1/cases/{case_id}/grants/{grant_id}").status_code == 204
    assert officer.get(f"/api/v1/cases/{case_id}").status_code == 404
    out = call_command_json("demand", "--by", "household", "--top", "1", "--json")
    assert out[0]["key_worker"] == "kw"


def call_command_json(*args):
    import io

    buffer = io.StringIO()
    call_command(*args, stdout=buffer)
    return json.loads(buffer.getvalue())


def test_web_journey_leaves_audit_events(client, team):
    sign_in(client, team["kw"])
    page = client.get(f"/cases/open/?household={team['smyth'].pk}")
    assert page.status_code == 200 and b"No case has been opened" in page.content
    response = client.post("/cases/open/", {"household": team["smyth"].pk, "key_worker": team["kw"].pk,
                                            "summary": "Rent and ASB"})
    case = Case.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.pk}/"
    client.post(f"/cases/{case.pk}/needs/new/", {"words": "help me find a job"})
    ends = (timezone.localdate() + dt.timedelta(days=30)).isoformat()
    client.post(f"/cases/{case.pk}/pull-in/", {"invitee": team["officer"].pk, "purpose": "Tenancy",
                                               "ends_on": ends, "may_see": ["needs", "chronology", "notes"],
                                               "may_add": ["notes", "actions"]})
    grant = Grant.objects.get()
    assert grant.may_see == ["needs", "chronology", "notes"]
    officer = sign_in(client.__class__(), team["officer"])
    assert b"Invitations to join a case" in officer.get("/cases/").content
    assert officer.post(f"/cases/{case.pk}/pull-in/{grant.pk}/accept/", {"version": grant.version}).status_code == 302
    officer.post(f"/cases/{case.pk}/notes/new/", {"text": "Visited"})
    officer.post(f"/cases/{case.pk}/actions/new/", {"title": "Payment plan", "owner": team["officer"].pk,
                                                    "due_on": ends})
    page = client.get(f"/cases/{case.pk}/")
    assert b"Visited" in page.content and b"Payment plan" in page.content
    grant.refresh_from_db()
    client.post(f"/cases/{case.pk}/pull-in/{grant.pk}/revoke/", {"version": grant.version})
    assert officer.get(f"/cases/{case.pk}/").status_code == 404
    changes = AuditEvent.objects.filter(object_type="case", object_id=str(case.pk), action=AuditEvent.Action.CHANGE)
    assert sorted(changes.values_list("purpose", flat=True)) == sorted([
        "case opened", "need recorded", "pull-in invited", "pull-in accepted", "note added", "action added",
        "pull-in revoked",
    ])
    assert AuditEvent.objects.filter(action=AuditEvent.Action.REFUSED, username="officer").exists()


def test_form_errors_are_shown(client, team):
    case = open_case(team)
    sign_in(client, team["kw"])
    page = client.post(f"/cases/{case.pk}/pull-in/", {"purpose": ""})
    assert page.status_code == 200 and b"There is a problem" in page.content
    assert b"Choose who to pull in" in page.content and b"Enter the end date" in page.content


def test_a_case_whose_key_worker_leaves_must_be_transferred(team):
    case = open_case(team)
    admin = UserFactory(agency=agency("POLICE"), role=Role.AGENCY_ADMIN)
    assert my_cases(admin).unowned == []
    team["kw"].is_active = False
    team["kw"].save()
    assert my_cases(admin).unowned == [case]
    services.case_set_status(actor=admin, case=case, status=Status.CLOSING)
    with pytest.raises(ValidationError, match="active key worker"):
        services.case_set_status(actor=admin, case=case, status=Status.CLOSED)
    successor = UserFactory(agency=agency("POLICE"), role=Role.KEY_WORKER)
    services.case_transfer(actor=admin, case=case, to=successor, reason="Left the service")
    assert my_cases(admin).unowned == []
