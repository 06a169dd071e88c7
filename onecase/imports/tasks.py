"""Work done by the job worker (django-q2). Logs carry job ids and counts only."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from onecase.imports.jobs import problems_for_job, progress_key
from onecase.imports.models import ImportJob
from onecase.imports.services import ImportRejected, import_contacts

logger = logging.getLogger(__name__)

PROGRESS_EVERY = 1.0  # seconds between progress writes


def run_import_job(job_id: int) -> dict:
    """Import a queued job's file, keeping progress in the cache and the outcome on the job."""
    Status = ImportJob.Status
    started = ImportJob.objects.filter(pk=job_id, status=Status.QUEUED).update(
        status=Status.RUNNING, started_at=timezone.now(), processed_rows=0
    )
    if not started:
        logger.warning("import job %s was not waiting to start; skipped", job_id)
        return {"job": job_id, "status": "skipped"}
    job = ImportJob.objects.select_related("created_by", "agency").get(pk=job_id)
    key = progress_key(job_id)
    last = 0.0

    # The import runs in one transaction, so progress written to the job row would stay
    # invisible (and on SQLite would wait for that transaction): the cache is shared instead.
    def progress(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY or done >= total:
            last = now
            cache.set(key, {"processed": done, "total": total}, timeout=24 * 3600)

    try:
        result = import_contacts(
            actor=job.created_by,
            path=job.stored_path,
            name=job.original_name,
            agency_code=job.agency.code if job.agency else None,
            progress=progress,
        )
    except ImportRejected as exc:
        outcome = {"status": Status.REJECTED, "errors": problems_for_job(exc.problems, exc.more)}
    except PermissionDenied as exc:
        outcome = {"status": Status.FAILED, "errors": [_reason(str(exc))]}
    except OSError:
        outcome = {"status": Status.FAILED, "errors": [_reason("the uploaded file could not be read")]}
    except Exception as exc:
        # Exception messages can quote the data, so only the class name is logged.
        logger.error("import job %s failed (%s)", job_id, exc.__class__.__name__)
        outcome = {"status": Status.FAILED, "errors": [_reason("the import stopped unexpectedly; nothing was kept")]}
    else:
        outcome = {
            "status": Status.SUCCEEDED,
            "processed_rows": result.rows,
            "total_rows": result.rows,
            "created_count": result.created,
            "updated_count": result.updated,
            "unchanged_count": result.unchanged,
            "warnings": result.warnings,
            "errors": [],
        }
    ImportJob.objects.filter(pk=job_id).update(**outcome, finished_at=timezone.now())
    cache.delete(key)
    # The file holds personal data; once imported (or refused at import) it is not needed.
    Path(job.stored_path).unlink(missing_ok=True)
    logger.info("import job %s finished: %s", job_id, outcome["status"])
    return {"job": job_id, "status": str(outcome["status"])}


def _reason(text: str) -> dict:
    return {"line": None, "column": None, "reason": text}
