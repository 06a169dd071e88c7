"""The web pages: sign-in, home, contact upload with preview, progress and result, admin."""

from io import BytesIO
from pathlib import Path

import pytest
from django.contrib import admin
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook

from onecase.accounts.models import Role
from onecase.accounts.sign_in import typed_username_hash
from onecase.contacts.models import Contact
from onecase.imports import jobs
from onecase.imports.models import ImportJob
from onecase.imports.tasks import check_import_job, run_import_job
from onecase.linkage.jobs import link_waiting
from onecase.sharing.models import AuditEvent
from tests.auth import current_code, sign_in, totp_device
from tests.conftest import PASSWORD
from tests.factories import AgencyFactory, UserFactory

HEADER = "record_id,person_ref,occurred_at,contact_type,given_name,family_name,postcode,favourite_colour"
VALID = (
    f"{HEADER}\n"
    "R1,P1,2024-03-01T09:30:00,incident,Jon,Smith,ST1 4HH,blue\n"
    "R2,P1,2024-03-02,incident,Jon,Smith,ST1 4HH,blue\n"
    "R3,P2,2024-03-03,asb_report,Mary,Jones,,green\n"
)
INVALID = f"{HEADER}\nR1,P1,2024-03-01,incident,Jon,Smith,,\nR2,P2,not-a-date,incident,Mary,Jones,,\n"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    yield
    cache.clear()


@pytest.fixture
def queued(monkeypatch):
    """Replace the job queue with a list; tests run the queued task themselves."""
    calls = []
    monkeypatch.setattr(jobs, "async_task", lambda func, *args, **kwargs: calls.append((func, args)))
    return calls


def upload(client, content: str, agency: str = "POLICE", name: str = "police.csv"):
    """Upload a file, then let the worker check it (as it would once the upload is saved)."""
    response = post_file(client, content, agency, name)
    if response.status_code == 302:
        check_import_job(int(response["Location"].rstrip("/").split("/")[-1]))
    return response


def post_file(client, content: str, agency: str = "POLICE", name: str = "police.csv"):
    file = SimpleUploadedFile(name, content.encode(), content_type="text/csv")
    return client.post(reverse("web:import_new"), {"agency": agency, "file": file})


def test_pages_need_sign_in(client):
    for url in (
        reverse("web:home"),
        reverse("web:import_list"),
        reverse("web:import_new"),
        reverse("web:import_detail", args=[1]),
        reverse("web:import_status", args=[1]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("web:login") + "?next=")


def test_sign_in_page_has_the_govuk_template(client):
    html = client.get(reverse("web:login")).content.decode()
    assert '<html lang="en" class="govuk-template">' in html
    assert "<title>Sign in – OneCase</title>" in html
    assert 'href="#main-content"' in html and 'id="main-content"' in html
    assert "govuk-phase-banner" in html and "Alpha" in html
    assert "Sign out" not in html
    assert "<script>" not in html  # no inline scripts
    assert html.count("csrfmiddlewaretoken") == 1


def test_sign_in_page_explains_an_ended_session(client):
    assert "You were signed out because" in client.get(reverse("web:login") + "?expired=1").content.decode()


def test_sign_in_sign_out_and_failed_sign_in_are_audited(client, agency_admin):
    response = client.post(reverse("web:login"), {"username": "police_admin", "password": "wrong password!"})
    assert response.status_code == 200
    assert "Error: Sign in – OneCase" in response.content.decode()
    failed = AuditEvent.objects.get(action=AuditEvent.Action.SIGN_IN_FAILED)
    # The typed username is kept as a keyed hash; the account it names is linked.
    assert failed.user == agency_admin and failed.username == "police_admin"
    assert failed.detail == {"username_hash": typed_username_hash("police_admin"), "known_account": True}
    assert "wrong password" not in str(failed.detail)

    device = totp_device(agency_admin)
    response = client.post(reverse("web:login"), {"username": "police_admin", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("web:home")
    signed_in = AuditEvent.objects.get(action=AuditEvent.Action.SIGN_IN)
    assert (signed_in.user, signed_in.agency_code, signed_in.ip) == (agency_admin, "POLICE", "127.0.0.1")
    # The password alone is not enough: the second factor comes first.
    assert client.get(reverse("web:home"))["Location"] == "/two-factor/?next=/"
    response = client.post("/two-factor/", {"code": current_code(device), "next": "/"})
    assert response["Location"] == "/"

    home = client.get(reverse("web:home")).content.decode()
    assert "Sign out" in home and "Upload contacts" in home
    response = client.post(reverse("web:logout"))
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action=AuditEvent.Action.SIGN_OUT, user=agency_admin).count() == 1
    assert client.get(reverse("web:home")).status_code == 302


def test_unknown_username_is_audited_without_an_account(client):
    client.post(reverse("web:login"), {"username": "nobody", "password": "whatever it is"})
    event = AuditEvent.objects.get(action=AuditEvent.Action.SIGN_IN_FAILED)
    assert event.user is None and event.username == ""
    assert event.detail == {"username_hash": typed_username_hash("nobody"), "known_account": False}


def test_home_shows_only_the_agencies_the_user_may_see(client, partnership_admin):
    police, fire = AgencyFactory(code="POLICE", name="Alpha Police"), AgencyFactory(code="FIRE", name="Beta Fire")
    practitioner = UserFactory(agency=police, role=Role.PRACTITIONER)
    sign_in(client, practitioner)
    html = client.get(reverse("web:home")).content.decode()
    assert "Alpha Police" in html  # the header names their agency
    assert "Beta Fire" not in html
    assert "Upload contacts" not in html  # practitioners do not import

    sign_in(client, UserFactory(agency=police, role=Role.AUDITOR))  # counts, for their own agency only
    html = client.get(reverse("web:home")).content.decode()
    assert '<th scope="row" class="govuk-table__header">Alpha Police</th>' in html
    assert "Beta Fire" not in html
    assert 'scope="col"' in html and "<caption" in html and "Total" in html

    sign_in(client, partnership_admin)
    html = client.get(reverse("web:home")).content.decode()
    assert "Alpha Police" in html and "Beta Fire" in html
    assert fire.name in html


def test_home_counts_and_totals(client, agency_admin, queued, django_capture_on_commit_callbacks):
    sign_in(client, agency_admin)
    job_id = int(upload(client, VALID)["Location"].rstrip("/").split("/")[-1])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("web:import_start", args=[job_id]))
    run_import_job(job_id)
    response = client.get(reverse("web:home"))
    rows = {row["agency"].code: row for row in response.context["rows"]}
    assert (rows["POLICE"]["contacts"], rows["POLICE"]["source_people"]) == (3, 2)
    assert response.context["totals"] == {"contacts": 3, "source_people": 2}


def test_valid_upload_previews_then_imports(client, agency_admin, queued, django_capture_on_commit_callbacks):
    sign_in(client, agency_admin)
    response = upload(client, VALID)
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("web:import_detail", args=[job.pk])
    assert job.status == ImportJob.Status.PREVIEWED and job.total_rows == 3
    assert Path(job.stored_path).parent == Path(jobs.settings.UPLOAD_DIR)
    assert Path(job.stored_path).name != "police.csv"

    response = client.get(response["Location"])
    html = response.content.decode()
    assert "police.csv" in html
    assert "record_id, person_ref, occurred_at, contact_type, given_name, family_name, postcode" in html
    assert "Column favourite_colour is not part of the contact format" in html
    assert "Mary" in html  # a sample row
    assert len(response.context["sample"]["rows"]) == 3
    assert "Start import" in html and "govuk-error-summary" not in html
    view = AuditEvent.objects.get(action=AuditEvent.Action.VIEW, object_type="import_job")
    assert (view.user, view.object_id, view.detail) == (agency_admin, str(job.pk), {"rows_shown": 3})
    assert Contact.objects.count() == 0

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("web:import_start", args=[job.pk]))
    assert response.status_code == 302
    assert queued == [("onecase.imports.tasks.run_import_job", (job.pk,))]
    job.refresh_from_db()
    assert job.status == ImportJob.Status.QUEUED
    html = client.get(reverse("web:import_detail", args=[job.pk])).content.decode()
    assert 'aria-live="polite"' in html and 'hx-trigger="every 2s"' in html
    assert "0 of 3 rows (0%)" in html and "Refresh progress" in html
    assert "<meta http-equiv" not in html

    assert run_import_job(job.pk) == {"job": job.pk, "status": "succeeded"}
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED
    assert (job.created_count, job.updated_count, job.unchanged_count, job.processed_rows) == (3, 0, 0, 3)
    assert Contact.objects.filter(agency__code="POLICE").count() == 3
    assert not Path(job.stored_path).exists()  # the upload is not kept once imported
    html = client.get(reverse("web:import_detail", args=[job.pk])).content.decode()
    assert "Import complete" in html and "New contacts" in html and "Start import" not in html
    # Its records wait to be linked, and the page follows that until they are.
    assert "Waiting to link" in html and "?linking=1" in html and 'hx-trigger="every 2s"' in html
    assert link_waiting() == [1]
    html = client.get(reverse("web:import_detail", args=[job.pk])).content.decode()
    assert "hx-trigger" not in html and "Linked: 2 new people, 2 links" in html

    # Starting twice does nothing.
    client.post(reverse("web:import_start", args=[job.pk]))
    assert len(queued) == 1


def test_invalid_upload_is_rejected_with_line_and_column(client, agency_admin, queued):
    sign_in(client, agency_admin)
    response = upload(client, INVALID, name="bad.csv")
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.REJECTED
    response = client.get(response["Location"])
    html = response.content.decode()
    assert "line 3, column occurred_at: &#x27;not-a-date&#x27; is not an ISO 8601 date or date-time" in html
    assert "govuk-error-summary" in html and "Rejected" in html
    assert "<title>Error: Check bad.csv – OneCase</title>" in html
    assert "Start import" not in html
    client.post(reverse("web:import_start", args=[job.pk]))
    assert queued == []
    job.refresh_from_db()
    assert job.status == ImportJob.Status.REJECTED
    assert Contact.objects.count() == 0


def test_xlsx_upload_is_checked_by_the_worker_then_previewed(
    client, agency_admin, queued, django_capture_on_commit_callbacks
):
    workbook = Workbook()
    sheet = workbook.active
    for line in VALID.splitlines():
        sheet.append(line.split(","))
    buffer = BytesIO()
    workbook.save(buffer)
    sign_in(client, agency_admin)
    file = SimpleUploadedFile("police.xlsx", buffer.getvalue())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("web:import_new"), {"agency": "POLICE", "file": file})
    job = ImportJob.objects.get()
    # The request only stores the file: the rows are read by the worker.
    assert job.status == ImportJob.Status.CHECKING and job.total_rows == 0
    assert queued == [("onecase.imports.tasks.check_import_job", (job.pk,))]
    html = client.get(response["Location"]).content.decode()
    assert "<title>Checking police.xlsx – OneCase</title>" in html
    assert 'hx-trigger="every 2s"' in html and "Not counted yet" in html and "Start import" not in html
    assert check_import_job(job.pk) == {"job": job.pk, "status": "previewed"}
    job.refresh_from_db()
    assert job.status == ImportJob.Status.PREVIEWED and job.total_rows == 3
    sample = client.get(response["Location"]).context["sample"]
    assert sample["rows"][2][:2] == ["R3", "P2"]
    assert sample["ignored"] == ["favourite_colour"]


def test_upload_form_errors(client, agency_admin):
    sign_in(client, agency_admin)
    response = upload(client, VALID, name="police.txt")
    html = response.content.decode()
    assert response.status_code == 200
    assert "The selected file must be a CSV or XLSX file" in html
    assert 'href="#id_file"' in html  # the error summary links to the field
    response = client.post(reverse("web:import_new"), {"agency": "POLICE"})
    assert "Select a CSV or XLSX file" in response.content.decode()
    response = upload(client, VALID, agency="FIRE")
    assert "Select the agency the file belongs to" in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_only_partnership_admins_may_name_agencies_in_the_file(client, agency_admin, partnership_admin, queued):
    sign_in(client, agency_admin)
    html = client.get(reverse("web:import_new")).content.decode()
    assert "Named in the file" not in html
    response = upload(client, VALID, agency="in-file")
    assert response.status_code == 200 and ImportJob.objects.count() == 0

    sign_in(client, partnership_admin)
    html = client.get(reverse("web:import_new")).content.decode()
    assert "Named in the file (agency column)" in html
    content = "agency," + VALID.replace("\n", "\nPOLICE,").removesuffix("POLICE,")
    response = upload(client, content, agency="in-file")
    job = ImportJob.objects.get()
    assert job.agency is None and job.status == ImportJob.Status.PREVIEWED


def test_practitioners_cannot_upload_or_see_other_agencies_jobs(client, agency_admin):
    sign_in(client, agency_admin)
    upload(client, VALID)
    job = ImportJob.objects.get()

    other = UserFactory(agency=AgencyFactory(code="FIRE"), role=Role.PRACTITIONER)
    sign_in(client, other)
    assert client.get(reverse("web:import_new")).status_code == 403
    assert client.post(reverse("web:import_new")).status_code == 403
    assert client.get(reverse("web:import_detail", args=[job.pk])).status_code == 404
    assert client.get(reverse("web:import_status", args=[job.pk]), HTTP_HX_REQUEST="true").status_code == 404
    assert client.post(reverse("web:import_start", args=[job.pk])).status_code == 404
    assert "police.csv" not in client.get(reverse("web:import_list")).content.decode()

    # A practitioner of the same agency sees the job but cannot start it.
    colleague = UserFactory(agency=agency_admin.agency, role=Role.PRACTITIONER)
    sign_in(client, colleague)
    html = client.get(reverse("web:import_detail", args=[job.pk])).content.decode()
    assert "Start import" not in html
    assert client.post(reverse("web:import_start", args=[job.pk])).status_code == 403
    assert "police.csv" in client.get(reverse("web:import_list")).content.decode()


def test_progress_region_reads_the_cache_while_running(client, agency_admin):
    sign_in(client, agency_admin)
    upload(client, VALID)
    job = ImportJob.objects.get()
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING, total_rows=48000)
    cache.set(jobs.progress_key(job.pk), {"processed": 12000, "total": 48000})
    url = reverse("web:import_status", args=[job.pk])

    response = client.get(url, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "12,000 of 48,000 rows (25%)" in html
    assert 'hx-trigger="every 2s"' in html and "<html" not in html
    assert client.get(url)["Location"] == reverse("web:import_detail", args=[job.pk])  # without htmx

    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.SUCCEEDED)
    response = client.get(url, HTTP_HX_REQUEST="true")
    assert response["HX-Refresh"] == "true"


def test_signed_out_poll_sends_htmx_to_sign_in(client):
    response = client.get(reverse("web:import_status", args=[1]), HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"].startswith(reverse("web:login"))


def test_imports_list_is_scoped(client, agency_admin, partnership_admin):
    sign_in(client, agency_admin)
    upload(client, VALID)
    fire_admin = UserFactory(agency=AgencyFactory(code="FIRE"), role=Role.AGENCY_ADMIN)
    sign_in(client, fire_admin)
    upload(client, VALID.replace("R1", "F1"), agency="FIRE", name="fire.csv")

    html = client.get(reverse("web:import_list")).content.decode()
    assert "fire.csv" in html and "police.csv" not in html
    sign_in(client, partnership_admin)
    html = client.get(reverse("web:import_list")).content.decode()
    assert "fire.csv" in html and "police.csv" in html


def test_imports_list_pages_from_newer_to_older(client, agency_admin, monkeypatch):
    from onecase.web import views

    monkeypatch.setattr(views, "JOBS_PER_PAGE", 1)
    sign_in(client, agency_admin)
    upload(client, VALID, name="first.csv")
    upload(client, VALID.replace("R1", "S1"), name="second.csv")
    newest = client.get(reverse("web:import_list")).content.decode()
    assert "second.csv" in newest and "first.csv" not in newest
    assert 'href="?page=2" rel="next"' in newest and "Older" in newest and "Newer" not in newest
    older = client.get(reverse("web:import_list") + "?page=2").content.decode()
    assert "first.csv" in older and 'href="?page=1" rel="prev"' in older and "Newer" in older


def test_admin_pages_and_read_only_audit(client, partnership_admin):
    partnership_admin.is_staff = partnership_admin.is_superuser = True
    partnership_admin.save()
    sign_in(client, partnership_admin)
    assert "Admin" in client.get(reverse("web:home")).content.decode()
    for model in ("accounts.agency", "accounts.user", "people.agencyperson", "people.person", "people.household",
                  "people.address", "people.personlink", "contacts.contact", "imports.importjob",
                  "audit.auditevent"):
        app_label, model_name = model.split(".")
        response = client.get(reverse(f"admin:{app_label}_{model_name}_changelist"))
        assert response.status_code == 200, model
    model_admin = admin.site._registry[AuditEvent]
    request = type("R", (), {"user": partnership_admin})()
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    html = client.get(reverse("admin:accounts_user_change", args=[partnership_admin.pk])).content.decode()
    assert 'name="role"' in html and 'name="agency"' in html
