"""Predicates about import jobs."""

from __future__ import annotations

from pathlib import Path

from onecase.accounts.rules import is_staff_member, may_import_for, may_see_records_of, sees_whole_partnership
from onecase.imports.models import ImportJob


def may_view_job(user, job: ImportJob) -> bool:
    """A job (its preview shows the file's rows) is seen by whoever may see its agency's records."""
    if not is_staff_member(user):
        return False
    if sees_whole_partnership(user):
        return True
    return job.agency_id is not None and may_see_records_of(user, job.agency_id)


def job_may_start(job: ImportJob) -> bool:
    """A job can be started when its file has been checked, or again after a failed run while its file is kept."""
    if job.status == ImportJob.Status.PREVIEWED:
        return True
    return job.status == ImportJob.Status.FAILED and job.total_rows > 0 and Path(job.stored_path).is_file()


def may_start_job(user, job: ImportJob) -> bool:
    """``user`` may import for the job's agency, and the job can be started."""
    return may_import_for(user, job.agency) and job_may_start(job)
