"""New records are linked as soon as they are imported: queued after an upload, one link at a time,
with the truth on the job page (waiting, linking, linked, failed), and recovered when a worker dies."""

import time
from datetime import timedelta
from importlib import import_module

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from onecase.accounts.models import Role
from onecase.contacts.models import Contact, DemandClass, NeedCategory
from onecase.contacts.services import demand_classify
from onecase.imports import jobs as import_jobs
from onecase.imports.models import ImportJob
from onecase.imports.services import import_contacts
from onecase.imports.tasks import check_import_job, run_import_job
from onecase.linkage import jobs, services
from onecase.linkage.models import LinkRequest, LinkRun
from onecase.linkage.run import Runner
from onecase.linkage.services import link_now, link_run, link_soon
from onecase.linkage.synthetic import Generator, load
from onecase.people.models import AgencyPerson, PersonLink
from tests.auth import sign_in
from tests.factories import AgencyFactory, UserFactory

pytestmark = pytest.mark.django_db

HEADER = "record_id,person_ref,occurred_at,contact_type,given_name,family_name,date_of_birth,sex,address_line,postcode\n"
KNOWN = (
    "F1,FP1,2025-01-10T10:00:00,fire_safety_visit,Kelly,Smith,1982-11-21,F,14 Hanley Road,ST1 4HH\n"
    "F2,FP1,2025-02-10T10:00:00,fire_safety_visit,Kelly,Smith,1982-11-21,F,14 Hanley Road,ST1 4HH\n"
    "F3,FP2,2025-02-11T10:00:00,fire_safety_visit,Jack,Smith,2008-05-02,M,14 Hanley Road,ST1 4HH\n"
)
# The same Kelly Smith, under a reference the police have never used before.
UPLOAD = (
    "P1,NEW-77,2025-03-01T09:00:00,incident,Kellie,Smith,1982-11-21,F,\"14, Hanley Rd\",ST14HH\n"
    "P2,NEW-77,2025-03-02T09:00:00,incident,Kellie,Smith,1982-11-21,F,\"14, Hanley Rd\",ST14HH\n"
    "P3,NEW-77,2025-03-03T09:00:00,incident,Kelly,Smith,1982-11-21,F,\"14, Hanley Rd\",ST14HH\n"
)


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    yield
    cache.clear()


@pytest.fixture
def worker(monkeypatch):
    """The job worker, run at once: queued tasks are called as the worker would call them."""
    ran = []

    def run(func, *args, **kwargs):
        module, name = func.rsplit(".", 1)
        ran.append(func)
        getattr(import_module(module), name)(*args)

    monkeypatch.setattr(import_jobs, "async_task", run)
    monkeypatch.setattr(jobs, "async_task", run)
    return ran


@pytest.fixture
def queued(monkeypatch):
    """The broker: tasks are noted, not run."""
    calls = []
    monkeypatch.setattr(import_jobs, "async_task", lambda func, *args, **kwargs: calls.append(func))
    monkeypatch.setattr(jobs, "async_task", lambda func, *args, **kwargs: calls.append(func))
    return calls


@pytest.fixture
def kelly(write_file):
    """Kelly Smith and her son, known to the fire service and linked."""
    import_contacts(actor=None, path=write_file("fire.csv", HEADER + KNOWN), agency_code="FIRE")
    link_run(actor=None)
    return PersonLink.objects.get(agency_person__person_ref="FP1", undone_at__isnull=True).person


@pytest.fixture
def police_admin(db):
    return UserFactory(username="police_admin", role=Role.AGENCY_ADMIN, agency=AgencyFactory(code="POLICE"))


def upload(client, user, capture, content: str = HEADER + UPLOAD) -> ImportJob:
    """Upload through the page, let the worker check the file, and start the import."""
    sign_in(client, user)
    with capture(execute=True):
        response = client.post(reverse("web:import_new"),
                               {"agency": "POLICE", "file": SimpleUploadedFile("police.csv", content.encode())})
    job = ImportJob.objects.get(pk=int(response["Location"].rstrip("/").split("/")[-1]))
    if job.status == ImportJob.Status.CHECKING:  # the broker only noted the task
        check_import_job(job.pk)
    with capture(execute=True):
        client.post(reverse("web:import_start", args=[job.pk]))
    job.refresh_from_db()
    return job


def page(client, job) -> str:
    return client.get(reverse("web:import_detail", args=[job.pk])).content.decode()


def status(client, job, linking: bool = True):
    url = reverse("web:import_status", args=[job.pk]) + ("?linking=1" if linking else "")
    return client.get(url, HTTP_HX_REQUEST="true")


# --- an upload is linked without anyone running `link` ---------------------------------------------


def test_an_upload_for_a_known_person_under_a_new_reference_is_linked_to_them(
    client, police_admin, kelly, worker, django_capture_on_commit_callbacks
):
    job = upload(client, police_admin, django_capture_on_commit_callbacks)
    assert job.status == ImportJob.Status.SUCCEEDED
    assert worker == [import_jobs.CHECK_TASK, import_jobs.TASK, jobs.TASK]
    request = job.link_request
    assert request.status == LinkRequest.Status.FINISHED and request.run.mode == LinkRun.Mode.INCREMENTAL
    police = Contact.objects.filter(agency__code="POLICE")
    assert sorted(police.values_list("record_id", flat=True)) == ["P1", "P2", "P3"]
    assert set(police.values_list("person_id", flat=True)) == {kelly.pk}
    assert set(police.values_list("household_id", flat=True)) == {kelly.household_id}
    assert set(Contact.objects.filter(person=kelly).values_list("record_id", flat=True)) == {"F1", "F2", "P1", "P2",
                                                                                            "P3"}
    html = page(client, job)
    assert "Import complete" in html
    assert "Linked: 0 new people, 1 link" in html
    assert "Progress" not in html  # nothing left to wait for


def test_an_upload_that_changes_nothing_asks_for_no_link(
    client, police_admin, kelly, worker, django_capture_on_commit_callbacks
):
    upload(client, police_admin, django_capture_on_commit_callbacks)
    worker.clear()
    again = upload(client, police_admin, django_capture_on_commit_callbacks)
    assert again.unchanged_count == 3 and again.link_request is None
    assert jobs.TASK not in worker
    assert "Linked to people" not in page(client, again)


def imported(client, user, capture) -> ImportJob:
    """Uploaded, checked and imported by the worker; its link asked for but not run."""
    job = upload(client, user, capture)
    assert job.status == ImportJob.Status.QUEUED
    with capture(execute=True):
        run_import_job(job.pk)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED
    return job


def test_the_job_page_shows_linking_waiting_then_running(
    client, police_admin, kelly, queued, django_capture_on_commit_callbacks
):
    job = imported(client, police_admin, django_capture_on_commit_callbacks)
    assert queued[-1] == jobs.TASK  # asked for once the import committed
    assert job.link_request.status == LinkRequest.Status.WAITING
    html = page(client, job)
    assert "Import complete" in html and "Waiting to link" in html
    assert "The new records are waiting to be linked to people" in html
    assert "?linking=1" in html  # the page keeps polling while they wait
    # A page loaded while the import ran is reloaded whole; a finished page's region is refreshed.
    assert status(client, job, linking=False).status_code == 200
    assert status(client, job, linking=False)["HX-Refresh"] == "true"
    assert "Waiting to link" in status(client, job).content.decode()

    claim = jobs._claim()
    cache.set(jobs.progress_key(claim), {"stage": "score", "percent": 30})
    part = status(client, job).content.decode()
    assert "Linking new records: 30%" in part and 'value="30"' in part

    jobs._finish(claim, run=LinkRun.objects.create(mode=LinkRun.Mode.INCREMENTAL, people_created=2,
                                                   links_created=3, status=LinkRun.Status.FINISHED))
    assert status(client, job)["HX-Refresh"] == "true"  # done: the page is loaded whole
    assert "Linked: 2 new people, 3 links" in page(client, job)


def test_a_failing_link_is_shown_on_the_job_page_and_the_import_is_kept(
    client, police_admin, kelly, worker, monkeypatch, django_capture_on_commit_callbacks
):
    def broken(**kwargs):
        raise RuntimeError("the model file is damaged")

    monkeypatch.setattr(services, "link_run", broken)
    job = upload(client, police_admin, django_capture_on_commit_callbacks)
    assert job.status == ImportJob.Status.SUCCEEDED
    assert Contact.objects.filter(agency__code="POLICE").count() == 3  # kept
    assert job.link_request.status == LinkRequest.Status.FAILED
    html = page(client, job)
    assert "Import complete" in html
    assert "Not linked" in html
    assert f"Linking failed: {jobs.ERROR}." in html
    assert "damaged" not in html  # the exception's text is never shown (nor logged)


def test_failure_demand_that_fails_after_linking_says_the_records_were_linked(
    client, police_admin, kelly, worker, monkeypatch, django_capture_on_commit_callbacks
):
    def broken(**kwargs):
        raise RuntimeError

    monkeypatch.setattr("onecase.contacts.services.demand_classify", broken)
    job = upload(client, police_admin, django_capture_on_commit_callbacks)
    request = job.link_request
    assert request.status == LinkRequest.Status.FAILED and request.message == jobs.DEMAND
    assert request.run.status == LinkRun.Status.FINISHED
    assert set(Contact.objects.filter(agency__code="POLICE").values_list("person_id", flat=True)) == {kelly.pk}


# --- one link at a time ----------------------------------------------------------------------------


def test_requests_join_the_one_waiting_and_wait_for_the_one_running(kelly, queued,
                                                                    django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = link_soon(reason="upload")
    with django_capture_on_commit_callbacks(execute=True):
        joined = link_soon(reason="contact logged")
    assert joined.pk == first.pk and joined.asks == 2 and queued == [jobs.TASK]  # asked for once

    claim = jobs._claim()
    assert LinkRequest.objects.get(pk=first.pk).status == LinkRequest.Status.RUNNING
    with django_capture_on_commit_callbacks(execute=True):
        later = link_soon(reason="upload")
    assert later.pk != first.pk and later.status == LinkRequest.Status.WAITING
    runs = LinkRun.objects.count()
    assert jobs.link_waiting() == []  # a link is running: no second one
    assert jobs._claim() is None
    assert LinkRun.objects.count() == runs and LinkRequest.objects.get(pk=later.pk).status == "waiting"

    jobs._finish(claim, run=None, message="")
    assert jobs.link_waiting() == [1]  # the next run takes what waited
    later.refresh_from_db()
    assert later.status == LinkRequest.Status.FINISHED and later.run.mode == LinkRun.Mode.INCREMENTAL


def test_the_command_line_waits_for_a_link_running_elsewhere(kelly, queued, monkeypatch,
                                                            django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        link_soon(reason="upload")
    elsewhere = jobs._claim()  # the job worker is linking
    cache.set(jobs.heartbeat_key(elsewhere), time.time())
    told = []
    # While this process waits, the worker's run finishes.
    monkeypatch.setattr(time, "sleep", lambda seconds: jobs._finish(elsewhere))
    request = link_now(reason="command line", waiting=lambda: told.append(True))
    assert told == [True]
    assert request.status == LinkRequest.Status.FINISHED and request.run.mode == LinkRun.Mode.INCREMENTAL
    assert request.run.started_at > LinkRequest.objects.get(claim=elsewhere).finished_at  # one after the other


def test_a_link_asked_for_by_writes_rolled_back_is_never_queued(kelly, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        with transaction.atomic():
            link_soon(reason="upload")
            raise RuntimeError  # the records were not written after all
    assert not LinkRequest.objects.exists() and queued == []


# --- a worker that dies mid-link -------------------------------------------------------------------


def test_a_link_whose_worker_died_runs_again_once_then_fails_saying_so(
    client, police_admin, kelly, queued, django_capture_on_commit_callbacks
):
    job = imported(client, police_admin, django_capture_on_commit_callbacks)

    def dies() -> LinkRun:
        claim = jobs._claim()  # the worker took it, started its run ...
        run = LinkRun.objects.create(mode=LinkRun.Mode.INCREMENTAL)
        cache.delete(jobs.heartbeat_key(claim))  # ... and stopped beating
        LinkRequest.objects.update(heartbeat_at=timezone.now() - jobs.LEASE - timedelta(seconds=1))
        return run

    run = dies()
    assert jobs.links_recover(now=timezone.now() - timedelta(seconds=5)) == 0  # its beat is still fresh then
    html = page(client, job)  # reading the page gives the run up: it waits to run again
    request = LinkRequest.objects.get()
    assert request.status == LinkRequest.Status.WAITING and request.attempt == 1
    assert "the first try stopped; trying again" in html
    run.refresh_from_db()
    assert run.status == LinkRun.Status.FAILED  # not left running

    dies()
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.links_recover() == 1
    request.refresh_from_db()
    assert request.status == LinkRequest.Status.FAILED and request.message == jobs.STOPPED
    html = page(client, job)
    assert f"Linking failed: {jobs.STOPPED}." in html and "Not linked" in html


def test_a_link_whose_worker_still_beats_is_left_alone(kelly, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        link_soon(reason="upload")
    claim = jobs._claim()
    LinkRequest.objects.update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    cache.set(jobs.heartbeat_key(claim), time.time())  # beating in the cache (SQLite)
    assert jobs.links_recover() == 0
    assert LinkRequest.objects.get().status == LinkRequest.Status.RUNNING


def test_a_request_nobody_took_is_queued_again(kelly, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        link_soon(reason="upload")  # committed, but the worker was never told
    assert jobs.links_recover() == 0 and queued == []  # too soon to tell
    assert jobs.links_recover(now=timezone.now() + jobs.LEASE + timedelta(seconds=1)) == 0
    assert queued == [jobs.TASK]


def test_link_recovery_is_scheduled_every_minute():
    schedule = Schedule.objects.get(func="onecase.linkage.tasks.recover_links")
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 1, -1)


# --- the incremental run: only what can have changed, with the same results ------------------------


def test_new_records_are_scored_only_against_linked_records_sharing_a_block_with_the_same_scores():
    population = Generator(13).generate(600)
    with transaction.atomic():
        load(population.records[:520])
    link_run(actor=None)
    with transaction.atomic():
        load(population.records[520:])

    runner = Runner()
    runner._read()
    runner._features(incremental=True)
    runner.parameters = runner.previous.model
    runner._score_new()
    restricted = runner.con.sql("SELECT unique_id_l, unique_id_r, p, w FROM onecase_edges ORDER BY 1, 2").fetchall()
    candidates = {r[0] for r in runner.con.sql("SELECT unique_id FROM onecase_candidates").fetchall()}
    linked = runner._features_rel("WHERE unique_id IN (SELECT agency_person_id FROM onecase_links) "
                                  "AND unique_id NOT IN (SELECT unique_id FROM onecase_new)")
    new = runner._features_rel("WHERE unique_id IN (SELECT unique_id FROM onecase_new)")
    new_ids = {r[0] for r in new.select("unique_id").fetchall()}
    # Every pair Splink's blocking makes between a new record and any linked one (scored or not).
    blocked = runner.engine.predict_new(linked, new, runner.parameters, 0.0)
    paired = {i for row in zip(blocked["unique_id_l"].to_pylist(), blocked["unique_id_r"].to_pylist(), strict=True)
              for i in row} - new_ids
    runner._candidates = lambda: runner.con.execute(  # every linked record, as before
        "CREATE OR REPLACE TABLE onecase_candidates AS SELECT agency_person_id AS unique_id FROM onecase_links "
        "WHERE agency_person_id NOT IN (SELECT unique_id FROM onecase_new)"
    )
    runner._score_new()
    everything = runner.con.sql("SELECT unique_id_l, unique_id_r, p, w FROM onecase_edges ORDER BY 1, 2").fetchall()
    total = len(linked)
    runner.con.close()
    assert candidates == paired and len(candidates) < total / 2
    assert restricted == everything and len(restricted) > 50


def test_an_incremental_run_leaves_contacts_and_failure_demand_as_a_whole_refresh_would(write_file):
    population = Generator(17).generate(500)
    with transaction.atomic():
        load(population.records[:430])
    link_run(actor=None)
    with transaction.atomic():
        load(population.records[430:])
    # New contacts of agency people linked already: two each about the same need, days apart.
    need = NeedCategory.objects.get(code="finances")
    agency_people = list(AgencyPerson.objects.filter(links__undone_at__isnull=True).order_by("pk")[:40])
    for i, ap in enumerate(agency_people):
        for days in (3, 1):
            Contact.objects.create(agency=ap.agency, record_id=f"NEW{i}-{days}", agency_person=ap,
                                   occurred_at=timezone.now() - timedelta(days=days), contact_type="call",
                                   presenting_need="rent arrears", need_category=need, imported_at=timezone.now(),
                                   updated_at=timezone.now())
    # A contact now recorded against another agency person (re-imported under another reference).
    moved = Contact.objects.exclude(agency_person__in=agency_people).filter(person__isnull=False).first()
    moved_to = agency_people[0]
    Contact.objects.filter(pk=moved.pk).update(agency_person=moved_to, person=None, household=None,
                                               updated_at=timezone.now())

    run = link_run(actor=None)
    assert run.mode == LinkRun.Mode.INCREMENTAL
    link = {ap: (p, h) for ap, p, h in PersonLink.objects.filter(undone_at__isnull=True).values_list(
        "agency_person_id", "person_id", "person__household_id")}
    rows = list(Contact.objects.values_list("agency_person_id", "person_id", "household_id"))
    assert all(link[ap] == (p, h) for ap, p, h in rows)
    assert Contact.objects.get(pk=moved.pk).person_id == link[moved_to.pk][0]
    judged = dict(Contact.objects.values_list("pk", "demand_class"))
    assert Contact.objects.filter(record_id__startswith="NEW", demand_class=DemandClass.FAILURE).count() >= 40
    demand_classify(actor=None)  # the whole ledger judged again changes nothing
    assert dict(Contact.objects.values_list("pk", "demand_class")) == judged


def test_a_contact_imported_again_under_another_reference_follows_it(write_file):
    import_contacts(actor=None, path=write_file("fire.csv", HEADER + KNOWN), agency_code="FIRE")
    link_run(actor=None)
    jack = PersonLink.objects.get(agency_person__person_ref="FP2", undone_at__isnull=True).person_id
    moved = HEADER + KNOWN.replace("F2,FP1,2025-02-10T10:00:00,fire_safety_visit,Kelly,Smith,1982-11-21,F",
                                   "F2,FP2,2025-02-10T10:00:00,fire_safety_visit,Jack,Smith,2008-05-02,M")
    import_contacts(actor=None, path=write_file("fire2.csv", moved), agency_code="FIRE")
    assert Contact.objects.get(record_id="F2").person_id is None  # not Kelly's any more, until linked
    assert link_run(actor=None).mode == LinkRun.Mode.INCREMENTAL
    assert Contact.objects.get(record_id="F2").person_id == jack
