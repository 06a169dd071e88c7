"""Bulk writes to the demand ledger: its demand counts and its indexes.

Database triggers keep ``DemandCount`` and ``DemandTotal`` exact row by row (migration 0008).
A statement that moves millions of contacts (linkage resolving people and households) pauses
them and rebuilds the counts it touched set-based instead. A first load into an empty ledger
builds the non-unique indexes once, after loading, rather than keeping them while rows come
in random order. See docs/adr/0008-bulk-contact-import.md and docs/adr/0009-demand-counts.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import contextmanager

from django.db import OperationalError, connection, transaction

from onecase.contacts.models import DemandKind

SUBJECT_COLUMNS = {
    DemandKind.HOUSEHOLD: "household_id",
    DemandKind.PERSON: "person_id",
    DemandKind.ADDRESS: "address_id",
}
LOCK_WAIT = "2s"  # how long dropping the ledger's indexes waits for its readers before giving up
INDEX_MEMORY = "256MB"  # maintenance_work_mem while they are built again
_COUNT_TRIGGERS = "contacts_demand_%"


@contextmanager
def demand_counts_paused():
    """Within a transaction: the demand count triggers do nothing until the block ends.

    Whoever pauses them must call ``rebuild_demand_counts`` for the kinds they changed before
    the block ends. On PostgreSQL a transaction-local setting the triggers test; on SQLite the
    triggers are dropped and created again (DDL is transactional there).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("demand counts may only be paused inside a transaction")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config('onecase.demand_counts', 'paused', true)")
            try:
                yield
            finally:
                cursor.execute("SELECT set_config('onecase.demand_counts', '', true)")
            return
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE %s",
                       [_COUNT_TRIGGERS])
        triggers = cursor.fetchall()
        for name, _ in triggers:
            cursor.execute(f"DROP TRIGGER {connection.ops.quote_name(name)}")
        try:
            yield
        finally:
            for _, sql in triggers:
                cursor.execute(sql)


def rebuild_demand_counts(kinds: Iterable[str] = tuple(SUBJECT_COLUMNS)) -> None:
    """Count the ledger again, set-based, for ``kinds`` (household, person, address)."""
    kinds = [DemandKind(kind) for kind in kinds]
    if not kinds:
        return
    marks = ", ".join(["%s"] * len(kinds))
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM contacts_demandcount WHERE kind IN ({marks})", kinds)  # noqa: S608
        cursor.execute(f"DELETE FROM contacts_demandtotal WHERE kind IN ({marks})", kinds)  # noqa: S608
        for kind in kinds:
            column = SUBJECT_COLUMNS[kind]
            cursor.execute(
                f"""INSERT INTO contacts_demandcount (kind, subject_id, agency_id, contact_type, contacts)
                    SELECT %s, {column}, agency_id, contact_type, COUNT(*) FROM contacts_contact
                    WHERE {column} IS NOT NULL GROUP BY {column}, agency_id, contact_type""",  # noqa: S608
                [kind],
            )
        cursor.execute(
            f"""INSERT INTO contacts_demandtotal (kind, subject_id, contacts)
                SELECT kind, subject_id, SUM(contacts) FROM contacts_demandcount
                WHERE kind IN ({marks}) GROUP BY kind, subject_id""",  # noqa: S608
            kinds,
        )


def drop_ledger_indexes() -> list[str]:
    """PostgreSQL, in a transaction: if the ledger is empty, drop its non-unique whole-table indexes.

    Returns their definitions for ``build_ledger_indexes`` (which must run before the
    transaction ends). Dropping them locks the ledger until then; if its readers keep it for
    longer than LOCK_WAIT, or it has rows, nothing is dropped and [] is returned.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('lock_timeout')")
        (waited,) = cursor.fetchone()
        dropped: list[str] = []
        try:
            with transaction.atomic():  # a savepoint: rolling it back lets go of the lock
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", [LOCK_WAIT])
                cursor.execute("LOCK TABLE contacts_contact IN ACCESS EXCLUSIVE MODE")
                cursor.execute("SELECT EXISTS (SELECT 1 FROM contacts_contact)")
                if cursor.fetchone()[0]:
                    raise _LedgerInUse
                cursor.execute(
                    """SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i
                       JOIN pg_class c ON c.oid = i.indexrelid
                       WHERE i.indrelid = 'contacts_contact'::regclass AND NOT i.indisunique AND i.indpred IS NULL
                       ORDER BY c.relname"""
                )
                for name, definition in cursor.fetchall():
                    cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
                    dropped.append(definition)
        except (_LedgerInUse, OperationalError):
            dropped = []
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [waited])
    return dropped


class _LedgerInUse(Exception):
    pass


def build_ledger_indexes(definitions: list[str]) -> None:
    """Build the indexes ``drop_ledger_indexes`` dropped."""
    if not definitions:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('maintenance_work_mem')")
        (memory,) = cursor.fetchone()
        cursor.execute("SELECT set_config('maintenance_work_mem', %s, true)", [INDEX_MEMORY])
        # An index cannot be built on a table with deferred checks pending: run any now (every
        # foreign key Django makes is DEFERRABLE INITIALLY DEFERRED, so they are deferred again after).
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for definition in definitions:
            cursor.execute(definition)
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        cursor.execute("SELECT set_config('maintenance_work_mem', %s, true)", [memory])
