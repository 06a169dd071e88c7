"""Import jobs: an uploaded file on its way into the demand ledger.

A job is created from an upload (the file is stored and checked straight away), started
by someone who may import for its agency, and run by the job worker
(``onecase.imports.tasks.run_import_job``). While it runs, progress lives in the cache,
because the import's own transaction is still open and its writes are not yet visible.
"""

from __future__ import annotations

import csv
import logging
import secrets
from itertools import islice
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django_q.tasks import async_task

from onecase.accounts.models import Agency
from onecase.accounts.rules import is_staff_member, may_import_for, may_see_records_of, sees_whole_partnership
from onecase.accounts.selectors import import_agencies_for
from onecase.imports.contact_format import KNOWN, MAX_PROBLEMS, FormatError, Problem, normalise_agency_code, read_table
from onecase.imports.models import ImportJob
from onecase.imports.services import ImportRejected, preview_contacts
from onecase.sharing.models import AuditEvent
from onecase.sharing.services import audit_record

logger = logging.getLogger(__name__)

UPLOAD_SUFFIXES = (".csv", ".xlsx")
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
SAMPLE_ROWS = 10
TASK = "onecase.imports.tasks.run_import_job"
MORE_PROBLEMS = "there are more problems than shown here; fix these and upload the file again"


def progress_key(job_id: int) -> str:
    return f"onecase:import-progress:{job_id}"


# --- selectors ---------------------------------------------------------------------------


def may_view_job(user, job: ImportJob) -> bool:
    """A job (its preview shows the file's rows) is seen by whoever may see its agency's records."""
    if not is_staff_member(user):
        return False
    if sees_whole_partnership(user):
        return True
    return job.agency_id is not None and may_see_records_of(user, job.agency_id)


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
    if job.status == ImportJob.Status.RUNNING:
        live = cache.get(progress_key(job.pk))
        if live:
            processed = live["processed"]
            total = total or live["total"]
    if job.status == ImportJob.Status.QUEUED:
        processed = 0
    total = max(total, processed)
    if total:
        percent = min(100, processed * 100 // total)
    else:
        percent = 100 if job.status == ImportJob.Status.SUCCEEDED else 0
    return {"processed": processed, "total": total, "percent": percent}


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
    """Store ``upload``, check it with ``preview_contacts`` and record an import job.

    ``agency_code`` None means the file names the agency of each row (partnership only).
    The job is Rejected if the file has problems, otherwise ready to start.
    Raises ``PermissionDenied`` or ``ValidationError`` (wrong kind or size of file).
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
    # Checking a large file takes a while: do it before the transaction, so the database
    # write lock is held only for the inserts.
    try:
        _, _, warnings, problems, count = preview_contacts(
            path=path, name=name, agency_code=agency.code if agency else None, rows=0
        )
        more = False
    except ImportRejected as exc:
        warnings, problems, count, more = [], exc.problems, 0, exc.more
    if not problems and count == 0:
        problems = [Problem(None, None, "the file has a header but no rows")]
    return _job_record(
        actor=actor,
        agency=agency,
        name=name,
        path=path,
        rows=count,
        warnings=warnings,
        errors=problems_for_job(problems, more),
    )


@transaction.atomic
def _job_record(*, actor, agency, name, path, rows, warnings, errors) -> ImportJob:
    job = ImportJob.objects.create(
        created_by=actor,
        agency=agency,
        original_name=name,
        stored_path=str(path),
        status=ImportJob.Status.REJECTED if errors else ImportJob.Status.PREVIEWED,
        total_rows=rows,
        warnings=warnings,
        errors=errors,
    )
    audit_record(
        user=actor,
        action=AuditEvent.Action.CHANGE,
        object_type="import_job",
        object_id=job.pk,
        detail={"created": True, "agency": agency.code if agency else "", "rows": rows, "problems": len(errors)},
    )
    return job


@transaction.atomic
def job_start(*, actor, job: ImportJob) -> ImportJob:
    """Queue a checked job for the worker. Raises ``PermissionDenied`` or ``ValidationError``."""
    if not may_import_for(actor, job.agency):
        raise PermissionDenied("You may not import contacts for that agency.")
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status != ImportJob.Status.PREVIEWED:
        raise ValidationError(f"This import cannot be started: it is {job.get_status_display().lower()}.")
    job.status = ImportJob.Status.QUEUED
    job.processed_rows = 0
    job.save(update_fields=["status", "processed_rows"])
    audit_record(
        user=actor,
        action=AuditEvent.Action.CHANGE,
        object_type="import_job",
        object_id=job.pk,
        detail={"queued": True, "rows": job.total_rows},
    )
    job_id = job.pk
    transaction.on_commit(lambda: _enqueue(job_id))
    return job


def _enqueue(job_id: int) -> None:
    try:
        async_task(TASK, job_id)
    except Exception as exc:  # the broker is down: say so on the job rather than leave it waiting
        logger.error("import job %s could not be queued (%s)", job_id, exc.__class__.__name__)
        ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(
            status=ImportJob.Status.FAILED,
            finished_at=timezone.now(),
            errors=[{"line": None, "column": None, "reason": "the import could not be queued; try again later"}],
        )


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
