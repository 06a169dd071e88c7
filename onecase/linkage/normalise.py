"""Normalising agency records into comparable features, in DuckDB SQL.

The SQL macros defined here are the one definition of each rule: the link run applies
them to whole tables, and the small Python helpers (``canonical_postcode``,
``normalise_address``...) run the same macros on one value, so a page or a test can
never disagree with the linkage.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date

import duckdb
import pyarrow as pa

from onecase.linkage.names import FLAT_WORDS, STREET_TYPES, STREET_WORDS, TITLES, nickname_rows

NICKNAMES_TABLE = "onecase_nicknames"
_FLAT = "|".join(FLAT_WORDS)
_TYPES = "|".join(STREET_TYPES)


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


_TITLE_LIST = "[" + ", ".join(_sql_str(t) for t in TITLES) + "]"

# One statement per macro; each is CREATE OR REPLACE so a connection can be set up twice.
MACROS = (
    # Lower case, accents and punctuation removed, single spaces.
    r"""CREATE OR REPLACE MACRO oc_clean(s) AS
        nullif(trim(regexp_replace(regexp_replace(lower(strip_accents(coalesce(s, ''))), '[''`’.]', '', 'g'),
                                   '[^a-z0-9]+', ' ', 'g')), '')""",
    # The first given name, without a title; NULL when empty.
    f"""CREATE OR REPLACE MACRO oc_given(s) AS (
        WITH t AS (SELECT list_filter(string_split(coalesce(regexp_replace(oc_clean(s), '[0-9]', '', 'g'), ''), ' '),
                                      lambda w: w <> '') AS words)
        SELECT nullif(CASE WHEN len(words) > 1 AND list_contains({_TITLE_LIST}, words[1]) THEN words[2]
                           ELSE coalesce(words[1], '') END, '')
        FROM t)""",  # noqa: S608
    # Family name as one word of letters: O'Brien -> obrien, Smith-Jones -> smithjones.
    r"""CREATE OR REPLACE MACRO oc_family(s) AS
        nullif(regexp_replace(lower(strip_accents(coalesce(s, ''))), '[^a-z]', '', 'g'), '')""",
    r"""CREATE OR REPLACE MACRO oc_sex(s) AS
        CASE left(lower(trim(coalesce(s, ''))), 1) WHEN 'm' THEN 'm' WHEN 'f' THEN 'f' WHEN 'w' THEN 'f'
             ELSE NULL END""",
    # Placeholder dates some systems use for "unknown" count as missing.
    r"""CREATE OR REPLACE MACRO oc_dob(d) AS
        CASE WHEN d IS NULL OR d IN (DATE '1900-01-01', DATE '1800-01-01', DATE '1901-01-01') THEN NULL
             ELSE d END""",
    r"""CREATE OR REPLACE MACRO oc_digits(s, lo, hi) AS (
        WITH t AS (SELECT ltrim(regexp_replace(coalesce(s, ''), '[^0-9]', '', 'g'), '0') AS d)
        SELECT CASE WHEN length(d) BETWEEN lo AND hi THEN d ELSE NULL END FROM t)""",
    # UK postcodes in canonical form ("st14hh" -> "ST1 4HH"); other values upper case without spaces.
    r"""CREATE OR REPLACE MACRO oc_postcode(p) AS (
        WITH t AS (SELECT upper(regexp_replace(coalesce(p, ''), '[^A-Za-z0-9]', '', 'g')) AS c),
             f AS (SELECT CASE WHEN length(c) BETWEEN 5 AND 7
                               AND substr(c, length(c) - 2, 1) IN ('O', 'I', 'L')
                               AND regexp_matches(c, '^[A-Z]{1,2}[0-9][A-Z0-9]?[OIL][A-Z]{2}$')
                          THEN substr(c, 1, length(c) - 3)
                               || CASE substr(c, length(c) - 2, 1) WHEN 'O' THEN '0' ELSE '1' END
                               || right(c, 2)
                          ELSE c END AS c FROM t)
        SELECT CASE WHEN c = '' THEN NULL
                    WHEN regexp_matches(c, '^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$')
                    THEN substr(c, 1, length(c) - 3) || ' ' || right(c, 3)
                    ELSE c END FROM f)""",
    r"""CREATE OR REPLACE MACRO oc_district(pc) AS
        nullif(regexp_extract(coalesce(pc, ''), '^([A-Z]{1,2}[0-9][A-Z0-9]?) ', 1), '')""",
    # Address line with the postcode taken out, abbreviations expanded, flat and number split off.
    """CREATE OR REPLACE MACRO oc_addr_text(s) AS
        trim(regexp_replace(
            regexp_replace(regexp_replace(lower(strip_accents(coalesce(s, ''))), '[''`’]', '', 'g'),
                           '\\b[a-z]{1,2}[0-9][a-z0-9]? ?[0-9][a-z]{2}\\b', ' ', 'g'),
            '[^a-z0-9/]+', ' ', 'g'))""",
    f"""CREATE OR REPLACE MACRO oc_flat(a) AS
        coalesce(nullif(regexp_extract(a, '\\b(?:{_FLAT})\\s*(?:no\\s*)?([0-9]+[a-z]?|[a-z])\\b', 1), ''),
                 nullif(regexp_extract(a, '\\b([0-9]+[a-z]?)\\s*/\\s*[0-9]+[a-z]?\\b', 1), ''))""",
    f"""CREATE OR REPLACE MACRO oc_without_flat(a) AS
        trim(regexp_replace(regexp_replace(a, '\\b(?:{_FLAT})\\s*(?:no\\s*)?([0-9]+[a-z]?|[a-z])\\b', ' '),
                            '\\b[0-9]+[a-z]?\\s*/\\s*([0-9]+[a-z]?)\\b', '\\1'))""",
)


def install(con: duckdb.DuckDBPyConnection) -> None:
    """Define the normalising macros and the nickname table on ``con``."""
    for statement in MACROS:
        con.execute(statement)
    rows = nickname_rows()
    con.register("onecase_nicknames_arrow", pa.table({"name": [r[0] for r in rows], "grp": [r[1] for r in rows]}))
    con.execute(f"CREATE OR REPLACE TABLE {NICKNAMES_TABLE} AS SELECT * FROM onecase_nicknames_arrow")  # noqa: S608
    con.unregister("onecase_nicknames_arrow")
    words = sorted(STREET_WORDS.items())
    con.register("onecase_street_words_arrow",
                 pa.table({"word": [w for w, _ in words], "full_word": [f for _, f in words]}))
    con.execute(f"CREATE OR REPLACE TABLE {STREET_WORDS_TABLE} AS SELECT * FROM onecase_street_words_arrow")  # noqa: S608
    con.unregister("onecase_street_words_arrow")


LINES = "onecase_lines"


STREET_WORDS_TABLE = "onecase_street_words"


def parse_lines_sql(lines_source: str) -> list[str]:
    """Statements creating ``LINES`` (line, flat, number, street) for the distinct lines ``lines_source`` selects.

    Street words are expanded with a join on the word table rather than per-row lookups,
    so a million lines parse in seconds.
    """
    return [
        f"""CREATE OR REPLACE TEMP TABLE onecase_lines_a AS
            SELECT line, left(oc_flat(a), 20) AS flat, oc_without_flat(a) AS rest
            FROM (SELECT line, oc_addr_text(line) AS a
                  FROM (SELECT DISTINCT line FROM ({lines_source}) WHERE line IS NOT NULL))""",  # noqa: S608
        r"""CREATE OR REPLACE TEMP TABLE onecase_lines_b AS
            SELECT line, flat, left(nullif(regexp_extract(rest, '\b([0-9]+[a-z]?)\b', 1), ''), 20) AS number,
                   trim(CASE WHEN regexp_matches(rest, '\b[0-9]+[a-z]?\b')
                             THEN coalesce(nullif(trim(regexp_extract(rest, '\b[0-9]+[a-z]?\s+([^0-9]*)', 1)), ''),
                                           regexp_extract(rest, '^([^0-9]*?)\s*\b[0-9]+[a-z]?\b', 1))
                             ELSE rest END) AS tail
            FROM onecase_lines_a""",
        f"""CREATE OR REPLACE TEMP TABLE onecase_lines_w AS
            WITH words AS (
                SELECT line, unnest(list_filter(string_split(tail, ' '), lambda w: w <> '')) AS word,
                       generate_subscripts(list_filter(string_split(tail, ' '), lambda w: w <> ''), 1) AS pos
                FROM onecase_lines_b WHERE tail <> ''
            )
            SELECT w.line, string_agg(CASE WHEN w.pos = 1 AND w.word = 'st' THEN 'saint'
                                           ELSE coalesce(x.full_word, w.word) END, ' ' ORDER BY w.pos) AS words
            FROM words w LEFT JOIN {STREET_WORDS_TABLE} x ON x.word = w.word
            GROUP BY w.line""",  # noqa: S608
        f"""CREATE OR REPLACE TABLE {LINES} AS
            SELECT b.line, b.flat, b.number,
                   left(nullif(coalesce(nullif(regexp_extract(w.words, '^(.*?\\b(?:{_TYPES}))\\b', 1), ''),
                                        array_to_string(list_slice(string_split(w.words, ' '), 1, 4), ' ')), ''),
                        200) AS street
            FROM onecase_lines_b b LEFT JOIN onecase_lines_w w ON w.line = b.line""",  # noqa: S608
    ]


def features_sql(raw: str) -> str:
    """SELECT turning raw agency-person rows in table ``raw`` into linkage features.

    ``raw`` has id, agency_id, given_name, family_name, date_of_birth, sex, address_line,
    postcode, uprn, nhs_number, identity_as_of; ``LINES`` must hold its parsed address
    lines. Names and postcodes are normalised once per distinct value.
    """
    return f"""
    WITH base AS (
        SELECT id, agency_id, coalesce(given_name, '') AS given_name, coalesce(family_name, '') AS family_name,
               oc_dob(date_of_birth) AS dob, oc_sex(sex) AS sex, coalesce(postcode, '') AS postcode,
               oc_digits(uprn, 1, 12) AS uprn, oc_digits(nhs_number, 6, 12) AS nhs, address_line, identity_as_of
        FROM {raw}
    ),
    gn AS (SELECT given_name, oc_given(given_name) AS given FROM (SELECT DISTINCT given_name FROM base)),
    fn AS (SELECT family_name, oc_family(family_name) AS family FROM (SELECT DISTINCT family_name FROM base)),
    pc AS (SELECT postcode, oc_postcode(postcode) AS canonical FROM (SELECT DISTINCT postcode FROM base)),
    names AS (SELECT DISTINCT given FROM gn WHERE given IS NOT NULL),
    -- A name not in the table takes the groups of a table name one typing error away.
    fuzzy AS (
        SELECT u.given AS name, n.grp
        FROM names u JOIN {NICKNAMES_TABLE} n
          ON substr(n.name, 1, 1) = substr(u.given, 1, 1) AND abs(length(n.name) - length(u.given)) <= 1
         AND levenshtein(n.name, u.given) <= 1
        WHERE length(u.given) >= 4 AND u.given NOT IN (SELECT name FROM {NICKNAMES_TABLE})
    ),
    name_groups AS (
        SELECT u.given, list_sort(list_distinct(list(coalesce(n.grp, f.grp, u.given)))) AS given_groups
        FROM names u
        LEFT JOIN {NICKNAMES_TABLE} n ON n.name = u.given
        LEFT JOIN fuzzy f ON f.name = u.given
        GROUP BY u.given
    ),
    -- Family names that are also given names (a record with the two swapped) get their groups too.
    family_groups AS (
        SELECT fn.family, list_sort(list_distinct(list(n.grp))) AS family_groups
        FROM (SELECT DISTINCT family FROM fn WHERE family IS NOT NULL) fn
        JOIN {NICKNAMES_TABLE} n ON n.name = fn.family
        GROUP BY fn.family
    )
    SELECT b.id AS unique_id, b.agency_id, gn.given, ng.given_groups, ng.given_groups[1] AS given_key, fn.family,
           coalesce(fg.family_groups, [fn.family]) AS family_groups,
           b.dob, strftime(b.dob, '%Y%m%d') AS dob_s, b.sex,
           CASE WHEN length(pc.canonical) <= 8 THEN pc.canonical END AS postcode,
           oc_district(pc.canonical) AS district, l.flat, l.number, l.street, b.uprn, b.nhs, b.identity_as_of
    FROM base b
    JOIN gn ON gn.given_name = b.given_name
    JOIN fn ON fn.family_name = b.family_name
    JOIN pc ON pc.postcode = b.postcode
    LEFT JOIN name_groups ng ON ng.given = gn.given
    LEFT JOIN family_groups fg ON fg.family = fn.family
    LEFT JOIN {LINES} l ON l.line = b.address_line
    """  # noqa: S608


@dataclass(frozen=True)
class NormalAddress:
    uprn: str | None
    postcode: str | None
    flat: str | None
    number: str | None
    street: str | None


_local = threading.local()


def _connection() -> duckdb.DuckDBPyConnection:
    con = getattr(_local, "con", None)
    if con is None:
        con = duckdb.connect(":memory:")
        install(con)
        _local.con = con
    return con


def canonical_postcode(value: str | None) -> str | None:
    """'st14hh' -> 'ST1 4HH'. Values that are not UK postcodes come back upper case without spaces."""
    return _connection().execute("SELECT oc_postcode(?)", [value]).fetchall()[0][0]


def normalise_address(line: str | None, postcode: str | None = None, uprn: str | None = None) -> NormalAddress:
    """Split an address line into flat, number and street (abbreviations expanded), as the linkage does."""
    con = _connection()
    con.execute("CREATE OR REPLACE TEMP TABLE onecase_one_line AS SELECT ?::VARCHAR AS line", [line])
    for statement in parse_lines_sql("SELECT line FROM onecase_one_line"):
        con.execute(statement)
    parsed = con.execute(f"SELECT flat, number, street FROM {LINES}").fetchall()  # noqa: S608
    flat, number, street = parsed[0] if parsed else (None, None, None)
    code, pc = con.execute("SELECT oc_digits(?, 1, 12), oc_postcode(?)", [uprn, postcode]).fetchall()[0]
    return NormalAddress(code, pc, flat, number, street)


def normalise_person(given: str | None, family: str | None, dob: date | None = None) -> tuple:
    """(given, family, dob, nickname groups) as the linkage compares them."""
    row = _connection().execute(
        f"""SELECT g, oc_family(?), oc_dob(?),
                   (SELECT list_sort(list_distinct(list(coalesce(n.grp, g))))
                    FROM (SELECT g) LEFT JOIN {NICKNAMES_TABLE} n ON n.name = g WHERE g IS NOT NULL)
            FROM (SELECT oc_given(?) AS g)""",  # noqa: S608
        [family, dob, given],
    ).fetchall()[0]
    return row
