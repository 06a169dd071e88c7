"""Set-based reads and writes between the app database and DuckDB, on SQLite and PostgreSQL.

Reads come back as pyarrow tables of text and integer columns (DuckDB casts them);
PostgreSQL streams them with COPY. Writes go in with COPY (PostgreSQL) or executemany
(SQLite), and updates through a temporary table joined with UPDATE ... FROM, so a million
links are written without a million ORM objects.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
from django.db import connection

BATCH = 100_000
# SQLite page cache while a run writes (KiB): index updates of a million links stay in memory.
SQLITE_WRITE_CACHE_KIB = 512 * 1024


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
            convert_options=pacsv.ConvertOptions(column_types=columns, strings_can_be_null=True,
                                                   quoted_strings_can_be_null=False),
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


_ARROW_TYPES = {"BIGINT": pa.int64(), "VARCHAR": pa.string(), "DOUBLE": pa.float64()}


def fetch_into(con: duckdb.DuckDBPyConnection, name: str, sql: str, columns: dict[str, str]) -> int:
    """Run ``sql`` (no parameters) on the app database into DuckDB table ``name``; returns the row count.

    ``columns`` names the query's columns in order, with their DuckDB types (BIGINT, VARCHAR,
    DOUBLE). PostgreSQL streams CSV with COPY; SQLite renders each row as one JSON array,
    which DuckDB takes apart in parallel, so Python makes one object per row, not per value.
    """
    names = list(columns)
    if _vendor() == "postgresql":
        table = fetch_arrow(sql, {n: _ARROW_TYPES[t] for n, t in columns.items()})
    else:
        connection.ensure_connection()
        cursor = connection.connection.cursor()
        chunks = []
        try:
            cursor.execute(f"WITH q({', '.join(names)}) AS ({sql}) SELECT json_array({', '.join(names)}) FROM q")  # noqa: S608
            while rows := cursor.fetchmany(BATCH):
                chunks.append(pa.array([r[0] for r in rows], pa.string()))
        finally:
            cursor.close()
        table = pa.table({"line": pa.chunked_array(chunks, pa.string())})
        cast = ", ".join(f"j[{i}]::{t} AS {n}" for i, (n, t) in enumerate(columns.items(), start=1))
    con.register(f"{name}_arrow", table)
    if _vendor() == "postgresql":
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {name}_arrow")  # noqa: S608
    else:
        con.execute(
            f"""CREATE OR REPLACE TABLE {name} AS
                SELECT {cast} FROM (SELECT from_json(line, '["VARCHAR"]') AS j FROM {name}_arrow)"""  # noqa: S608
        )
    con.unregister(f"{name}_arrow")
    return table.num_rows


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


def datetime_text(value) -> str:
    """``value`` as text the database stores (SQLite) or parses (PostgreSQL) as that instant."""
    if _vendor() == "postgresql":
        return value.isoformat()
    return connection.ops.adapt_datetimefield_value(value)


@contextmanager
def bulk_writes():
    """Settings for writing a run's results; on SQLite a page cache big enough for the indexes."""
    if _vendor() != "sqlite":
        yield
        return
    previous = {}
    with connection.cursor() as cursor:
        for schema in ("main", "temp"):
            cursor.execute(f"PRAGMA {schema}.cache_size")
            previous[schema] = int(cursor.fetchall()[0][0])
            cursor.execute(f"PRAGMA {schema}.cache_size = -{int(SQLITE_WRITE_CACHE_KIB)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for schema, size in previous.items():
                cursor.execute(f"PRAGMA {schema}.cache_size = {size}")


def _duck_rows(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence | None) -> Iterator[tuple]:
    result = con.execute(sql, list(params or []))
    return itertools.chain.from_iterable(iter(lambda: result.fetchmany(BATCH), []))


def insert_from(table: str, columns: Sequence[str], con: duckdb.DuckDBPyConnection, sql: str,
                params: Sequence | None = None) -> int:
    """Insert the rows of the DuckDB query ``sql`` (columns in the order of ``columns``) into ``table``.

    PostgreSQL: COPY of CSV written by arrow, batch by batch. SQLite: executemany over the
    streamed rows. Either way no Python object is made per value on the PostgreSQL path,
    and none per row beyond the driver's tuple on SQLite.
    """
    names = ", ".join(columns)
    if _vendor() == "postgresql":
        count = 0
        reader = con.sql(sql, params=list(params or [])).to_arrow_reader(BATCH)
        options = pacsv.WriteOptions(include_header=False)
        with connection.cursor() as cursor, cursor.cursor.copy(
            f"COPY {table} ({names}) FROM STDIN WITH (FORMAT csv)"
        ) as copy:
            for batch in reader:
                if batch.num_rows:
                    buffer = io.BytesIO()
                    pacsv.write_csv(batch, buffer, write_options=options)
                    copy.write(buffer.getbuffer())
                    count += batch.num_rows
        return count
    return insert(table, columns, _duck_rows(con, sql, params))


def update_from(table: str, columns: Sequence[str], con: duckdb.DuckDBPyConnection, sql: str,
                types: dict[str, str]) -> int:
    """Set ``columns`` of ``table`` rows by id from the DuckDB query ``sql`` (id, then ``columns``).

    The rows go into a temporary table (``types``: SQL type of each column), then one
    UPDATE ... FROM joins it (on SQLite faster than an UPDATE per row). Returns the row count.
    """
    temp = f"onecase_{table}_update"
    count = load_temp_from(temp, {"id": "bigint PRIMARY KEY", **{c: types[c] for c in columns}}, con, sql)
    if count:
        assignments = ", ".join(f"{c} = t.{c}" for c in columns)
        execute(f"UPDATE {table} SET {assignments} FROM {temp} t WHERE {table}.id = t.id")  # noqa: S608
    drop_temp(temp)
    return count


def _temp_definition(columns: dict[str, str]) -> str:
    types = dict(columns)
    if _vendor() == "sqlite":
        # The rowid itself, rather than a rowid table with a second index on the key.
        types = {c: "integer PRIMARY KEY" if t == "bigint PRIMARY KEY" else t for c, t in types.items()}
    return ", ".join(f"{c} {t}" for c, t in types.items())


def load_temp_from(name: str, columns: dict[str, str], con: duckdb.DuckDBPyConnection, sql: str,
                   params: Sequence | None = None) -> int:
    """``load_temp`` with the rows of the DuckDB query ``sql``."""
    definition = _temp_definition(columns)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {name}")
        cursor.execute(f"CREATE TEMPORARY TABLE {name} ({definition})")
    count = insert_from(name, list(columns), con, sql, params)
    analyze(name)
    return count


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
    definition = _temp_definition(columns)
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
