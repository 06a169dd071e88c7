"""Imports facing bad files and dying workers: rejected quickly and clearly, and recovered truthfully."""

import os
import random
import re
import sqlite3
import subprocess  # noqa: S404
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule
from openpyxl import Workbook

from onecase.contacts.models import Contact
from onecase.imports import jobs, services, tasks
from onecase.imports.contact_format import RowValidator, read_layout
from onecase.imports.jobs import LEASE, heartbeat_key, jobs_recover
from onecase.imports.models import ImportJob
from onecase.imports.services import ImportRejected, import_contacts
from onecase.imports.tasks import check_import_job, recover_import_jobs, run_import_job
from onecase.sharing.models import AuditEvent
from tests.auth import sign_in

pytestmark = pytest.mark.django_db

HEADER = "record_id,person_ref,occurred_at,contact_type,given_name,presenting_need"
ROWS = 7
VALID = HEADER + "\n" + "".join(f"R{i},P{i % 3},2024-03-{i + 1:02d},call,Ann,needs help\n" for i in range(ROWS))
SANITY_SECONDS = 20  # far above what a rejection takes; only catches a request that reads the whole sheet


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    yield
    cache.clear()


@pytest.fixture
def queued(monkeypatch):
    calls = []
    monkeypatch.setattr(jobs, "async_task", lambda func, *args, **kwargs: calls.append((func, args)))
    return calls


def uploads(settings) -> list[Path]:
    folder = Path(settings.UPLOAD_DIR)
    return sorted(folder.iterdir()) if folder.exists() else []


def post(client, name: str, content: bytes, agency: str = "POLICE"):
    started = time.monotonic()
    response = client.post(reverse("web:import_new"), {"agency": agency, "file": SimpleUploadedFile(name, content)})
    return response, time.monotonic() - started


def random_bytes(size: int = 200_000) -> bytes:
    return random.Random(7).randbytes(size)


def wide_workbook(path: Path) -> Path:
    """A 16,384-column header and one cell at row 20,000: a small file that declares a huge sheet."""
    book = Workbook()
    sheet = book.active
    sheet.append([f"column {i}" for i in range(16_384)])
    sheet.cell(row=20_000, column=1, value="x")
    book.save(path)
    return path


# --- bad files through the upload page ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("random.csv", lambda tmp: random_bytes(),
         "The selected file cannot be used: it is not a CSV file (it holds binary data, not text)"),
        ("random.xlsx", lambda tmp: random_bytes(),
         "The selected file cannot be used: it is not an Excel workbook (.xlsx)"),
        ("wide.xlsx", lambda tmp: wide_workbook(tmp / "wide.xlsx").read_bytes(),
         "The selected file cannot be used: the first sheet is 16,384 columns wide; at most 200 are allowed"),
        ("wide.csv", lambda tmp: (",".join(f"c{i}" for i in range(50_000)) + "\n" + "x," * 49_999 + "x\n").encode(),
         "The selected file cannot be used: the header row has 50,000 columns; at most 200 are allowed"),
    ],
    ids=["random-csv", "random-xlsx", "16384-column-xlsx", "50000-column-csv"],
)
def test_bad_files_are_refused_by_the_upload_form(client, agency_admin, settings, tmp_path, name, make, message):
    sign_in(client, agency_admin)
    response, seconds = post(client, name, make(tmp_path))
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert "govuk-error-summary" in html and 'href="#id_file"' in html
    assert ImportJob.objects.count() == 0
    assert uploads(settings) == []  # the refused file is not kept
    assert seconds < SANITY_SECONDS


def test_a_workbook_without_declared_size_is_still_refused_for_a_wide_header(client, agency_admin, settings, tmp_path):
    import zipfile

    source = wide_workbook(tmp_path / "wide.xlsx")
    stripped = tmp_path / "stripped.xlsx"
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(stripped, "w", zipfile.ZIP_DEFLATED) as new:
        for item in old.infolist():
            data = old.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb"<dimension [^>]*/>", b"", data)
                assert b"<dimension" not in data
            new.writestr(item, data)
    sign_in(client, agency_admin)
    response, _ = post(client, "stripped.xlsx", stripped.read_bytes())
    assert "the header row has 16,384 columns; at most 200 are allowed" in response.content.decode()
    assert uploads(settings) == []


def test_rows_are_read_by_the_worker_not_the_upload_request(client, agency_admin, monkeypatch, settings):
    read = []
    monkeypatch.setattr(services, "RowValidator", lambda *a, **k: read.append(1) or RowValidator(*a, **k))
    sign_in(client, agency_admin)
    response, _ = post(client, "police.csv", VALID.encode())
    job = ImportJob.objects.get()
    assert response.status_code == 302 and job.status == ImportJob.Status.CHECKING and read == []
    check_import_job(job.pk)
    job.refresh_from_db()
    assert read == [1] and job.status == ImportJob.Status.PREVIEWED and job.total_rows == ROWS


def test_a_file_rejected_by_the_check_is_deleted(client, agency_admin, settings):
    sign_in(client, agency_admin)
    response, _ = post(client, "bad.csv", (VALID + "R99,P1,9999-12-31,call,Ann,x\n").encode())
    job = ImportJob.objects.get()
    assert len(uploads(settings)) == 1
    assert check_import_job(job.pk)["status"] == "rejected"
    assert uploads(settings) == []
    html = client.get(response["Location"]).content.decode()
    assert "line 9, column occurred_at: is more than a day in the future" in html
    event = AuditEvent.objects.get(object_type="import_job", detail__checked=True)
    assert event.detail == {"checked": True, "rows": ROWS + 1, "problems": 1}


def test_many_unknown_columns_give_one_warning():
    header = HEADER + "," + ",".join(f"extra {i}" for i in range(150))
    layout, _ = read_layout(header.split(","), agency_given=True)
    from onecase.imports.contact_format import unknown_column_warnings

    assert unknown_column_warnings(layout.ignored, done=False) == [
        "150 columns are not part of the contact format and will be ignored, for example: extra 0, extra 1, extra 2"
    ]
    assert len(unknown_column_warnings(layout.ignored[:5], done=True)) == 5


# --- bad files at the command line --------------------------------------------------------------


def test_the_command_refuses_random_bytes_in_one_line(tmp_path):
    path = tmp_path / "random.csv"
    path.write_bytes(random_bytes())
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"ONECASE_DATA_DIR": str(tmp_path / "var")}
    done = subprocess.run(  # noqa: S603
        [str(Path(sys.executable).with_name("onecase")), "import_contacts", "--agency", "POLICE", "--no-progress",
         str(path)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == [f"CommandError: {path}: rejected, nothing from this file was kept: "
                     "it is not a CSV file (it holds binary data, not text)"]
    assert done.stdout == ""


def test_the_command_refuses_random_bytes_named_xlsx(tmp_path):
    path = tmp_path / "random.xlsx"
    path.write_bytes(random_bytes())
    with pytest.raises(CommandError) as caught:
        call_command("import_contacts", str(path), agency="POLICE", no_progress=True)
    assert str(caught.value) == f"{path}: rejected, nothing from this file was kept: it is not an Excel workbook (.xlsx)"


# --- bad values ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("occurred_at", "9999-12-31", "is more than a day in the future"),
        ("occurred_at", "1899-12-31T23:00:00Z", "is before 1900"),
        ("date_of_birth", "1879-12-31", "is before 1880"),
        ("presenting_need", "x" * 120_000, "is longer than 2,000 characters"),
        ("given_name", "Jo\x00n", "contains a control character (character code 0)"),
        ("record_id", "R\t5", "contains a control character (character code 9)"),
        ("presenting_need", "help\x07me", "contains a control character (character code 7)"),
    ],
)
def test_bad_values_are_rejected_with_line_and_column(write_file, column, value, reason):
    header = ["record_id", "person_ref", "occurred_at", "contact_type", "date_of_birth", "given_name",
              "presenting_need"]
    good = {"record_id": "R1", "person_ref": "P1", "occurred_at": "2024-01-01", "contact_type": "call",
            "date_of_birth": "1980-01-01", "given_name": "Ann", "presenting_need": "help"}
    bad = good | {"record_id": "R2", column: value} if column != "record_id" else good | {column: value}
    rows = [",".join(header)] + [",".join(f'"{row[name]}"' for name in header) for row in (good, good | {"record_id": "R0"}, bad)]
    path = write_file("bad.csv", "\n".join(rows) + "\n")
    with pytest.raises(ImportRejected) as caught:
        import_contacts(actor=None, path=path, agency_code="POLICE")
    assert [str(p) for p in caught.value.problems] == [f"line 4, column {column}: {reason}"]
    assert Contact.objects.count() == 0
    # The batched checks (used on PostgreSQL) refuse the row too, leaving it to the row checks.
    layout, _ = read_layout(header, agency_given=True)
    assert RowValidator(layout, agency_code="POLICE").validate_columns([[bad[name] for name in header]]) is None
    assert RowValidator(layout, agency_code="POLICE").validate_columns([[good[name] for name in header]]) is not None


def test_free_text_keeps_tabs_and_line_breaks_but_no_other_control_character(write_file):
    header = "record_id,person_ref,occurred_at,contact_type,presenting_need\n"
    bad = write_file("bad.csv", header + 'R1,P1,2024-01-01,call,"first\tsecond\r\nthird\x1b"\n')
    with pytest.raises(ImportRejected) as caught:
        import_contacts(actor=None, path=bad, agency_code="POLICE")
    assert [str(p) for p in caught.value.problems] == [
        "line 2, column presenting_need: contains a control character (character code 27)"
    ]
    import_contacts(actor=None, path=write_file("ok.csv", header + 'R1,P1,2024-01-01,call,"first\tsecond\r\nthird"\n'),
                    agency_code="POLICE")
    assert Contact.objects.get().presenting_need == "first\tsecond\r\nthird"


# --- jobs whose worker died ------------------------------------------------------------------------


def checked_job(client, agency_admin, content: str = VALID) -> ImportJob:
    sign_in(client, agency_admin)
    response, _ = post(client, "police.csv", content.encode())
    job_id = int(response["Location"].rstrip("/").split("/")[-1])
    check_import_job(job_id)
    return ImportJob.objects.get(pk=job_id)


def start(client, job: ImportJob, capture) -> None:
    with capture(execute=True):
        client.post(reverse("web:import_start", args=[job.pk]))


class WorkerKilled(BaseException):
    """Stands for the worker process being killed: nothing in the worker catches it."""


def test_a_worker_killed_mid_import_is_failed_and_a_restart_imports_each_row_once(
    client, agency_admin, queued, django_capture_on_commit_callbacks, monkeypatch
):
    job = checked_job(client, agency_admin)
    start(client, job, django_capture_on_commit_callbacks)
    monkeypatch.setattr(services, "BATCH", 2)
    monkeypatch.setattr(services, "PROGRESS_ROWS", 2)

    def killed(job_id):
        def progress(done, total):
            assert done >= 2  # rows have been written in the import's transaction
            raise WorkerKilled

        return progress

    monkeypatch.setattr(tasks, "_progress", killed)
    with pytest.raises(WorkerKilled):
        run_import_job(job.pk)
    monkeypatch.undo()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.RUNNING and Contact.objects.count() == 0
    first_run = job.attempt

    # While the heartbeat is fresh the job is left alone.
    assert jobs_recover() == 0
    # Once it is older than the lease, reading the job page gives the job up.
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - LEASE - timedelta(seconds=1))
    cache.delete(heartbeat_key(job.pk))
    html = client.get(reverse("web:import_detail", args=[job.pk])).content.decode()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    assert job.errors[0]["reason"] == jobs.IMPORT_STOPPED
    assert "The import stopped before it finished" in html and "Start import again" in html
    assert AuditEvent.objects.filter(object_id=str(job.pk), detail__stopped=True).count() == 1

    start(client, job, django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.QUEUED and job.errors == []
    assert queued[-1] == ("onecase.imports.tasks.run_import_job", (job.pk,))
    assert run_import_job(job.pk) == {"job": job.pk, "status": "succeeded"}
    job.refresh_from_db()
    assert (job.attempt, job.created_count, job.processed_rows) == (first_run + 1, ROWS, ROWS)
    assert sorted(Contact.objects.values_list("record_id", flat=True)) == sorted(f"R{i}" for i in range(ROWS))
    assert not Path(job.stored_path).exists()
    # A late copy of the first task (redelivered by the broker) does nothing.
    assert run_import_job(job.pk)["status"] == "skipped"
    assert Contact.objects.count() == ROWS


def test_a_worker_killed_just_after_commit_leaves_the_job_completed_with_its_counts(
    client, agency_admin, queued, django_capture_on_commit_callbacks, monkeypatch
):
    job = checked_job(client, agency_admin)
    start(client, job, django_capture_on_commit_callbacks)

    def killed(*args):
        raise WorkerKilled

    monkeypatch.setattr(tasks, "_after", killed)
    with pytest.raises(WorkerKilled):
        run_import_job(job.pk)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED
    assert (job.created_count, job.updated_count, job.unchanged_count, job.processed_rows) == (ROWS, 0, 0, ROWS)
    assert Contact.objects.count() == ROWS
    assert Path(job.stored_path).exists()
    assert recover_import_jobs() == {"stopped": 0, "files_deleted": 1}
    assert not Path(job.stored_path).exists()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED


def test_a_check_whose_worker_died_is_rejected_and_its_file_deleted(
    client, agency_admin, settings, django_capture_on_commit_callbacks
):
    sign_in(client, agency_admin)
    post(client, "police.csv", VALID.encode())
    job = ImportJob.objects.get()
    later = timezone.now() + LEASE + timedelta(seconds=1)
    assert jobs_recover(now=later) == 0  # still waiting for the worker: not given up
    ImportJob.objects.filter(pk=job.pk).update(attempt=1, heartbeat_at=timezone.now())  # the worker took it...
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_recover(now=later) == 1  # ...and stopped beating
    job.refresh_from_db()
    assert job.status == ImportJob.Status.REJECTED and job.errors[0]["reason"] == jobs.CHECK_STOPPED
    assert uploads(settings) == []


def test_a_job_whose_worker_still_beats_is_not_given_up(client, agency_admin, queued, django_capture_on_commit_callbacks):
    job = checked_job(client, agency_admin)
    start(client, job, django_capture_on_commit_callbacks)
    old = timezone.now() - timedelta(minutes=5)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING, attempt=1, heartbeat_at=old)
    cache.set(heartbeat_key(job.pk), {"attempt": 1, "at": time.time()})  # beating in the cache (SQLite)
    assert jobs_recover() == 0
    cache.set(heartbeat_key(job.pk), {"attempt": 0, "at": time.time()})  # a beat of an earlier run does not count
    assert jobs_recover() == 1


def test_the_worker_beats_while_it_imports(client, agency_admin, queued, django_capture_on_commit_callbacks,
                                           monkeypatch):
    job = checked_job(client, agency_admin)
    start(client, job, django_capture_on_commit_callbacks)
    monkeypatch.setattr(tasks, "HEARTBEAT_EVERY", 0.05)
    monkeypatch.setattr(services, "BATCH", 2)
    monkeypatch.setattr(services, "PROGRESS_ROWS", 2)
    beats = []

    def slow(job_id):
        def progress(done, total):
            time.sleep(0.4)
            beats.append(cache.get(heartbeat_key(job_id))["at"])

        return progress

    monkeypatch.setattr(tasks, "_progress", slow)
    claimed = time.time()
    assert run_import_job(job.pk)["status"] == "succeeded"
    assert beats[0] > claimed + 0.2  # beaten from another thread while the import's transaction was open


def test_recovery_is_scheduled_every_minute():
    schedule = Schedule.objects.get(func="onecase.imports.tasks.recover_import_jobs")
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 1, -1)


# --- a real worker process, killed --------------------------------------------------------------

SCRIPT = """
import os, sys, time
import django
django.setup()
from django.core.files.uploadedfile import SimpleUploadedFile
from onecase.accounts.models import Agency, Role, User
from onecase.contacts.models import Contact
from onecase.imports import jobs, tasks
from onecase.imports.models import ImportJob

step = sys.argv[1]
if step == "setup":
    rows = int(sys.argv[2])
    agency = Agency.objects.create(code="POLICE", name="Police")
    admin = User.objects.create(username="admin", agency=agency, role=Role.AGENCY_ADMIN)
    content = "record_id,person_ref,occurred_at,contact_type\\n" + "".join(
        f"R{i},P{i % 5000},2024-01-01T10:00:00,call\\n" for i in range(rows))
    job = jobs.job_create(actor=admin, upload=SimpleUploadedFile("big.csv", content.encode()), agency_code="POLICE")
    tasks.check_import_job(job.pk)
    jobs.job_start(actor=admin, job=ImportJob.objects.get(pk=job.pk))
    print(job.pk)
elif step == "worker":
    tasks.run_import_job(int(sys.argv[2]))
elif step == "recover":
    job_id, deadline = int(sys.argv[2]), time.time() + float(sys.argv[3])
    while time.time() < deadline:
        jobs.jobs_recover()
        if ImportJob.objects.get(pk=job_id).status == ImportJob.Status.FAILED:
            break
        time.sleep(1)
    print(ImportJob.objects.get(pk=job_id).status)
elif step == "restart":
    job = ImportJob.objects.get(pk=int(sys.argv[2]))
    jobs.job_start(actor=job.created_by, job=job)
    print(tasks.run_import_job(job.pk)["status"], Contact.objects.count(),
          Contact.objects.values("record_id").distinct().count())
"""


def test_a_real_worker_killed_with_sigkill_is_failed_within_a_minute_and_restarts(tmp_path):
    import signal

    data = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ONECASE_JOBS_SYNC")}
    env |= {"ONECASE_DATA_DIR": str(data), "DJANGO_SETTINGS_MODULE": "onecase.config.settings",
            "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    script = tmp_path / "worker.py"
    script.write_text(SCRIPT)
    onecase = str(Path(sys.executable).with_name("onecase"))

    def step(*args, timeout=300):
        done = subprocess.run([sys.executable, str(script), *map(str, args)], env=env, capture_output=True,  # noqa: S603
                              text=True, timeout=timeout, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout.split()

    subprocess.run([onecase, "migrate", "-v", "0"], env=env, check=True, timeout=300)  # noqa: S603
    rows = 150_000
    (job_id,) = step("setup", rows)
    database = sqlite3.connect(data / "onecase.sqlite3", timeout=30)

    def job_row():
        return database.execute("SELECT status, attempt FROM imports_importjob WHERE id = ?", [job_id]).fetchone()

    worker = subprocess.Popen([sys.executable, str(script), "worker", job_id], env=env)  # noqa: S603
    try:
        deadline = time.monotonic() + 60
        while job_row()[0] != "running" and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # well into the import, which takes several seconds
        assert worker.poll() is None, "the import finished before the worker could be killed"
        os.kill(worker.pid, signal.SIGKILL)
        killed_at = time.monotonic()
    finally:
        worker.wait()
    assert job_row() == ("running", 2)  # the check was the first run, the import the second
    assert database.execute("SELECT COUNT(*) FROM contacts_contact").fetchone() == (0,)  # nothing was kept

    assert step("recover", job_id, 60) == ["failed"]
    assert time.monotonic() - killed_at < 60 + 10  # the allowance is for starting the recovery process
    assert step("restart", job_id) == ["succeeded", str(rows), str(rows)]
    database.close()
