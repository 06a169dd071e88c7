"""Set-based reads and writes between the app database and DuckDB, on SQLite and PostgreSQL.

Reads come back as pyarrow tables of text and integer columns (DuckDB casts them);
PostgreSQL streams them with COPY. Writes go in with COPY (PostgreSQL) or executemany
(SQLite), and updates through a temporary table joined with UPDATE ... FROM, so a million
links are written without a million ORM objects.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

import pyarrow as pa
import pyarrow.csv as pacsv
from django.db import connection


def _vendor() -> str:
    return connection.vendor


def fetch_arrow(sql: str, columns: dict[str, pa.DataType]) -> pa.Table:
    """Run ``sql`` (no parameters) and return its rows as a table with ``columns`` in order."""
    names = list(columns)
    if _vendor() == "postgresql":
        buffer = io.BytesIO()
        with connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy:
                for block in copy:
                    buffer.write(block)
        if buffer.tell() == 0:
            return pa.table({n: pa.array([], t) for n, t in columns.items()})
        buffer.seek(0)
        return pacsv.read_csv(
            buffer,
            read_options=pacsv.ReadOptions(column_names=names),
            convert_options=pacsv.ConvertOptions(column_types=columns, strings_can_be_null=True),
        )
    # SQLite: the driver's own cursor, without Django's per-query wrapping.
    connection.ensure_connection()
    cursor = connection.connection.cursor()
    try:
        rows = cursor.execute(sql).fetchall()
    finally:
        cursor.close()
    if not rows:
        return pa.table({n: pa.array([], t) for n, t in columns.items()})
    values = list(zip(*rows, strict=True))
    return pa.table({n: pa.array(values[i], t) for i, (n, t) in enumerate(columns.items())})


def text(column: str) -> str:
    """SQL for a column as text that sorts and parses the same on both databases."""
    if _vendor() == "postgresql":
        return f"{column}::text"
    return f"CAST({column} AS TEXT)"


def timestamp_text(column: str) -> str:
    """A timestamp as sortable UTC text, YYYY-MM-DD HH:MM:SS.ffffff."""
    if _vendor() == "postgresql":
        return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
    return f"CAST({column} AS TEXT)"


def reserve_ids(table: str, count: int) -> list[int]:
    """``count`` fresh primary keys for ``table``, in increasing order (the caller holds the write lock)."""
    if count <= 0:
        return []
    with connection.cursor() as cursor:
        if _vendor() == "postgresql":
            cursor.execute(
                f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)", [count]  # noqa: S608
            )
            return sorted(r[0] for r in cursor.fetchall())
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}")  # noqa: S608
        start = cursor.fetchall()[0][0]
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        found = cursor.fetchall()
        start = max(start, found[0][0] if found else 0)
        return list(range(start + 1, start + 1 + count))


def adapt_datetime(value):
    if _vendor() == "postgresql":
        return value
    return connection.ops.adapt_datetimefield_value(value)


def insert(table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """Insert ``rows`` into ``table``; returns how many."""
    names = ", ".join(columns)
    count = 0
    if _vendor() == "postgresql":
        with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        return count
    connection.ensure_connection()
    # SQLite: the driver's executemany over the rows, without Django's per-row parameter handling.
    marks = ", ".join(["?"] * len(columns))
    raw = connection.connection
    before = raw.total_changes
    raw.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)  # noqa: S608
    return raw.total_changes - before


def load_temp(name: str, columns: dict[str, str], rows: Iterable[Sequence]) -> int:
    """Create temporary table ``name`` (``columns``: name -> SQL type) holding ``rows``, with statistics."""
    definition = ", ".join(f"{c} {t}" for c, t in columns.items())
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {name}")
        cursor.execute(f"CREATE TEMPORARY TABLE {name} ({definition})")
    count = insert(name, list(columns), rows)
    analyze(name)
    return count


def analyze(name: str) -> None:
    """Give the planner statistics (autovacuum never visits temporary tables), so joins are hashed."""
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {name}")


def drop_temp(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {name}")


def execute(sql: str, params: Sequence | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.rowcount


def distinct_from() -> str:
    return "IS DISTINCT FROM" if _vendor() == "postgresql" else "IS NOT"
