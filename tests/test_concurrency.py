"""Optimistic concurrency: two people saving the same thing from the same version; one wins, the other is told.

Each test sends two writes that both name the version they read. The first is saved; the second
is refused with a conflict (a 409 page showing both versions, or a 409 JSON body) and changes nothing.
"""

import datetime as dt
import threading

import pytest
from django.apps import apps
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from onecase.accounts.models import Role
from onecase.cases import services
from onecase.cases.models import Case, CaseEvent, Grant, Status
from onecase.concurrency import Conflict
from onecase.linkage.models import LinkDecision, ReviewItem
from onecase.linkage.selectors import review_queue_for
from onecase.linkage.services import decision_undo, review_reject
from onecase.sharing.models import Agreement, AuditEvent
from onecase.sharing.services import agreement_revoke, agreement_save
from tests.auth import sign_in
from tests.factories import UserFactory
from tests.test_cases import agency, open_case, team  # noqa: F401
from tests.test_demand import city  # noqa: F401
from tests.test_linkage import reviewer
from tests.test_review_pages import family  # noqa: F401

pytestmark = pytest.mark.django_db

CONFLICT = "Someone changed this since you opened it"


@pytest.fixture
def two(client, team):  # noqa: F811
    """The key worker and an administrator of the same agency, each signed in in their own browser."""
    admin = UserFactory(username="police-admin", agency=agency("POLICE"), role=Role.AGENCY_ADMIN)
    return {**team, "case": open_case(team), "first": sign_in(client, team["kw"]),
            "second": sign_in(client.__class__(), admin), "admin": admin}


def status_events(case):
    return CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.STATUS).count()


def test_two_closing_posts_from_one_version_leave_one_status_change(two):
    case = two["case"]
    url = reverse("web:case_status", args=[case.pk])
    assert f'name="version" value="{case.version}"' in two["first"].get(url).content.decode()
    first = two["first"].post(url, {"status": "closing", "version": case.version})
    second = two["second"].post(url, {"status": "closing", "version": case.version})
    assert first.status_code == 302
    assert second.status_code == 409
    page = second.content.decode()
    assert CONFLICT in page and "Saved now (version 2)" in page and "What you submitted" in page
    assert page.count("Closing") >= 2  # theirs and yours
    assert 'name="version" value="2"' in page  # the form again, at the version saved now
    assert "<title>Error: " in page
    case.refresh_from_db()
    assert case.status == Status.CLOSING and case.version == 2
    assert status_events(case) == 1
    # Resubmitting deliberately, at the current version, works.
    third = two["second"].post(url, {"status": "active", "version": 2})
    assert third.status_code == 302
    case.refresh_from_db()
    assert case.status == Status.ACTIVE and status_events(case) == 2


def test_a_status_form_without_its_version_is_refused(two):
    url = reverse("web:case_status", args=[two["case"].pk])
    response = two["first"].post(url, {"status": "closing"})
    assert response.status_code == 200 and "This page was out of date" in response.content.decode()
    assert status_events(two["case"]) == 0


def test_the_service_refuses_a_stale_version(two):
    case = two["case"]
    services.case_set_status(actor=two["kw"], case=Case.objects.get(pk=case.pk), status=Status.CLOSING,
                             expected_version=1)
    with pytest.raises(Conflict) as error:
        services.case_set_status(actor=two["admin"], case=Case.objects.get(pk=case.pk), status=Status.CLOSING,
                                 expected_version=1)
    assert error.value.current_version == 2 and error.value.current.status == Status.CLOSING
    assert status_events(case) == 1


def test_status_changes_over_the_api(two):
    case = two["case"]
    url = f"/api/v1/cases/{case.pk}"
    read = two["first"].get(url)
    assert read.json()["version"] == 1 and read["ETag"] == '"1"'
    first = two["first"].patch(url, {"status": "closing", "version": 1}, content_type="application/json")
    second = two["second"].patch(url, {"status": "closing", "version": 1}, content_type="application/json")
    assert first.status_code == 200 and first.json()["version"] == 2 and first["ETag"] == '"2"'
    assert second.status_code == 409
    body = second.json()
    assert CONFLICT in body["detail"]
    assert body["your_version"] == 1 and body["current_version"] == 2 and body["current"]["status"] == "closing"
    assert status_events(case) == 1
    # The version is required; If-Match carries it as well as the body does.
    missing = two["second"].patch(url, {"status": "active"}, content_type="application/json")
    assert missing.status_code == 428
    stale = two["second"].patch(url, {"status": "active"}, content_type="application/json", HTTP_IF_MATCH='"1"')
    assert stale.status_code == 409
    fresh = two["second"].patch(url, {"status": "active"}, content_type="application/json", HTTP_IF_MATCH='"2"')
    assert fresh.status_code == 200 and fresh.json()["status"] == "active"
    assert status_events(case) == 2


def test_a_conflict_reveals_nothing_to_someone_outside_the_case(two):
    case = two["case"]
    services.case_set_status(actor=two["kw"], case=case, status=Status.CLOSING)
    outsider = sign_in(two["first"].__class__(), two["volunteer"])
    url = f"/api/v1/cases/{case.pk}"
    response = outsider.patch(url, {"status": "active", "version": 1}, content_type="application/json")
    assert response.status_code == 404 and "closing" not in response.content.decode()
    page = outsider.post(reverse("web:case_status", args=[case.pk]), {"status": "active", "version": 1})
    assert page.status_code == 404 and CONFLICT not in page.content.decode()


def test_two_outcomes_for_one_need(two):
    case = two["case"]
    need = services.need_add(actor=two["kw"], case=case, words="help me find a job")
    url = reverse("web:case_need_outcome", args=[case.pk, need.pk])
    first = two["first"].post(url, {"outcome": "better", "evidence": "Started work in May", "version": 1})
    second = two["second"].post(url, {"outcome": "worse", "evidence": "Lost the interview", "version": 1})
    assert first.status_code == 302 and second.status_code == 409
    page = second.content.decode()
    assert CONFLICT in page
    assert "Started work in May" in page and "Better" in page  # theirs
    assert "Lost the interview" in page and "Worse" in page  # yours, kept in the form
    need.refresh_from_db()
    assert (need.outcome, need.outcome_evidence, need.version) == ("better", "Started work in May", 2)
    assert CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.OUTCOME).count() == 1


def test_two_outcomes_over_the_api(two):
    need = services.need_add(actor=two["kw"], case=two["case"], words="help me find a job")
    url = f"/api/v1/cases/{two['case'].pk}/needs/{need.pk}"
    assert two["first"].get(url)["ETag"] == '"1"'
    first = two["first"].patch(url, {"outcome": "better", "evidence": "Working", "version": 1},
                               content_type="application/json")
    second = two["second"].patch(url, {"outcome": "worse", "evidence": "Not", "version": 1},
                                 content_type="application/json")
    assert first.status_code == 200 and first.json()["version"] == 2
    assert second.status_code == 409 and second.json()["current"]["outcome_evidence"] == "Working"
    need.refresh_from_db()
    assert need.outcome_evidence == "Working"


def test_an_action_marked_done_twice(two):
    case = two["case"]
    action = services.action_add(actor=two["kw"], case=case, title="Payment plan", owner=two["kw"],
                                 due_on=timezone.localdate() + dt.timedelta(days=7))
    assert f'name="version" value="{action.version}"' in two["first"].get(reverse("web:case", args=[case.pk])).content.decode()
    url = reverse("web:case_action_done", args=[case.pk, action.pk])
    first = two["first"].post(url, {"version": 1})
    second = two["second"].post(url, {"version": 1})
    assert first.status_code == 302 and second.status_code == 409
    page = second.content.decode()
    assert CONFLICT in page and "Payment plan" in page and "Done " in page
    assert "already been done" in page  # nothing left to resubmit
    assert CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.ACTION_DONE).count() == 1


def test_a_flag_removed_twice(two):
    case = two["case"]
    flag = services.flag_raise(actor=two["kw"], case=case, kind="risk_to_staff", description="Dog at the door")
    url = reverse("web:case_flag_remove", args=[case.pk, flag.pk])
    first = two["first"].post(url, {"version": flag.version})
    second = two["second"].post(url, {"version": flag.version})
    assert first.status_code == 302 and second.status_code == 409
    assert CONFLICT in second.content.decode() and "Removed " in second.content.decode()
    assert CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.FLAG_REMOVED).count() == 1


def test_a_grant_revoked_on_a_page_opened_before_it_was_accepted(two):
    case = two["case"]
    grant = services.grant_invite(actor=two["kw"], case=case, invitee=two["officer"], purpose="Tenancy",
                                  ends_on=timezone.localdate() + dt.timedelta(days=30))
    opened = grant.version
    officer = sign_in(two["first"].__class__(), two["officer"])
    assert officer.post(reverse("web:case_grant_accept", args=[case.pk, grant.pk]), {"version": opened}).status_code == 302
    url = reverse("web:case_grant_revoke", args=[case.pk, grant.pk])
    stale = two["first"].post(url, {"version": opened})
    assert stale.status_code == 409
    page = stale.content.decode()
    assert CONFLICT in page and "Accepted" in page and "Revoke the pull-in" in page
    grant.refresh_from_db()
    assert grant.state == Grant.State.ACCEPTED
    # Having seen it, the key worker revokes deliberately at the current version.
    assert two["first"].post(url, {"version": grant.version}).status_code == 302
    grant.refresh_from_db()
    assert grant.state == Grant.State.REVOKED


def test_a_grant_over_the_api(two):
    case = two["case"]
    grant = services.grant_invite(actor=two["kw"], case=case, invitee=two["officer"], purpose="Tenancy",
                                  ends_on=timezone.localdate() + dt.timedelta(days=30))
    officer = sign_in(two["first"].__class__(), two["officer"])
    base = f"/api/v1/cases/{case.pk}/grants/{grant.pk}"
    accepted = officer.post(f"{base}/accept", {"version": 1}, content_type="application/json")
    assert accepted.status_code == 200 and accepted.json()["version"] == 2
    stale = two["first"].delete(base, HTTP_IF_MATCH='"1"')
    assert stale.status_code == 409 and stale.json()["current"]["status"] == "Accepted"
    first = two["first"].delete(base, HTTP_IF_MATCH='"2"')
    second = two["second"].delete(base, HTTP_IF_MATCH='"2"')
    assert first.status_code == 204 and second.status_code == 409
    assert CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.GRANT_REVOKED).count() == 1
    assert two["first"].delete(base, HTTP_IF_MATCH="not an etag").status_code == 400


def agreement_form(agreement, **changes):
    form = {
        "reference": agreement.reference, "title": agreement.title, "lawful_basis": agreement.lawful_basis,
        "special_category_condition": "", "purposes": agreement.purposes, "purpose_codes": '["finding_families"]', "data_categories": '["contacts"]',
        "starts_on": agreement.starts_on.isoformat(), "ends_on": "", "review_on": "", "signed_document_ref": "",
        "revoked_reason": "", "opened_version": agreement.version,
        "parties-TOTAL_FORMS": "2", "parties-INITIAL_FORMS": "2", "parties-MIN_NUM_FORMS": "0",
        "parties-MAX_NUM_FORMS": "1000",
    }
    for n, party in enumerate(agreement.parties.order_by("pk")):
        form.update({f"parties-{n}-id": party.pk, f"parties-{n}-agreement": agreement.pk,
                     f"parties-{n}-agency": party.agency_id, f"parties-{n}-max_tier": party.max_tier})
    return {**form, **changes}


def test_two_agreement_edits_in_the_admin_pages(two, partnership_admin):
    agreement = two["agreement"]
    other_admin = UserFactory(username="admin2", role=Role.PARTNERSHIP_ADMIN, agency=partnership_admin.agency)
    first, second = sign_in(two["first"].__class__(), partnership_admin), sign_in(two["first"].__class__(), other_admin)
    url = reverse("admin:sharing_agreement_change", args=[agreement.pk])
    assert 'name="opened_version" value="1"' in first.get(url).content.decode()
    saved = first.post(url, agreement_form(agreement, title="Families first"))
    assert saved.status_code == 302, saved.content.decode()[:2000]
    refused = second.post(url, agreement_form(agreement, title="Troubled families", review_on="2027-01-01"))
    assert refused.status_code == 200
    page = refused.content.decode()
    assert CONFLICT in page and "Theirs: Title: Families first" in page and "Yours: Title: Troubled families" in page
    assert 'name="opened_version" value="2"' in page and 'value="Troubled families"' in page  # kept to save again
    agreement.refresh_from_db()
    assert agreement.title == "Families first" and agreement.review_on is None and agreement.version == 2
    assert AuditEvent.objects.filter(object_type="agreement", detail__admin="changed").count() == 1


def test_agreement_services_refuse_a_stale_version(two):
    agreement = Agreement.objects.get(pk=two["agreement"].pk)
    agreement.title = "Families first"
    agreement_save(actor=None, agreement=agreement, expected_version=1)
    with pytest.raises(Conflict):
        agreement_revoke(actor=None, agreement=Agreement.objects.get(pk=agreement.pk), reason="ended",
                         expected_version=1)
    assert Agreement.objects.get(pk=agreement.pk).revoked_at is None


def test_two_reviewers_decide_one_pair(client, family):  # noqa: F811
    first_reviewer, second_reviewer = reviewer(), reviewer(username="reviewer2")
    item = review_queue_for(first_reviewer).order_by("pk").first()
    url = reverse("web:review_item", args=[item.pk])
    assert f'name="version" value="{item.version}"' in sign_in(client, first_reviewer).get(url).content.decode()
    other = sign_in(client.__class__(), second_reviewer)
    first = client.post(url, {"decision": "reject", "version": item.version})
    second = other.post(url, {"decision": "confirm", "note": "same date of birth", "version": item.version})
    assert first.status_code == 302 and second.status_code == 409
    page = second.content.decode()
    assert CONFLICT in page and "Rejected" in page and "by reviewer," in page  # theirs
    assert "Yes, the same person" in page and "same date of birth" in page  # yours
    assert LinkDecision.objects.filter(review_item=item).count() == 1
    item.refresh_from_db()
    assert item.status == ReviewItem.Status.REJECTED and item.version == 2


def test_a_decision_undone_twice(client, family):  # noqa: F811
    admin = reviewer()
    item = review_queue_for(admin).order_by("pk").first()
    decision = review_reject(actor=admin, item=item, expected_version=item.version)
    decision_undo(actor=admin, decision=LinkDecision.objects.get(pk=decision.pk), expected_version=1)
    with pytest.raises(Conflict):
        decision_undo(actor=admin, decision=LinkDecision.objects.get(pk=decision.pk), expected_version=1)
    page = sign_in(client, admin).post(reverse("web:review_undo", args=[decision.pk]), {"version": 1})
    assert page.status_code == 409 and CONFLICT in page.content.decode() and "Undone " in page.content.decode()


@pytest.fixture(scope="module")
def audit_truncate_after_module(django_db_blocker):
    """A test that commits (transaction=True) is cleaned up with TRUNCATE, which the audit table's
    append-only trigger refuses: the test lifts the triggers at its end, and they are restored here."""
    yield
    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute("ALTER TABLE sharing_auditevent ENABLE TRIGGER USER")


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks across connections need PostgreSQL")
# Every app, so that the clean-up empties the tables with TRUNCATE ... CASCADE.
@pytest.mark.django_db(transaction=True, available_apps=[app.name for app in apps.get_app_configs()])
def test_simultaneous_status_changes_on_postgresql(audit_truncate_after_module, team):  # noqa: F811
    case = open_case(team)
    barrier = threading.Barrier(2)
    outcomes = []

    def close():
        from django.db import connection as thread_connection

        try:
            barrier.wait(timeout=10)
            services.case_set_status(actor=team["kw"], case=Case.objects.get(pk=case.pk), status=Status.CLOSING,
                                     expected_version=1)
            outcomes.append("saved")
        except Conflict:
            outcomes.append("conflict")
        finally:
            thread_connection.close()

    try:
        threads = [threading.Thread(target=close) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(outcomes) == ["conflict", "saved"]
        assert status_events(case) == 1
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE sharing_auditevent DISABLE TRIGGER USER")
