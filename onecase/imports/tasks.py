"""Work done by the job worker (django-q2). Logs carry job ids and counts only.

Each run beats a heartbeat (``_Heartbeat``) while it works, so that ``jobs_recover`` can tell a
worker that died from one that is busy. An import writes its outcome in the same transaction as
its rows: whatever happens to the worker afterwards, the job says what was kept. An import that
added or changed records asks for them to be linked in that transaction too (``link_soon``).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone

from onecase.concurrency import Heartbeat
from onecase.imports.contact_format import Problem
from onecase.imports.jobs import (
    LEASE,
    heartbeat_key,
    job_files_tidy,
    jobs_recover,
    problems_for_job,
    progress_key,
)
from onecase.imports.models import ImportJob
from onecase.imports.services import ImportRejected, import_contacts, preview_contacts
from onecase.linkage.services import link_soon
from onecase.sharing.models import AuditEvent
from onecase.sharing.services import audit_record

logger = logging.getLogger(__name__)

PROGRESS_EVERY = 1.0  # seconds between progress writes
HEARTBEAT_EVERY = 5.0  # seconds between heartbeats; well inside LEASE
Status = ImportJob.Status


def run_import_job(job_id: int) -> dict:
    """Import a queued job's file, keeping progress in the cache and the outcome on the job."""
    now = timezone.now()
    started = ImportJob.objects.filter(pk=job_id, status=Status.QUEUED).update(
        status=Status.RUNNING, started_at=now, heartbeat_at=now, finished_at=None, processed_rows=0,
        attempt=F("attempt") + 1,
    )
    if not started:
        logger.warning("import job %s was not waiting to start; skipped", job_id)
        return {"job": job_id, "status": "skipped"}
    job = ImportJob.objects.select_related("created_by", "agency").get(pk=job_id)
    mine = ImportJob.objects.filter(pk=job_id, attempt=job.attempt)  # a later run is not overwritten

    with _Heartbeat(job_id, job.attempt):
        try:
            with transaction.atomic():
                result = import_contacts(
                    actor=job.created_by,
                    path=job.stored_path,
                    name=job.original_name,
                    agency_code=job.agency.code if job.agency else None,
                    progress=_progress(job_id),
                )
                # New and changed records are linked as soon as they are committed, by the worker.
                changed = result.created or result.updated or result.people_created
                linking = link_soon(reason="upload") if changed else None
                # In the import's own transaction: if the worker dies after the commit, the job
                # already says it was imported, with its counts (and the link it asked for).
                kept = mine.update(
                    link_request=linking,
                    status=Status.SUCCEEDED,
                    processed_rows=result.rows,
                    total_rows=result.rows,
                    created_count=result.created,
                    updated_count=result.updated,
                    unchanged_count=result.unchanged,
                    warnings=result.warnings,
                    errors=[],
                    finished_at=timezone.now(),
                )
            outcome = Status.SUCCEEDED
        except ImportRejected as exc:
            outcome = Status.REJECTED
            kept = _finish(mine, outcome, problems_for_job(exc.problems, exc.more))
        except PermissionDenied as exc:
            outcome = Status.FAILED
            kept = _finish(mine, outcome, [_reason(str(exc))])
        except OSError:
            outcome = Status.FAILED
            kept = _finish(mine, outcome, [_reason("the uploaded file could not be read")])
        except Exception as exc:
            # Exception messages can quote the data, so only the class name is logged.
            logger.error("import job %s failed (%s)", job_id, exc.__class__.__name__)
            outcome = Status.FAILED
            kept = _finish(mine, outcome, [_reason("the import stopped unexpectedly; nothing was kept")])
    _after(job, outcome, kept)
    logger.info("import job %s finished: %s", job_id, outcome)
    return {"job": job_id, "status": str(outcome)}


def check_import_job(job_id: int) -> dict:
    """Check every row of a new job's file without writing, then mark it ready to import or rejected."""
    started = ImportJob.objects.filter(pk=job_id, status=Status.CHECKING, attempt=0).update(
        started_at=timezone.now(), heartbeat_at=timezone.now(), attempt=1
    )
    if not started:
        logger.warning("import job %s was not waiting to be checked; skipped", job_id)
        return {"job": job_id, "status": "skipped"}
    job = ImportJob.objects.select_related("agency").get(pk=job_id)
    warnings: list[str] = []
    count, more = 0, False
    with _Heartbeat(job_id, job.attempt):
        try:
            _, _, warnings, problems, count = preview_contacts(
                path=job.stored_path,
                name=job.original_name,
                agency_code=job.agency.code if job.agency else None,
                rows=0,
                progress=_progress(job_id),
            )
        except ImportRejected as exc:
            problems, more = exc.problems, exc.more
        except OSError:
            problems = [Problem(None, None, "the uploaded file could not be read")]
        except Exception as exc:
            logger.error("import job %s could not be checked (%s)", job_id, exc.__class__.__name__)
            problems = [Problem(None, None, "the file could not be checked; upload it again")]
        if not problems and count == 0:
            problems = [Problem(None, None, "the file has a header but no rows")]
        errors = problems_for_job(problems, more)
        outcome = Status.REJECTED if errors else Status.PREVIEWED
        kept = _checked(job, outcome, count, warnings, errors)
    _after(job, outcome, kept)
    logger.info("import job %s checked: %s", job_id, outcome)
    return {"job": job_id, "status": str(outcome)}


@transaction.atomic
def _checked(job: ImportJob, outcome: str, count: int, warnings: list[str], errors: list[dict]) -> int:
    kept = ImportJob.objects.filter(pk=job.pk, status=Status.CHECKING, attempt=job.attempt).update(
        status=outcome,
        total_rows=count,
        warnings=warnings,
        errors=errors,
        finished_at=timezone.now() if errors else None,
    )
    if kept:
        audit_record(
            user=None,
            action=AuditEvent.Action.CHANGE,
            object_type="import_job",
            object_id=job.pk,
            detail={"checked": True, "rows": count, "problems": len(errors)},
        )
    return kept


def recover_import_jobs() -> dict:
    """Run every minute by the worker's schedule: give up on jobs whose worker died, delete leftover files."""
    return {"stopped": jobs_recover(), "files_deleted": job_files_tidy()}


def _progress(job_id: int):
    """A progress callback that writes to the cache at most every ``PROGRESS_EVERY`` seconds.

    The import runs in one transaction, so progress written to the job row would stay
    invisible (and on SQLite would wait for that transaction): the cache is shared instead.
    """
    key = progress_key(job_id)
    last = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY or done >= total:
            last = now
            cache.set(key, {"processed": done, "total": total}, timeout=24 * 3600)

    return progress


def _finish(mine, outcome: str, errors: list[dict]) -> int:
    return mine.filter(status=Status.RUNNING).update(status=outcome, errors=errors, finished_at=timezone.now())


def _after(job: ImportJob, outcome: str, kept: int) -> None:
    """Tidy up after a run: the progress, and the file once it has been imported or rejected."""
    cache.delete(progress_key(job.pk))
    # The file holds personal data; once imported or rejected it is not needed. A failed import
    # keeps it, so that it can be started again. A run overtaken by a later one leaves it to that run.
    if kept and outcome in (Status.SUCCEEDED, Status.REJECTED):
        Path(job.stored_path).unlink(missing_ok=True)


def _reason(text: str) -> dict:
    return {"line": None, "column": None, "reason": text}


class _Heartbeat(Heartbeat):
    """Beats for one run of a job: in the cache, and on PostgreSQL on the job row too."""

    def __init__(self, job_id: int, attempt: int):
        super().__init__(name=f"import-job-{job_id}-heartbeat", every=HEARTBEAT_EVERY)
        self.job_id = job_id
        self.attempt = attempt

    def beat_cache(self) -> None:
        beat = {"attempt": self.attempt, "at": time.time()}
        cache.set(heartbeat_key(self.job_id), beat, timeout=int(LEASE.total_seconds()) * 10)

    def beat_row(self) -> None:
        # A row locked by the run's own transaction (as it writes the outcome) is skipped, not waited for.
        try:
            with transaction.atomic():
                ids = list(
                    ImportJob.objects.select_for_update(skip_locked=True)
                    .filter(pk=self.job_id, attempt=self.attempt, status__in=[Status.CHECKING, Status.RUNNING])
                    .values_list("pk", flat=True)
                )
                ImportJob.objects.filter(pk__in=ids).update(heartbeat_at=timezone.now())
        except DatabaseError as exc:
            logger.warning("import job %s: heartbeat not written (%s)", self.job_id, exc.__class__.__name__)
