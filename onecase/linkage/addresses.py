"""Resolving recorded addresses to addresses: normalised, fuzzy enough for a postcode typo.

Each distinct (address line, postcode, UPRN) an agency recorded is normalised (canonical
postcode, flat, house number, street with abbreviations expanded) into a key: ``u:<UPRN>``
when a UPRN is given, else ``p:<postcode>|<flat>|<number>|<street>``, else (no postcode)
``n:<flat>|<number>|<street>``. Keys are then joined when they are the same place:

- a UPRN and the text address recorded with it (unless that text goes with several UPRNs);
- the same flat, number and street with postcodes one character apart (a typo);
- the same postcode, flat and number with similar or missing street names;
- an address without a postcode and the only postcode address with its flat, number and street.

Two different UPRNs are never joined: the UPRN wins. A group that contains an address
already known keeps it, so addresses (and their households) are stable from run to run.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

from onecase.linkage.clustering import Groups
from onecase.linkage.normalise import LINES

OBS = "onecase_addr_obs"  # line, postcode, uprn, weight
EXISTING = "onecase_addr_existing"  # id, key, uprn, postcode, flat, number, street
RESOLVED = "onecase_addr_resolved"  # line, postcode, uprn, address_ref
NEW = "onecase_addr_new"  # ref, key, uprn, postcode, flat, number, street, line


@dataclass
class AddressStats:
    observations: int = 0
    resolved: int = 0
    new: int = 0


def create_inputs(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE OR REPLACE TABLE {OBS} (line VARCHAR, postcode VARCHAR, uprn VARCHAR, weight BIGINT)")
    con.execute(
        f"CREATE OR REPLACE TABLE {EXISTING} (id BIGINT, key VARCHAR, uprn VARCHAR, postcode VARCHAR, "
        "flat VARCHAR, number VARCHAR, street VARCHAR)"
    )


def _title(value: str | None) -> str:
    return " ".join(w.capitalize() for w in (value or "").split())


def display_line(flat: str | None, number: str | None, street: str | None, postcode: str | None) -> str:
    parts = []
    if flat:
        parts.append(f"Flat {flat.upper()}")
    house = " ".join(p for p in ((number or "").upper(), _title(street)) if p)
    if house:
        parts.append(house)
    if postcode:
        parts.append(postcode)
    return ", ".join(parts)


def resolve(con: duckdb.DuckDBPyConnection) -> AddressStats:
    """Resolve every observation in ``OBS`` against ``EXISTING``; fills ``RESOLVED`` and ``NEW``.

    ``LINES`` (see ``normalise.parse_lines_sql``) must hold every line in ``OBS``, parsed.

    ``address_ref`` in ``RESOLVED`` is an existing address id (positive), or minus the
    ``ref`` of a row of ``NEW``. Observations with nothing to resolve are left out.
    """
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE onecase_addr_norm AS
        WITH pc AS (
            SELECT postcode, oc_postcode(postcode) AS canonical FROM (SELECT DISTINCT postcode FROM {OBS})
        ), p AS (
            SELECT o.line, o.postcode, o.uprn, o.weight, oc_digits(o.uprn, 1, 12) AS nu,
                   CASE WHEN length(pc.canonical) <= 8 THEN pc.canonical END AS npc, l.flat, l.number, l.street
            FROM {OBS} o JOIN pc ON pc.postcode = o.postcode LEFT JOIN {LINES} l ON l.line = o.line
        )
        SELECT *,
               CASE WHEN nu IS NOT NULL THEN 'u:' || nu END AS ukey,
               CASE WHEN npc IS NOT NULL AND (number IS NOT NULL OR street IS NOT NULL)
                    THEN 'p:' || npc || '|' || coalesce(flat, '') || '|' || coalesce(number, '') || '|'
                         || coalesce(street, '') END AS pkey,
               CASE WHEN npc IS NULL AND number IS NOT NULL AND street IS NOT NULL
                    THEN 'n:' || coalesce(flat, '') || '|' || number || '|' || street END AS nkey
        FROM p
        """  # noqa: S608
    )
    # A known UPRN address also answers to its text form, so text-only records still find it.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE onecase_addr_known_text AS
        SELECT id, key, 'p:' || postcode || '|' || coalesce(flat, '') || '|' || coalesce(number, '') || '|'
                         || coalesce(street, '') AS pkey, postcode, flat, number, street
        FROM {EXISTING}
        WHERE key LIKE 'u:%' AND coalesce(postcode, '') <> ''
          AND (coalesce(number, '') <> '' OR coalesce(street, '') <> '')
        """  # noqa: S608
    )
    # Nodes: every key, with the fields of its most recorded form; known addresses weigh most.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE onecase_addr_nodes AS
        WITH forms AS (
            SELECT ukey AS key, nu AS uprn, npc AS postcode, flat, number, street, weight, NULL::BIGINT AS existing
            FROM onecase_addr_norm WHERE ukey IS NOT NULL
            UNION ALL
            SELECT pkey, NULL, npc, flat, number, street, weight, NULL FROM onecase_addr_norm WHERE pkey IS NOT NULL
            UNION ALL
            SELECT nkey, NULL, NULL, flat, number, street, weight, NULL FROM onecase_addr_norm WHERE nkey IS NOT NULL
            UNION ALL
            SELECT key, nullif(uprn, ''), nullif(postcode, ''), nullif(flat, ''), nullif(number, ''),
                   nullif(street, ''), 0, id
            FROM {EXISTING}
            UNION ALL
            SELECT pkey, NULL, postcode, nullif(flat, ''), nullif(number, ''), nullif(street, ''), 0, id
            FROM onecase_addr_known_text
        ), ranked AS (
            SELECT *, sum(weight) OVER (PARTITION BY key) AS total, min(existing) OVER (PARTITION BY key) AS known,
                   row_number() OVER (PARTITION BY key ORDER BY existing NULLS LAST, weight DESC, postcode, flat,
                                      number, street) AS rank
            FROM forms
        )
        SELECT row_number() OVER (ORDER BY key) AS node, key, uprn, postcode, flat, number, street, total AS weight,
               known AS existing
        FROM ranked WHERE rank = 1
        """  # noqa: S608
    )
    nodes = con.sql(
        "SELECT node, key, uprn, existing, weight, postcode, flat, number, street FROM onecase_addr_nodes ORDER BY node"
    ).fetchall()
    edges = con.sql(
        """
        WITH nd AS (SELECT * FROM onecase_addr_nodes),
        single AS (
            SELECT coalesce(pkey, nkey) AS tkey FROM onecase_addr_norm
            WHERE ukey IS NOT NULL AND coalesce(pkey, nkey) IS NOT NULL
            GROUP BY 1 HAVING count(DISTINCT ukey) = 1
        ),
        uprn_text AS (
            SELECT DISTINCT o.ukey AS a, s.tkey AS b FROM onecase_addr_norm o
            JOIN single s ON s.tkey = coalesce(o.pkey, o.nkey)
            WHERE o.ukey IS NOT NULL
        ),
        typo AS (
            SELECT x.key AS a, y.key AS b FROM nd x JOIN nd y
              ON x.flat IS NOT DISTINCT FROM y.flat AND x.number = y.number AND x.street = y.street
             AND x.key < y.key AND x.postcode <> y.postcode AND levenshtein(x.postcode, y.postcode) <= 1
            WHERE x.key LIKE 'p:%' AND y.key LIKE 'p:%'
        ),
        street AS (
            SELECT x.key AS a, y.key AS b FROM nd x JOIN nd y
              ON x.postcode = y.postcode AND x.flat IS NOT DISTINCT FROM y.flat AND x.number = y.number
             AND x.key < y.key
             AND (x.street IS NULL OR y.street IS NULL OR jaro_winkler_similarity(x.street, y.street) >= 0.9)
            WHERE x.key LIKE 'p:%' AND y.key LIKE 'p:%'
        ),
        nopc AS (
            SELECT x.key AS a, y.key AS b FROM nd x JOIN nd y
              ON x.flat IS NOT DISTINCT FROM y.flat AND x.number = y.number AND x.street = y.street
            WHERE x.key LIKE 'n:%' AND y.key LIKE 'p:%'
        )
        SELECT 1 AS kind, a, b FROM uprn_text
        UNION ALL SELECT 1, key, pkey FROM onecase_addr_known_text
        UNION ALL SELECT 2, a, b FROM street
        UNION ALL SELECT 3, a, b FROM typo
        UNION ALL SELECT 4, a, b FROM nopc
        ORDER BY 1, 2, 3
        """
    ).fetchall()
    node_of = {key: node for node, key, *_ in nodes}
    uprn_of = {node: uprn for node, _key, uprn, *_ in nodes}
    groups = Groups(node_of.values(), locks={n: u for n, u in uprn_of.items() if u})
    without_postcode: dict[str, list[str]] = {}
    for kind, a, b in edges:
        if kind == 4:
            without_postcode.setdefault(a, []).append(b)
        else:
            groups.join(node_of[a], node_of[b])
    # An address without a postcode joins the place with its flat, number and street if there is only one.
    for a, candidates in sorted(without_postcode.items()):
        places = {groups.find(node_of[b]) for b in candidates}
        if len(places) == 1:
            groups.join(node_of[a], places.pop())
    roots = groups.roots()

    members: dict[int, list[tuple]] = {}
    for row in nodes:
        members.setdefault(roots[row[0]], []).append(row)
    group_ref: dict[int, int] = {}
    new_rows = []
    for root in sorted(members):
        rows = members[root]
        known = [r[3] for r in rows if r[3] is not None]
        if known:
            group_ref[root] = min(known)
            continue
        # The key: the UPRN if there is one, else the most recorded text form.
        by_weight = sorted(rows, key=lambda r: (-r[4], r[1]))
        keyed = [r for r in by_weight if r[1].startswith("u:")] or [r for r in by_weight if r[1].startswith("p:")]
        chosen = (keyed or by_weight)[0]
        text = next((r for r in by_weight if r[1][0] == "p"), None) or next(
            (r for r in by_weight if r[1][0] == "n"), chosen)
        ref = len(new_rows) + 1
        group_ref[root] = -ref
        _, key, uprn, _, _, postcode, flat, number, street = chosen
        _, _, _, _, _, t_postcode, t_flat, t_number, t_street = text
        new_rows.append(
            (
                ref, key, uprn or "", t_postcode or postcode or "", t_flat or flat or "", t_number or number or "",
                t_street or street or "", display_line(t_flat, t_number, t_street, t_postcode)[:300],
            )
        )
    columns = ("ref", "key", "uprn", "postcode", "flat", "number", "street", "line")
    new_table = pa.table(
        {c: pa.array([r[i] for r in new_rows], pa.int64() if c == "ref" else pa.string())
         for i, c in enumerate(columns)}
    )
    con.register("onecase_addr_new_arrow", new_table)
    con.execute(f"CREATE OR REPLACE TABLE {NEW} AS SELECT * FROM onecase_addr_new_arrow")  # noqa: S608
    con.unregister("onecase_addr_new_arrow")
    noderef = pa.table(
        {
            "key": pa.array([row[1] for row in nodes], pa.string()),
            "address_ref": pa.array([group_ref[roots[row[0]]] for row in nodes], pa.int64()),
        }
    )
    con.register("onecase_addr_noderef_arrow", noderef)
    con.execute("CREATE OR REPLACE TEMP TABLE onecase_addr_noderef AS SELECT * FROM onecase_addr_noderef_arrow")
    con.unregister("onecase_addr_noderef_arrow")
    con.execute(
        f"""
        CREATE OR REPLACE TABLE {RESOLVED} AS
        SELECT o.line, o.postcode, o.uprn, r.address_ref
        FROM onecase_addr_norm o JOIN onecase_addr_noderef r ON r.key = coalesce(o.ukey, o.pkey, o.nkey)
        """  # noqa: S608
    )
    observations = con.sql(f"SELECT count(*) FROM {OBS}").fetchall()[0][0]  # noqa: S608
    resolved = con.sql(f"SELECT count(*) FROM {RESOLVED}").fetchall()[0][0]  # noqa: S608
    return AddressStats(observations=observations, resolved=resolved, new=len(new_rows))
