"""Import jobs: an uploaded file on its way into the demand ledger.

A job is created from an upload (the file is stored and given cheap checks in the request),
checked row by row by the job worker (``onecase.imports.tasks.check_import_job``), started by
someone who may import for its agency, and imported by the worker
(``onecase.imports.tasks.run_import_job``). While it runs, progress lives in the cache,
because the import's own transaction is still open and its writes are not yet visible.

Once imported, the job's new and changed records are linked by the worker (``link_request``;
see ``onecase.linkage.jobs``), and the job page follows that too (``job_linking``).

The worker beats a heartbeat while it checks or imports. ``jobs_recover`` (run when jobs are
read, and every minute by the worker's schedule) gives up on a job whose heartbeat is older
than ``LEASE``: its worker died, and as the import writes its outcome in its own transaction,
a job still importing has kept nothing. It is marked failed and can be started again.
"""

from __future__ import annotations

import csv
import logging
import secrets
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, transaction
from django.db.models import QuerySet, Sum
from django.utils import timezone
from django_q.tasks import async_task

from onecase.accounts.models import Agency
from onecase.accounts.rules import is_staff_member, may_import_for, may_see_records_of, sees_whole_partnership
from onecase.accounts.selectors import import_agencies_for
from onecase.concurrency import sqlite_lock_wait
from onecase.imports.contact_format import (
    KNOWN,
    MAX_PROBLEMS,
    FormatError,
    Problem,
    check_file,
    normalise_agency_code,
    read_table,
)
from onecase.imports.models import ImportJob
from onecase.imports.rules import job_may_start
from onecase.linkage.jobs import request_progress
from onecase.sharing.models import AuditEvent
from onecase.sharing.services import audit_record

logger = logging.getLogger(__name__)

UPLOAD_SUFFIXES = (".csv", ".xlsx")
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
SAMPLE_ROWS = 10
TASK = "onecase.imports.tasks.run_import_job"
CHECK_TASK = "onecase.imports.tasks.check_import_job"
MORE_PROBLEMS = "there are more problems than shown here; fix these and upload the file again"
LEASE = timedelta(seconds=30)  # a job whose worker has not beaten for this long is given up
KEEP_CHECKING = timedelta(days=1)  # finished jobs whose leftover files are looked for
PAGE_LOCK_WAIT_MS = 500  # on SQLite, how long a page waits to mark a job (another import may hold the lock)
IMPORT_STOPPED = "the import stopped before it finished (the job worker stopped); nothing was kept. Start it again"
CHECK_STOPPED = "the file could not be checked (the job worker stopped); upload it again"


def progress_key(job_id: int) -> str:
    return f"onecase:import-progress:{job_id}"


def heartbeat_key(job_id: int) -> str:
    return f"onecase:import-heartbeat:{job_id}"


# --- selectors ---------------------------------------------------------------------------


def jobs_visible_to(user) -> QuerySet[ImportJob]:
    """Jobs ``user`` may see: the same rule as ``may_view_job``, as a query."""
    if not is_staff_member(user):
        return ImportJob.objects.none()
    if sees_whole_partnership(user):
        return ImportJob.objects.all()
    if user.agency_id is None or not may_see_records_of(user, user.agency_id):
        return ImportJob.objects.none()
    return ImportJob.objects.filter(agency_id=user.agency_id)


def job_progress(job: ImportJob) -> dict:
    """Rows processed and the total for ``job``; the cache has the latest while it runs."""
    processed, total = job.processed_rows, job.total_rows
    if job.status in (ImportJob.Status.RUNNING, ImportJob.Status.CHECKING):
        live = cache.get(progress_key(job.pk))
        if live:
            processed = live["processed"]
            total = total or live["total"]
    if job.status == ImportJob.Status.QUEUED or (job.status == ImportJob.Status.CHECKING and not total):
        processed = 0
    total = max(total, processed)
    if total:
        percent = min(100, processed * 100 // total)
    else:
        percent = 100 if job.status == ImportJob.Status.SUCCEEDED else 0
    return {"processed": processed, "total": total, "percent": percent}


def job_linking(job: ImportJob) -> dict | None:
    """How linking the job's new and changed records went; None if the job asked for no link.

    ``status`` is the link request's (waiting, running, finished, failed), with ``percent`` while it
    runs, the run's ``people_created`` and ``links_created`` once finished (``shared`` if that run
    linked other records too), and ``message``, in plain words, if it failed.
    """
    request = job.link_request if job.link_request_id else None
    if request is None:
        return None
    run = request.run if request.run_id else None
    return {
        "status": request.status,
        "label": request.get_status_display(),
        "pending": request.pending,
        "percent": request_progress(request),
        "people_created": run.people_created if run else 0,
        "links_created": run.links_created if run else 0,
        "shared": bool(run) and (run.requests.aggregate(asks=Sum("asks"))["asks"] or 0) > 1,
        "message": request.message,
        "attempt": request.attempt,
    }


def job_sample(job: ImportJob, rows: int = SAMPLE_ROWS) -> dict | None:
    """The header, known and ignored columns and the first ``rows`` rows of the stored file.

    None when the file is gone (it is deleted once the import has run) or unreadable.
    """
    path = Path(job.stored_path)
    if not path.is_file():
        return None
    try:
        if job.original_name.lower().endswith(".xlsx"):
            table = read_table(path, job.original_name)
            header = table.header
            sample = [values for _, values in islice(table.rows, rows)]
            table.rows.close()
        else:
            header, sample = _csv_sample(path, rows)
    except (FormatError, OSError, csv.Error, StopIteration):
        return None
    names = [h.strip().lstrip("\ufeff") for h in header]
    width = len(names)
    return {
        "header": names,
        "known": [n for n in names if n.lower() in KNOWN],
        "ignored": [n for n in names if n and n.lower() not in KNOWN],
        "rows": [(values + [""] * width)[:width] for values in sample],
    }


def _csv_sample(path: Path, rows: int) -> tuple[list[str], list[list[str]]]:
    # Read only the first rows: the whole file may be 200 MB.
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        sample = []
        for values in reader:
            if any(values):
                sample.append(values)
                if len(sample) >= rows:
                    break
    return header, sample


# --- services ----------------------------------------------------------------------------


def _import_agency(actor, agency_code: str | None) -> Agency | None:
    if agency_code is None:
        if not may_import_for(actor, None):
            raise PermissionDenied("Only partnership administrators may import files that name their agencies.")
        return None
    agency = import_agencies_for(actor).filter(code__iexact=normalise_agency_code(agency_code)).first()
    if agency is None or not may_import_for(actor, agency):
        raise PermissionDenied("You may not import contacts for that agency.")
    return agency


def _store(upload, suffix: str) -> Path:
    folder = Path(settings.UPLOAD_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{secrets.token_hex(16)}{suffix}"
    with path.open("xb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return path


def problems_for_job(problems: list[Problem], more: bool = False) -> list[dict]:
    """Problems as stored on a job: at most ``MAX_PROBLEMS``, then a note if there were more."""
    kept = [p.as_dict() for p in problems[:MAX_PROBLEMS]]
    if more or len(problems) > MAX_PROBLEMS:
        kept.append({"line": None, "column": None, "reason": MORE_PROBLEMS})
    return kept


def job_create(*, actor, upload, agency_code: str | None) -> ImportJob:
    """Store ``upload``, give it cheap checks and record an import job for the worker to check.

    ``agency_code`` None means the file names the agency of each row (partnership only).
    Raises ``PermissionDenied``, or ``ValidationError`` for the wrong kind or size of file, binary
    data, or a header or sheet too wide or long (the stored file is then deleted).
    """
    agency = _import_agency(actor, agency_code)
    name = Path(upload.name or "").name[:255]
    suffix = Path(name).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise ValidationError("The selected file must be a CSV or XLSX file")
    if upload.size > MAX_UPLOAD_BYTES:
        raise ValidationError("The selected file must be smaller than 200 MB")
    if upload.size == 0:
        raise ValidationError("The selected file is empty")
    path = _store(upload, suffix)
    # Only what is cheap is checked here; the rows are read by the worker (check_import_job).
    try:
        check_file(path, name)
    except FormatError as exc:
        path.unlink(missing_ok=True)
        raise ValidationError(f"The selected file cannot be used: {exc.problems[0].reason}") from None
    except OSError:
        path.unlink(missing_ok=True)
        raise ValidationError("The selected file could not be read") from None
    return _job_record(actor=actor, agency=agency, name=name, path=path)


@transaction.atomic
def _job_record(*, actor, agency, name, path) -> ImportJob:
    job = ImportJob.objects.create(
        created_by=actor,
        agency=agency,
        original_name=name,
        stored_path=str(path),
        status=ImportJob.Status.CHECKING,
    )
    audit_record(
        user=actor,
        action=AuditEvent.Action.CHANGE,
        object_type="import_job",
        object_id=job.pk,
        detail={"created": True, "agency": agency.code if agency else ""},
    )
    job_id = job.pk
    transaction.on_commit(lambda: _enqueue(CHECK_TASK, job_id))
    return job


@transaction.atomic
def job_start(*, actor, job: ImportJob) -> ImportJob:
    """Queue a checked job, or one whose run failed, for the worker.

    Raises ``PermissionDenied`` or ``ValidationError``.
    """
    if not may_import_for(actor, job.agency):
        raise PermissionDenied("You may not import contacts for that agency.")
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if not job_may_start(job):
        if job.status == ImportJob.Status.FAILED:
            raise ValidationError("This import cannot be started again: its file is no longer kept. Upload it again.")
        raise ValidationError(f"This import cannot be started: it is {job.get_status_display().lower()}.")
    again = job.status == ImportJob.Status.FAILED
    job.status = ImportJob.Status.QUEUED
    job.processed_rows = 0
    job.errors = []
    job.finished_at = None
    job.save(update_fields=["status", "processed_rows", "errors", "finished_at"])
    audit_record(
        user=actor,
        action=AuditEvent.Action.CHANGE,
        object_type="import_job",
        object_id=job.pk,
        detail={"queued": True, "rows": job.total_rows, "again": again},
    )
    job_id = job.pk
    transaction.on_commit(lambda: _enqueue(TASK, job_id))
    return job


def _enqueue(task: str, job_id: int) -> None:
    try:
        async_task(task, job_id)
    except Exception as exc:  # the broker is down: say so on the job rather than leave it waiting
        logger.error("import job %s could not be queued (%s)", job_id, exc.__class__.__name__)
        if task == CHECK_TASK:
            waiting, status = ImportJob.Status.CHECKING, ImportJob.Status.REJECTED
            reason = "the file could not be queued for checking; upload it again later"
        else:
            waiting, status = ImportJob.Status.QUEUED, ImportJob.Status.FAILED
            reason = "the import could not be queued; try again later"
        ImportJob.objects.filter(pk=job_id, status=waiting).update(
            status=status, finished_at=timezone.now(), errors=[{"line": None, "column": None, "reason": reason}]
        )
        if status == ImportJob.Status.REJECTED:
            for path in ImportJob.objects.filter(pk=job_id).values_list("stored_path", flat=True):
                Path(path).unlink(missing_ok=True)


def last_heartbeat(job: ImportJob) -> datetime | None:
    """When the worker last showed it was working on ``job``'s current run; None if it has not started it.

    The beat is on the job row, and in the cache too: on SQLite the import's transaction holds the
    only write lock, so the worker cannot write the row while it imports.
    """
    beats = [job.heartbeat_at] if job.heartbeat_at else []
    beat = cache.get(heartbeat_key(job.pk))
    if beat and beat.get("attempt") == job.attempt:
        beats.append(datetime.fromtimestamp(beat["at"], UTC))
    if job.status == ImportJob.Status.RUNNING and not beats:
        beats.append(job.started_at or job.created_at)  # a run from before heartbeats
    return max(beats) if beats else None


def jobs_recover(*, now: datetime | None = None, page: bool = False) -> int:
    """Give up on jobs whose worker stopped beating for ``LEASE``; returns how many.

    An import still running has kept nothing (its outcome is written in its own transaction),
    so it is marked failed and can be started again; a check is marked rejected and its file
    deleted. ``page`` True (a page is being read) waits only briefly for a busy SQLite database.
    """
    now = now or timezone.now()
    cutoff = now - LEASE
    active = ImportJob.objects.filter(status__in=[ImportJob.Status.CHECKING, ImportJob.Status.RUNNING])
    given_up = 0
    for job in active.only("pk", "status", "attempt", "heartbeat_at", "started_at", "created_at", "stored_path"):
        beat = last_heartbeat(job)
        if beat is None or beat >= cutoff:
            continue
        try:
            with sqlite_lock_wait(PAGE_LOCK_WAIT_MS if page else None):
                given_up += _give_up(job, now)
        except DatabaseError as exc:  # SQLite: another import holds the write lock; the schedule tries again
            logger.warning("import job %s: could not be marked stopped yet (%s)", job.pk, exc.__class__.__name__)
    return given_up


@transaction.atomic
def _give_up(job: ImportJob, now: datetime) -> int:
    checking = job.status == ImportJob.Status.CHECKING
    status = ImportJob.Status.REJECTED if checking else ImportJob.Status.FAILED
    reason = CHECK_STOPPED if checking else IMPORT_STOPPED
    updated = ImportJob.objects.filter(pk=job.pk, status=job.status, attempt=job.attempt).update(
        status=status, finished_at=now, errors=[{"line": None, "column": None, "reason": reason}]
    )
    if updated:
        audit_record(
            user=None,
            action=AuditEvent.Action.CHANGE,
            object_type="import_job",
            object_id=job.pk,
            detail={"stopped": True, "status": str(status), "attempt": job.attempt},
        )
        logger.warning("import job %s: the worker stopped; marked %s", job.pk, status)
        if checking:
            path = Path(job.stored_path)
            transaction.on_commit(lambda: path.unlink(missing_ok=True))
    return updated



def job_files_tidy(*, now: datetime | None = None) -> int:
    """Delete the files of jobs imported or rejected lately that are still here (a worker stopped first)."""
    since = (now or timezone.now()) - KEEP_CHECKING
    finished = ImportJob.objects.filter(
        status__in=[ImportJob.Status.SUCCEEDED, ImportJob.Status.REJECTED], finished_at__gte=since
    ).exclude(stored_path="")
    deleted = 0
    for stored in finished.values_list("stored_path", flat=True):
        path = Path(stored)
        if path.is_file():
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted


@transaction.atomic
def job_preview_viewed(*, actor, job: ImportJob, rows_shown: int, ip: str | None = None) -> None:
    """Record that ``actor`` saw sample rows (personal data) of ``job``'s file."""
    audit_record(
        user=actor,
        action=AuditEvent.Action.VIEW,
        object_type="import_job",
        object_id=job.pk,
        ip=ip,
        detail={"rows_shown": rows_shown},
    )
