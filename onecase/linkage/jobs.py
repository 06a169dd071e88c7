"""Linking soon after records arrive: link requests, run by the job worker one at a time.

An upload that added or changed records, or a contact logged, asks for a link
(``onecase.linkage.services.link_soon``): a ``LinkRequest`` is recorded in the caller's
transaction (joining one already waiting, if there is one) and, once that commits, the
worker is asked to run ``link_waiting``. The worker takes every waiting request at once
(``claim``) and links them in one incremental run; a request made meanwhile waits for
the next run, which the same worker starts as soon as this one finishes. Taking requests
and finishing them happen under one lock (PostgreSQL: an advisory lock; SQLite: the write
lock every transaction takes first), so two workers, or a worker and ``onecase link``,
never link at the same time.

A running link beats a heartbeat (in the cache; on PostgreSQL on its rows too).
``links_recover`` (every minute on the worker's schedule, and when an import's page is read)
finds runs whose heartbeat is older than ``LEASE``: their worker died, and as a link writes
in one transaction, such a run kept nothing. Its requests wait again (started once more at
most) or are failed, saying why; waiting requests nobody took are queued again.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.core.cache import cache
from django.db import DatabaseError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django_q.tasks import async_task

from onecase.audit.models import AuditEvent
from onecase.audit.services import audit_record
from onecase.concurrency import Heartbeat, sqlite_lock_wait
from onecase.linkage.models import LinkRequest, LinkRun

logger = logging.getLogger(__name__)

TASK = "onecase.linkage.tasks.run_waiting_links"
LEASE = timedelta(seconds=30)  # a run whose worker has not beaten for this long is given up
HEARTBEAT_EVERY = 5.0  # seconds between heartbeats; well inside LEASE
PROGRESS_EVERY = 1.0  # seconds between progress writes within a stage
MAX_ATTEMPTS = 2  # runs of a request whose worker died, before it is failed
RETRIES = 3  # runs tried when reviewers decide something meanwhile, or the database is busy
RUNS_PER_TASK = 20  # runs one task makes for requests that keep arriving, before it queues another
WAIT_POLL = 1.0  # seconds between looks while ``link_now`` waits for another process's run
PAGE_LOCK_WAIT_MS = 500  # on SQLite, how long a page waits to give up a stopped run
LOCK = 20_240_602  # advisory lock class: one link at a time (PostgreSQL)
Status = LinkRequest.Status

STOPPED = (
    "linking stopped before it finished (the job worker stopped), twice; nothing was changed by it. "
    "The records are imported; the next link will include them"
)
ERROR = (
    "linking stopped with an error; nothing was changed by it. The records are imported; the next link will "
    "include them"
)
BUSY = (
    "linking could not finish because reviewers were deciding links, or the database was busy; nothing was "
    "changed by it. The records are imported; the next link will include them"
)
DEMAND = "the records were linked, but their failure demand could not be worked out again"
# The stages a link reports, in order (``onecase.linkage.run.STAGES`` and then failure demand).
STAGES = ("read", "features", "train", "score", "people", "addresses", "households", "review", "write", "demand")


def progress_key(claim: str) -> str:
    return f"onecase:link-progress:{claim}"


def heartbeat_key(claim: str) -> str:
    return f"onecase:link-heartbeat:{claim}"


# --- asking for a link ---------------------------------------------------------------------------


def request_link(*, reason: str, full: bool = False, queue: bool = True) -> LinkRequest:
    """A waiting request for a link, joining one already waiting; the worker is asked on commit (``queue``).

    Call inside the transaction that wrote the records: the request exists only if they do, and a
    run never takes it before they are visible.
    """
    # Locked, so that a worker cannot take it between this read and the caller's commit (PostgreSQL;
    # on SQLite the caller's transaction already holds the write lock).
    waiting = LinkRequest.objects.select_for_update().filter(status=Status.WAITING).order_by("id").first()
    if waiting is not None:
        LinkRequest.objects.filter(pk=waiting.pk).update(asks=F("asks") + 1, full=waiting.full or full)
        waiting.refresh_from_db()
        return waiting
    request = LinkRequest.objects.create(reason=reason[:100], full=full)
    audit_record(
        user=None, action=AuditEvent.Action.CHANGE, object_type="link_request", object_id=request.pk,
        detail={"queued": True, "reason": request.reason, "full": full},
    )
    if queue:
        transaction.on_commit(enqueue)
    return request


def enqueue() -> None:
    """Ask the worker to link what waits; if it cannot be asked, the schedule asks again within a minute."""
    try:
        async_task(TASK)
    except Exception as exc:  # the broker is down: the recovery queues it again
        logger.error("link could not be queued (%s)", exc.__class__.__name__)


# --- running --------------------------------------------------------------------------------------


def link_waiting(*, progress: Callable[[str], None] | None = None, engine=None) -> list[int]:
    """Link every waiting request, run after run while more arrive; returns how many requests each run took.

    Does nothing if another link is running: that one takes what waits when it finishes. ``engine``
    (default DuckDB) is where Splink trains and scores, e.g. a ``SparkEngine`` from the command line.
    """
    done = []
    for _ in range(RUNS_PER_TASK):
        try:
            claim = _claim()
        except OperationalError as exc:  # SQLite: an import holds the write lock; the schedule tries again
            logger.warning("link: could not take waiting requests yet (%s)", exc.__class__.__name__)
            break
        if claim is None:
            break
        done.append(_run(claim, progress, engine))
    else:
        if LinkRequest.objects.filter(status=Status.WAITING).exists():
            transaction.on_commit(enqueue)
    return done


def link_in_process(*, reason: str, full: bool = False, progress: Callable[[str], None] | None = None,
                    waiting: Callable[[], None] | None = None, engine=None) -> LinkRequest:
    """Link now, in this process (the command line): ask, then link, or wait for the run that links it.

    ``waiting()`` is called once if another process's run must finish first. Returns the request,
    finished or failed.
    """
    with transaction.atomic():
        request = request_link(reason=reason, full=full, queue=False)
    told = False
    while True:
        try:
            links_recover()
        except OperationalError:  # SQLite: an import holds the write lock; look again shortly
            pass
        link_waiting(progress=progress, engine=engine)
        request.refresh_from_db()
        if not request.pending:
            return request
        if not told and waiting is not None:
            waiting()
            told = True
        time.sleep(WAIT_POLL)


def _run(claim: str, progress: Callable[[str], None] | None, engine=None) -> int:
    """Link the requests of ``claim``; record the outcome on them. Returns how many requests it took."""
    from onecase.linkage.run import LinkageConflict
    from onecase.linkage.services import link_run

    taken = LinkRequest.objects.filter(claim=claim)
    count = taken.count()
    full = taken.filter(full=True).exists()
    report = _progress(claim, progress)
    started: list[LinkRun] = []
    with _Heartbeat(claim):
        for attempt in range(1, RETRIES + 1):
            started.clear()
            try:
                run = link_run(actor=None, full=full, engine=engine, progress=report, started=started.append)
            except (LinkageConflict, OperationalError) as exc:
                logger.warning("link %s: %s; try %s of %s", claim[:8], exc.__class__.__name__, attempt, RETRIES)
                if attempt < RETRIES:
                    time.sleep(attempt)
                    continue
                _finished(claim, message=BUSY)
            except Exception as exc:
                # Exception messages can quote the data, so only the class name is logged.
                logger.error("link %s failed (%s)", claim[:8], exc.__class__.__name__)
                linked = started and LinkRun.objects.filter(pk=started[0].pk, status=LinkRun.Status.FINISHED).exists()
                _finished(claim, run=started[0] if linked else None, message=DEMAND if linked else ERROR)
            else:
                _finished(claim, run=run)
            break
    cache.delete(progress_key(claim))
    logger.info("link %s: %s request(s) done", claim[:8], count)
    return count


@transaction.atomic
def _claim() -> str | None:
    """Take every waiting request for one run, unless a link is running; returns the claim, or None."""
    _lock()
    if LinkRequest.objects.filter(status=Status.RUNNING).exists():
        return None
    claim = secrets.token_hex(16)
    now = timezone.now()
    taken = LinkRequest.objects.filter(status=Status.WAITING).update(
        status=Status.RUNNING, claim=claim, started_at=now, heartbeat_at=now, finished_at=None,
        attempt=F("attempt") + 1, message="",
    )
    return claim if taken else None


def _finished(claim: str, **outcome) -> None:
    """``_finish``, waiting out a busy SQLite database: an outcome left unwritten would be a run given up."""
    for attempt in range(1, RETRIES + 2):
        try:
            _finish(claim, **outcome)
            return
        except OperationalError:
            if attempt > RETRIES:
                raise
            time.sleep(attempt)


@transaction.atomic
def _finish(claim: str, *, run: LinkRun | None = None, message: str = "") -> int:
    _lock()
    status = Status.FAILED if message else Status.FINISHED
    updated = LinkRequest.objects.filter(claim=claim, status=Status.RUNNING).update(
        status=status, finished_at=timezone.now(), run=run, message=message,
    )
    if message and updated:
        audit_record(
            user=None, action=AuditEvent.Action.CHANGE, object_type="link_request", object_id=claim[:8],
            detail={"failed": True, "requests": updated, "run": run.pk if run else None},
        )
    return updated


def _lock() -> None:
    """Within a transaction: one taker or finisher of link requests at a time."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK])
    # SQLite: every transaction begins IMMEDIATE (settings), holding the only write lock.


# --- progress ---------------------------------------------------------------------------------


def _progress(claim: str, also: Callable[[str], None] | None):
    """A progress callback for ``link_run``: the stage reached, as a percentage, in the cache."""
    key = progress_key(claim)
    last = {"stage": None, "at": 0.0}

    def progress(stage: str) -> None:
        if also is not None:
            also(stage)
        name = stage.split(":", 1)[0]
        now = time.monotonic()
        if name in STAGES and (name != last["stage"] or now - last["at"] >= PROGRESS_EVERY):
            last.update(stage=name, at=now)
            percent = STAGES.index(name) * 100 // len(STAGES)
            cache.set(key, {"stage": name, "percent": percent}, timeout=24 * 3600)

    return progress


def request_progress(request: LinkRequest) -> int:
    """How far the run linking ``request`` has got, 0 to 100."""
    if request.status == Status.FINISHED:
        return 100
    if request.status != Status.RUNNING or not request.claim:
        return 0
    live = cache.get(progress_key(request.claim))
    return int(live["percent"]) if live else 0


# --- heartbeats and recovery ----------------------------------------------------------------------


class _Heartbeat(Heartbeat):
    """Beats for one run while it links: in the cache, and on PostgreSQL on its rows too."""

    def __init__(self, claim: str):
        super().__init__(name=f"link-{claim[:8]}-heartbeat", every=HEARTBEAT_EVERY)
        self.claim = claim

    def beat_cache(self) -> None:
        cache.set(heartbeat_key(self.claim), time.time(), timeout=int(LEASE.total_seconds()) * 10)

    def beat_row(self) -> None:
        try:
            LinkRequest.objects.filter(claim=self.claim, status=Status.RUNNING).update(heartbeat_at=timezone.now())
        except DatabaseError as exc:
            logger.warning("link %s: heartbeat not written (%s)", self.claim[:8], exc.__class__.__name__)


def last_heartbeat(claim: str, on_row: datetime | None) -> datetime | None:
    """When the run of ``claim`` last showed it was working: its rows' beat or the cache's, the later."""
    beats = [on_row] if on_row else []
    beat = cache.get(heartbeat_key(claim))
    if beat:
        beats.append(datetime.fromtimestamp(beat, UTC))
    return max(beats) if beats else None


def links_recover(*, now: datetime | None = None, page: bool = False) -> int:
    """Give up on runs whose worker stopped beating for ``LEASE``, and queue requests nobody took.

    Returns how many requests were given up. ``page`` True (a page is being read) waits only
    briefly for a busy SQLite database.
    """
    now = now or timezone.now()
    cutoff = now - LEASE
    running: dict[str, datetime | None] = {}
    for claim, beat in LinkRequest.objects.filter(status=Status.RUNNING).values_list("claim", "heartbeat_at"):
        running[claim] = max(filter(None, (running.get(claim), beat)), default=None)
    given_up = 0
    for claim, on_row in running.items():
        beat = last_heartbeat(claim, on_row)
        if beat is not None and beat >= cutoff:
            continue
        try:
            with sqlite_lock_wait(PAGE_LOCK_WAIT_MS if page else None):
                given_up += _give_up(claim, now)
        except DatabaseError as exc:  # SQLite: an import holds the write lock; the schedule tries again
            logger.warning("link %s: could not be marked stopped yet (%s)", claim[:8], exc.__class__.__name__)
    stale = LinkRequest.objects.filter(status=Status.WAITING, created_at__lt=cutoff)
    if not page and not running and stale.exists():
        enqueue()  # asked for, but the worker was never told (or dropped it)
    return given_up


@transaction.atomic
def _give_up(claim: str, now: datetime) -> int:
    _lock()
    stopped = LinkRequest.objects.filter(claim=claim, status=Status.RUNNING)
    first = stopped.order_by("started_at").values_list("started_at", flat=True).first()
    again = stopped.filter(attempt__lt=MAX_ATTEMPTS).update(status=Status.WAITING, claim="", heartbeat_at=None)
    failed = stopped.update(status=Status.FAILED, finished_at=now, message=STOPPED)
    if first is not None:
        # The run it started (if it got that far) kept nothing; it is not left running either.
        LinkRun.objects.filter(status=LinkRun.Status.RUNNING, started_at__gte=first).update(
            status=LinkRun.Status.FAILED, finished_at=now, message="WorkerStopped",
        )
    if again or failed:
        audit_record(
            user=None, action=AuditEvent.Action.CHANGE, object_type="link_request", object_id=claim[:8],
            detail={"stopped": True, "again": again, "failed": failed},
        )
        logger.warning("link %s: the worker stopped; %s request(s) to run again, %s failed", claim[:8], again, failed)
    if again:
        transaction.on_commit(enqueue)
    return again + failed

