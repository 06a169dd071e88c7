"""The permission matrix: every URL, as every role of agency A, against agency B's objects.

Each URL in the URLconf must be listed here, so a new page cannot escape the matrix.
"""

import datetime as dt

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import get_resolver, reverse

from onecase.accounts.models import Role
from onecase.accounts.rules import NO_PERSON_ACCESS
from onecase.accounts.services import token_create
from onecase.cases.rules import may_open_cases
from onecase.cases.services import action_add, case_open, flag_raise, grant_invite, need_add
from onecase.contacts.models import Contact
from onecase.contacts.rules import may_log_contacts
from onecase.contacts.services import resolution_refresh
from onecase.imports.jobs import job_create
from onecase.imports.services import import_contacts
from onecase.linkage.models import LinkDecision, LinkRun, ReviewItem
from onecase.meetings.models import Meeting
from onecase.people.models import Address, AgencyPerson, Household, Person, PersonLink
from onecase.sharing.models import AuditEvent, Tier
from onecase.sharing.rules import may_break_glass, may_read_audit
from onecase.sharing.services import agreement_create, break_glass_roles_default, disclosure_request_create
from tests.auth import sign_in
from tests.factories import AgencyFactory, UserFactory
from tests.test_meetings import plant_series_of

PURPOSES = ["finding_families", "key_work"]  # the everyday purpose, and key work on cases

pytestmark = pytest.mark.django_db

B_SECRET_NAME = "Zebedee"  # a family name only agency B holds
B_FILE = "bravo-export.csv"
B_SECRET_NEED = "the-words-only-bravo-holds"
CONTENT = (
    "record_id,person_ref,occurred_at,contact_type,given_name,family_name,presenting_need\n"
    f"B1,PB1,2025-01-01,incident,Bella,{B_SECRET_NAME},{B_SECRET_NEED}\n"
)

# URL name -> how to build it from agency B's objects. Object URLs must be refused to agency A.
OBJECT_URLS = {
    "api:import": lambda b: reverse("api:import", args=[b["job"].pk]),
    "web:subject_access": lambda b: reverse("web:subject_access", args=[b["person"].pk]),
    "web:import_detail": lambda b: reverse("web:import_detail", args=[b["job"].pk]),
    "web:import_status": lambda b: reverse("web:import_status", args=[b["job"].pk]),
}
_case = {
    "web:case": "/cases/{case}/",
    "web:case_costs": "/cases/{case}/costs/",
    "web:case_costs_csv": "/cases/{case}/costs.csv",
    "web:case_need_add": "/cases/{case}/needs/new/",
    "web:case_need_outcome": "/cases/{case}/needs/{need}/outcome/",
    "web:case_need_followup": "/cases/{case}/needs/{need}/follow-up/",
    "web:case_note_add": "/cases/{case}/notes/new/",
    "web:case_action_add": "/cases/{case}/actions/new/",
    "web:case_flag_add": "/cases/{case}/flags/new/",
    "web:case_grant_add": "/cases/{case}/pull-in/",
    "web:case_status": "/cases/{case}/status/",
    "web:case_transfer": "/cases/{case}/transfer/",
    "api:case": "/api/v1/cases/{case}",
    "api:case_need": "/api/v1/cases/{case}/needs/{need}",
    "api:case_chronology": "/api/v1/cases/{case}/chronology",
    "api:case_grants": "/api/v1/cases/{case}/grants",
    "api:case_grant": "/api/v1/cases/{case}/grants/{grant}",
}
_case_posts = {
    "web:case_action_done": "/cases/{case}/actions/{action}/done/",
    "web:case_flag_remove": "/cases/{case}/flags/{flag}/remove/",
    "web:case_grant_accept": "/cases/{case}/pull-in/{grant}/accept/",
    "web:case_grant_decline": "/cases/{case}/pull-in/{grant}/decline/",
    "web:case_grant_revoke": "/cases/{case}/pull-in/{grant}/revoke/",
    "api:case_grant_accept": "/api/v1/cases/{case}/grants/{grant}/accept",
    "api:case_grant_decline": "/api/v1/cases/{case}/grants/{grant}/decline",
}


def _case_url(template):
    return lambda b: template.format(**{k: b[k].pk for k in ("case", "need", "action", "flag", "grant")})


OBJECT_URLS.update({name: _case_url(t) for name, t in _case.items()})
OBJECT_URLS["web:contact_classify"] = lambda b: f"/contacts/{Contact.objects.get(record_id='B1').pk}/classify/"
# Opening a case on one of B's households: refused as missing unless an agreement lets A identify them.
SUBJECT_FORMS = {
    "web:case_open": lambda b: f"/cases/open/?household={b['household'].pk}",
}
# Profiles are disclosed tier by tier; without an agreement covering identity, A may not know them at all.
TIERED_URLS = {
    "web:household": lambda b: reverse("web:household", args=[b["household"].pk]),
    "web:person": lambda b: reverse("web:person", args=[b["person"].pk]),
}
# Forms about one of B's people: they show nothing of B's records, and write nothing on a GET.
PERSON_FORMS = {
    "web:access_request": lambda b: reverse("web:access_request", args=[b["person"].pk]),
    "web:break_glass": lambda b: reverse("web:break_glass", args=[b["person"].pk]),
}
# Logging a contact about one of B's people: refused to roles that log nothing, and, like the profiles,
# about anyone A may not identify; the form shows none of B's records.
CONTACT_FORMS = {
    "web:person_contact_new": lambda b: reverse("web:person_contact_new", args=[b["person"].pk]),
    "web:household_contact_new": lambda b: reverse("web:household_contact_new", args=[b["household"].pk]),
}
# Writes for A's own agency only: an empty one is refused (400) to roles that may make it, 403 to others.
OWN_WRITE_URLS = {"api:contacts": "/api/v1/contacts"}
# Searching for B's person by a misspelt name (the page shows what was typed, never B's spelling unless
# found): refused to roles that see no people; without an agreement covering identity, A finds no one,
# exactly as for a name nobody has; with one, A finds them.
SEARCH_URLS = {
    "web:person_search": "/people/search/?name=Bella+Zebedie",
    "api:person_search": "/api/v1/people/search?name=Bella+Zebedie",
}
POST_OBJECT_URLS = {
    "web:request_decide": lambda b: reverse("web:request_decide", args=[b["request"].pk]),
    "web:import_start": lambda b: reverse("web:import_start", args=[b["job"].pk]),
}
POST_OBJECT_URLS.update({name: _case_url(t) for name, t in _case_posts.items()})
# URLs that list or count: allowed, but must show nothing of agency B's.
LIST_URLS = {
    "web:home": "/",
    "web:demand": "/demand/",
    "web:demand_csv": "/demand.csv",
    "web:demand_trend_csv": "/demand/per-month.csv",
    "web:import_list": "/imports/",
    "web:import_new": "/imports/new/",
    "api:agencies": "/api/v1/agencies/",
    "api:imports": "/api/v1/imports/",
    "api:demand": "/api/v1/demand",
    "api:failure_demand": "/api/v1/failure-demand",
    "web:requests": "/requests/",
    "web:dpo": "/data-protection/",
    "api:schema": "/api/v1/schema/",
    "api:docs": "/api/v1/docs/",
    "web:my_cases": "/cases/",
    "web:demand_failure": "/demand/failure/",
    "web:demand_failure_csv": "/demand/failure.csv?by=month",
    "web:demand_context": "/demand/in-context/",
    "web:demand_context_csv": "/demand/in-context.csv",
    "api:cases": "/api/v1/cases",
}
# The audit trail: a DPO of A reads only A's staff's events; auditors read the whole partnership's, whose
# purposes (as typed by B's staff) they may see, though never B's records; everyone else is refused.
AUDIT_URLS = {"api:audit": "/api/v1/audit?since=2020-01-01"}
# Linkage review: reviewers in A see only A's records, so B's pair, person, household and decision are refused.
OBJECT_URLS.update({
    "web:review_item": lambda b: reverse("web:review_item", args=[b["review_item"].pk]),
    "web:review_person": lambda b: reverse("web:review_person", args=[b["person"].pk]),
    "web:review_household": lambda b: reverse("web:review_household", args=[b["household"].pk]),
})
POST_OBJECT_URLS["web:review_undo"] = lambda b: reverse("web:review_undo", args=[b["decision"].pk])
# API tokens: each user lists their own (administrators their agency's); B's token is not found.
POST_OBJECT_URLS["web:api_token_revoke"] = lambda b: reverse("web:api_token_revoke", args=[b["token"].pk])
LIST_URLS.update({"web:api_tokens": "/api-tokens/", "web:api_token_new": "/api-tokens/new/"})
LIST_URLS.update({"web:review_queue": "/linkage/review/", "web:review_decisions": "/linkage/decisions/"})
# Importing historical cases: partnership administrators only, so every role of A is refused (403).
LIST_URLS["web:case_import"] = "/cases/import/"
# Impact and savings: cohort aggregates for the partnership and analysts; B's lone case is too few to show.
LIST_URLS.update({"web:impact": "/impact/", "web:impact_csv": "/impact.csv", "web:impact_xlsx": "/impact.xlsx",
                  "web:impact_pdf": "/impact.pdf", "api:impact": "/api/v1/impact", "api:savings": "/api/v1/savings"})


# Measures: partnership aggregates for the partnership and analysts; a measure's pages answer 404 for a
# code no measure has (and 403 to roles that see no measures).
LIST_URLS.update({"web:measures": "/measures/", "web:measure_definitions": "/measures/definitions/",
                  "api:measures": "/api/v1/measures/"})
OBJECT_URLS.update({name: (lambda b, path=path: path) for name, path in {
    "web:measure": "/measures/no-such-measure/", "web:measure_csv": "/measures/no-such-measure.csv",
    "web:measure_edit": "/measures/no-such-measure/edit/",
    "web:measure_baseline_add": "/measures/no-such-measure/baselines/new/",
    "api:measure": "/api/v1/measures/no-such-measure/", "api:measure_forecast": "/api/v1/measures/no-such-measure/forecast/",
}.items()})


# Meetings: two series chaired by B discuss B's person; A is not a member, so every page of them is refused.
def _b_meeting(template):
    def build(b):
        meeting = Meeting.objects.filter(series__chair_agency=b["agency"]).order_by("pk").first()
        item = meeting.agenda.first()
        return template.format(meeting=meeting.pk, item=item.pk, series=meeting.series_id)
    return build


OBJECT_URLS.update({name: _b_meeting(t) for name, t in {
    "web:meeting_detail": "/meetings/{meeting}/",
    "web:meeting_new": "/meetings/series/{series}/new/",
    "web:meeting_attendee_new": "/meetings/{meeting}/attendees/new/",
    "web:meeting_agenda_new": "/meetings/{meeting}/agenda/new/",
    "web:meeting_research_new": "/meetings/{meeting}/agenda/{item}/research/",
    "web:meeting_decision_new": "/meetings/{meeting}/agenda/{item}/decision/",
    "web:meeting_minutes": "/meetings/{meeting}/minutes/",
    "web:meeting_minutes_edit": "/meetings/{meeting}/minutes/edit/",
    "api:meeting": "/api/v1/meetings/{meeting}",
}.items()})
POST_OBJECT_URLS["web:meeting_agenda_propose"] = _b_meeting("/meetings/{meeting}/agenda/propose/")
LIST_URLS.update({
    "web:meetings": "/meetings/", "web:meetings_overlaps": "/meetings/overlaps/", "web:meetings_costs": "/meetings/costs/",
    "web:meetings_costs_csv": "/meetings/costs.csv", "api:meetings": "/api/v1/meetings",
    "api:meetings_overlaps": "/api/v1/meetings/overlaps",
})
# Sign-in pages: the allowlist that anonymous and password-only sessions may reach.
ALLOWLIST = {
    "web:login": "/sign-in/",
    "web:logout": "/sign-out/",
    "accounts:two_factor_verify": "/two-factor/",
    "accounts:two_factor_setup": "/two-factor/setup/",
}
ROLES_OF_A = [r for r in Role.values if r != Role.PARTNERSHIP_ADMIN]  # the partnership admin sees all


def url_names():
    def walk(resolver, namespace=""):
        for pattern in resolver.url_patterns:
            if hasattr(pattern, "url_patterns"):
                if pattern.namespace == "admin":
                    continue
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                yield from walk(pattern, inner)
            elif pattern.name:
                yield f"{namespace}{pattern.name}"

    return set(walk(get_resolver()))


def test_every_url_is_in_the_matrix():
    covered = set(SEARCH_URLS) | set(CONTACT_FORMS) | set(OWN_WRITE_URLS) | set(OBJECT_URLS) | set(TIERED_URLS) | set(PERSON_FORMS) | set(POST_OBJECT_URLS) | set(LIST_URLS) | set(AUDIT_URLS) | set(ALLOWLIST) | set(SUBJECT_FORMS) | {"admin:login"}
    assert url_names() - covered == set()


@pytest.fixture
def agency_b(write_file, settings, tmp_path):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    bravo = AgencyFactory(code="BRAVO")
    officer = UserFactory(agency=bravo, role=Role.AGENCY_ADMIN)
    import_contacts(actor=officer, path=write_file("b.csv", CONTENT), agency_code="BRAVO")
    job = job_create(actor=officer, upload=SimpleUploadedFile(B_FILE, CONTENT.encode()), agency_code="BRAVO")
    household = Household.objects.create(address=Address.objects.create(postcode="ZZ1 1ZZ", line="1 Bravo Row"))
    person = Person.objects.create(household=household)
    PersonLink.objects.create(agency_person=AgencyPerson.objects.get(person_ref="PB1"), person=person,
                              match_probability=0.99)
    resolution_refresh()
    pb1 = AgencyPerson.objects.get(person_ref="PB1")
    pb2 = AgencyPerson.objects.create(agency=bravo, person_ref="PB2", given_name="Bela", family_name=B_SECRET_NAME)
    PersonLink.objects.create(agency_person=pb2, person=person, match_probability=0.7)
    review_item = ReviewItem.objects.create(
        run=LinkRun.objects.create(mode=LinkRun.Mode.FULL, status=LinkRun.Status.FINISHED), agency_person_a=pb1,
        agency_person_b=pb2, match_probability=0.7, match_weight=1.2, reason=ReviewItem.Reason.UNCERTAIN_LINK,
    )
    decision = LinkDecision.objects.create(kind=LinkDecision.Kind.SPLIT, agency_person=pb2, note=B_SECRET_NEED)
    bravo_worker = UserFactory(agency=bravo, role=Role.KEY_WORKER)
    case = case_open(actor=None, key_worker=bravo_worker, household=household)
    need = need_add(actor=None, case=case, words=B_SECRET_NEED)
    action = action_add(actor=None, case=case, title=B_SECRET_NEED, owner=bravo_worker,
                        due_on=dt.date(2030, 1, 1))
    flag = flag_raise(actor=None, case=case, kind="other", description=B_SECRET_NEED)
    grant = grant_invite(actor=None, case=case, invitee=UserFactory(agency=bravo, role=Role.PRACTITIONER),
                         purpose=B_SECRET_NEED, ends_on=dt.date.today() + dt.timedelta(days=30))
    plant_series_of(bravo, person=person, reason=B_SECRET_NEED)  # B's meetings, B's members only
    charlie = UserFactory(agency=AgencyFactory(code="CHARLIE"), role=Role.KEY_WORKER)
    request = disclosure_request_create(actor=charlie, person=person, owner_agency=bravo, purpose="bravo-only purpose")
    token, _ = token_create(actor=None, user=officer, name=B_SECRET_NEED)
    return {"token": token, "agency": bravo, "job": job, "household": household, "person": person, "request": request,
            "case": case, "need": need, "action": action, "flag": flag, "grant": grant,
            "review_item": review_item, "decision": decision}


def snapshot():
    """Row counts of every table but the audit trail (and sessions, which sign-in writes)."""
    skip = {"audit.auditevent", "sessions.session", "axes.accesslog", "axes.accessattempt"}
    tables = [m for m in apps.get_models() if m._meta.managed and not m._meta.proxy and m._meta.app_label != "pghistory"]
    return {m._meta.label_lower: m.objects.count() for m in tables if m._meta.label_lower not in skip}


def assert_no_data(response):
    """Nothing of agency B's records or uploads (agency names appear in aggregate counts)."""
    body = response.content.decode(errors="replace")
    assert B_SECRET_NAME not in body
    assert B_FILE not in body
    assert B_SECRET_NEED not in body
    assert "bravo-only purpose" not in body


@pytest.mark.parametrize("with_agreement", [False, True])
@pytest.mark.parametrize("role", ROLES_OF_A)
def test_agency_a_cannot_reach_agency_bs_objects(client, agency_b, role, with_agreement):
    alpha = AgencyFactory(code="ALPHA", sector="police")
    break_glass_roles_default(actor=None, agency=alpha)  # its key workers and practitioners may break the glass
    if with_agreement:
        agreement_create(actor=None, reference="ISA-AB", title="A and B", lawful_basis="public_task",
                         purposes="Testing", purpose_codes=PURPOSES, data_categories=["identity", "contacts", "needs"], starts_on="2020-01-01",
                         parties={alpha: Tier.FULL, agency_b["agency"]: Tier.FULL})
    user = UserFactory(agency=alpha, role=role)
    sign_in(client, user)
    before = snapshot()
    for name, build in OBJECT_URLS.items():
        refused_before = AuditEvent.objects.filter(action="refused").count()
        response = client.get(build(agency_b))
        assert response.status_code in (403, 404), name
        assert_no_data(response)
        assert AuditEvent.objects.filter(action="refused").count() == refused_before + 1, name
    for name, build in TIERED_URLS.items():
        response = client.get(build(agency_b))
        if role in NO_PERSON_ACCESS:
            assert response.status_code == 403, name
            assert_no_data(response)
        elif with_agreement:
            assert response.status_code == 200 and B_SECRET_NEED in response.content.decode(), name
        else:
            # A holds no record of B's person: the person and household answer as if they did not exist.
            assert response.status_code == 404, name
            assert_no_data(response)
    for name, build in PERSON_FORMS.items():
        response = client.get(build(agency_b))
        if role in NO_PERSON_ACCESS:
            expected = 403
        elif not with_agreement:
            expected = 404  # A may not identify B's person: as if there were no such person
        else:
            expected = 200 if name != "web:break_glass" or may_break_glass(user) else 403
        assert response.status_code == expected, name
        assert_no_data(response)
    for name, build in SUBJECT_FORMS.items():
        response = client.get(build(agency_b))
        expected = (200 if with_agreement else 404) if may_open_cases(user) else 403
        assert response.status_code == expected, name
        # Names are a signpost; B's records and its case stay out of sight.
        assert B_SECRET_NEED not in response.content.decode() and B_FILE not in response.content.decode(), name
    for name, build in POST_OBJECT_URLS.items():
        response = client.post(build(agency_b))
        assert response.status_code in (403, 404), name
        assert_no_data(response)
    for name, build in CONTACT_FORMS.items():
        response = client.get(build(agency_b))
        expected = (200 if with_agreement else 404) if may_log_contacts(user) else 403
        assert response.status_code == expected, name
        assert B_SECRET_NEED not in response.content.decode() and B_FILE not in response.content.decode(), name
    for name, path in OWN_WRITE_URLS.items():
        response = client.post(path, {}, content_type="application/json")
        assert response.status_code == (400 if may_log_contacts(user) else 403), name
        assert_no_data(response)
    for name, path in SEARCH_URLS.items():
        response = client.get(path)
        assert response.status_code == (403 if role in NO_PERSON_ACCESS else 200), name
        if with_agreement and role not in NO_PERSON_ACCESS:
            assert B_SECRET_NAME in response.content.decode(), name
        else:
            assert_no_data(response)
    for name, path in LIST_URLS.items():
        response = client.get(path)
        assert response.status_code in (200, 403), name
        assert_no_data(response)
    for name, path in AUDIT_URLS.items():
        response = client.get(path)
        assert response.status_code == (200 if may_read_audit(user) else 403), name
        if role == Role.AUDITOR:
            body = response.content.decode()
            assert B_SECRET_NAME not in body and B_FILE not in body, name
        else:
            assert_no_data(response)
            assert "BRAVO" not in response.content.decode(), name
    for model in admin.site._registry:
        response = client.get(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"))
        # DPOs and auditors read the audit trail in the admin pages; nobody else in A reaches admin.
        expected = (200,) if model is AuditEvent and may_read_audit(user) else (302, 403)
        assert response.status_code in expected, model
        assert_no_data(response)
    assert snapshot() == before


def all_paths(agency_b):
    paths = [(build(agency_b), "get") for build in (*OBJECT_URLS.values(), *TIERED_URLS.values(),
                                                    *PERSON_FORMS.values(), *SUBJECT_FORMS.values(),
                                                    *CONTACT_FORMS.values())]
    paths += [(build(agency_b), "post") for build in POST_OBJECT_URLS.values()]
    paths += [(path, "post") for path in OWN_WRITE_URLS.values()]
    paths += [(path, "get") for path in (*LIST_URLS.values(), *AUDIT_URLS.values(), *SEARCH_URLS.values())]
    paths += [("/admin/", "get")]
    return paths


def test_anonymous_sessions_reach_only_the_sign_in_pages(client, agency_b):
    for path, method in all_paths(agency_b):
        response = getattr(client, method)(path)
        if path.startswith("/api/"):
            assert response.status_code in (401, 403), path
        else:
            assert response.status_code == 302, path
            assert response["Location"].startswith(("/sign-in/", "/admin/login/")), path
        assert_no_data(response)
    assert client.get("/sign-in/").status_code == 200


def test_password_only_sessions_reach_only_the_second_factor(client, agency_b):
    user = UserFactory(agency=agency_b["agency"], role=Role.AGENCY_ADMIN)
    client.force_login(user)  # a password sign-in, no second factor yet
    for path, method in all_paths(agency_b):
        response = getattr(client, method)(path)
        if path.startswith("/api/"):
            assert response.status_code == 403, path
        else:
            assert response.status_code == 302, path
            assert response["Location"].startswith("/two-factor/"), path
        assert_no_data(response)
    assert client.get("/two-factor/setup/").status_code == 200
