"""Optimistic concurrency: rows people edit carry a version, raised by one on each change.

A writer names the version it read (``expected_version``); the service locks the row,
compares, and refuses with ``Conflict`` when someone else changed it in between, so no
change is silently overwritten. ``expected_version=None`` is a trusted caller (the command
line, another service) that has just read the row itself.
"""

import threading
from contextlib import contextmanager

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, connections, models

CONFLICT_MESSAGE = "Someone changed this since you opened it."


def version_field():
    """The version column: 1 for a new row (also for rows inserted by SQL), then one more per change."""
    return models.PositiveIntegerField(
        default=1, db_default=1, editable=False,
        help_text="Raised by one on each change; a writer names the version it read.",
    )


class Conflict(ValidationError):
    """The row changed since the writer read it. ``current`` is the row as saved now."""

    def __init__(self, current, expected_version: int):
        super().__init__(
            f"{CONFLICT_MESSAGE} You opened version {expected_version}; it is now version {current.version}.",
            code="conflict",
        )
        self.current = current
        self.expected_version = expected_version

    @property
    def current_version(self) -> int:
        return self.current.version


def lock(row: models.Model) -> models.Model:
    """Lock ``row`` until the transaction ends and reload it in place, so checks see what is saved now."""
    list(type(row)._base_manager.select_for_update().filter(pk=row.pk).values_list("pk", flat=True))
    row.refresh_from_db()
    return row


def check_version(row: models.Model, expected_version: int | None) -> None:
    """Refuse with ``Conflict`` unless ``expected_version`` is None or the row's saved version."""
    if expected_version is not None and int(expected_version) != row.version:
        raise Conflict(row, int(expected_version))


def parse_version(value) -> int | None:
    """A version from a form or request: a positive whole number, else None."""
    text = str(value).strip() if value is not None else ""
    if text.isdigit() and text.isascii() and 0 < int(text) < 2**31:
        return int(text)
    return None


@contextmanager
def sqlite_lock_wait(milliseconds: int | None):
    """On SQLite, wait at most ``milliseconds`` for the write lock inside the block (elsewhere, or
    with None, as usual): a page that recovers jobs should not queue behind a long import."""
    if milliseconds is None or connection.vendor != "sqlite":
        yield
        return
    usual = int(settings.DATABASES["default"].get("OPTIONS", {}).get("timeout", 5) * 1000)
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA busy_timeout = {int(milliseconds)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {usual}")


class Heartbeat:
    """Shows that a background job is still working: ``beat_cache`` at once and then every ``every``
    seconds from a thread, with ``beat_row`` too on PostgreSQL (on SQLite the job's own transaction
    holds the only write lock, so a beat on its row would wait). Subclasses say how each beat is kept."""

    def __init__(self, *, name: str, every: float):
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._on_row = connection.vendor == "postgresql"

    def __enter__(self):
        self.beat_cache()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.every):
                self.beat_cache()
                if self._on_row:
                    self.beat_row()
        finally:
            connections.close_all()  # this thread's own connection

    def beat_cache(self) -> None:
        raise NotImplementedError

    def beat_row(self) -> None:
        raise NotImplementedError
