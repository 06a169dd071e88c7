"""The permission matrix: every URL, as every role of agency A, against agency B's objects.

Each URL in the URLconf must be listed here, so a new page cannot escape the matrix.
"""

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import get_resolver, reverse

from onecase.accounts.models import Role
from onecase.accounts.rules import NO_PERSON_ACCESS
from onecase.contacts.services import resolution_refresh
from onecase.imports.jobs import job_create
from onecase.imports.services import import_contacts
from onecase.people.models import Address, AgencyPerson, Household, Person, PersonLink
from onecase.sharing.models import AuditEvent, Tier
from onecase.sharing.rules import may_read_audit
from onecase.sharing.services import agreement_create, disclosure_request_create
from tests.auth import sign_in
from tests.factories import AgencyFactory, UserFactory

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
# Profiles are disclosed tier by tier: a signpost (name, agencies involved) without an agreement.
TIERED_URLS = {
    "web:household": lambda b: reverse("web:household", args=[b["household"].pk]),
    "web:person": lambda b: reverse("web:person", args=[b["person"].pk]),
}
# Forms about one of B's people: they show nothing of B's records, and write nothing on a GET.
PERSON_FORMS = {
    "web:access_request": lambda b: reverse("web:access_request", args=[b["person"].pk]),
    "web:break_glass": lambda b: reverse("web:break_glass", args=[b["person"].pk]),
}
POST_OBJECT_URLS = {
    "web:request_decide": lambda b: reverse("web:request_decide", args=[b["request"].pk]),
    "web:import_start": lambda b: reverse("web:import_start", args=[b["job"].pk]),
}
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
    "web:requests": "/requests/",
    "web:dpo": "/data-protection/",
    "api:schema": "/api/v1/schema/",
    "api:docs": "/api/v1/docs/",
}
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
    covered = set(OBJECT_URLS) | set(TIERED_URLS) | set(PERSON_FORMS) | set(POST_OBJECT_URLS) | set(LIST_URLS) | set(ALLOWLIST) | {"admin:login"}
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
    charlie = UserFactory(agency=AgencyFactory(code="CHARLIE"), role=Role.KEY_WORKER)
    request = disclosure_request_create(actor=charlie, person=person, owner_agency=bravo, purpose="bravo-only purpose")
    return {"agency": bravo, "job": job, "household": household, "person": person, "request": request}


def snapshot():
    """Row counts of every table but the audit trail (and sessions, which sign-in writes)."""
    skip = {"sharing.auditevent", "sessions.session", "axes.accesslog", "axes.accessattempt"}
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
    alpha = AgencyFactory(code="ALPHA")
    if with_agreement:
        agreement_create(actor=None, reference="ISA-AB", title="A and B", lawful_basis="public_task",
                         purposes="Testing", data_categories=["identity", "contacts"], starts_on="2020-01-01",
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
            assert response.status_code == 200, name
            assert B_SECRET_NEED not in response.content.decode(), name  # a signpost, never the record
            assert "Signpost" in response.content.decode(), name
    for name, build in PERSON_FORMS.items():
        response = client.get(build(agency_b))
        assert response.status_code == (403 if role in NO_PERSON_ACCESS else 200), name
        assert_no_data(response)
    for name, build in POST_OBJECT_URLS.items():
        response = client.post(build(agency_b))
        assert response.status_code in (403, 404), name
        assert_no_data(response)
    for name, path in LIST_URLS.items():
        response = client.get(path)
        assert response.status_code in (200, 403), name
        assert_no_data(response)
    for model in admin.site._registry:
        response = client.get(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"))
        # DPOs and auditors read the audit trail in the admin pages; nobody else in A reaches admin.
        expected = (200,) if model is AuditEvent and may_read_audit(user) else (302, 403)
        assert response.status_code in expected, model
        assert_no_data(response)
    assert snapshot() == before


def all_paths(agency_b):
    paths = [(build(agency_b), "get") for build in (*OBJECT_URLS.values(), *TIERED_URLS.values(),
                                                    *PERSON_FORMS.values())]
    paths += [(build(agency_b), "post") for build in POST_OBJECT_URLS.values()]
    paths += [(path, "get") for path in LIST_URLS.values()]
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
