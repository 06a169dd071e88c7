"""Linkage building blocks: normalising, conflicts, clustering, metrics (no database)."""

from datetime import date

import duckdb
import pytest

from onecase.linkage import clustering, metrics, normalise
from onecase.linkage.addresses import AddressStats, create_inputs, resolve
from onecase.linkage.engine import untrained_parameters
from onecase.linkage.evidence import describe


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("st14hh", "ST1 4HH"),
        (" ST1  4HH ", "ST1 4HH"),
        ("sw1a1aa", "SW1A 1AA"),
        ("ec1a 1bb", "EC1A 1BB"),
        ("st1 ohh", "ST1 0HH"),  # letter O keyed for zero in the inward code
        ("2119", "2119"),  # not a UK postcode: kept, tidied
        ("", None),
        (None, None),
    ],
)
def test_postcodes_are_canonical(raw, canonical):
    assert normalise.canonical_postcode(raw) == canonical


@pytest.mark.parametrize(
    ("line", "flat", "number", "street"),
    [
        ("10 High St", None, "10", "high street"),
        ("10, HIGH STREET, Hanley", None, "10", "high street"),
        ("Flat 2, 10 High Street", "2", "10", "high street"),
        ("2/10 High St.", "2", "10", "high street"),
        ("Apartment 3b 44 Church Ave Longton", "3b", "44", "church avenue"),
        ("10a, Station Rd, Hanley, Stoke-on-Trent ST1 4HH", None, "10a", "station road"),
        ("5 St John's Rd", None, "5", "saint johns road"),
        ("7 Meadow Gdns", None, "7", "meadow gardens"),
        ("12 Oak Cres", None, "12", "oak crescent"),
        ("Rose Cottage, Mill Ln", None, None, "rose cottage mill lane"),
    ],
)
def test_address_lines_split_and_abbreviations_expand(line, flat, number, street):
    address = normalise.normalise_address(line, "st14hh", "0100031234567")
    assert (address.flat, address.number, address.street) == (flat, number, street)
    assert address.postcode == "ST1 4HH"
    assert address.uprn == "100031234567"


def test_names_normalise_and_nicknames_share_a_group():
    given, family, _, groups = normalise.normalise_person("Mr Jon", "O'Brien")
    assert (given, family) == ("jon", "obrien")
    assert "john" in groups
    assert "john" in normalise.normalise_person("Jonathan", "Smyth")[3]
    assert set(normalise.normalise_person("Alex", "X")[3]) == {"alexander", "alexandra"}
    assert normalise.normalise_person("Bill", "X")[3] == ["william"]
    assert "elizabeth" in normalise.normalise_person("Liz", "X")[3]
    assert "elizabeth" in normalise.normalise_person("Beth", "X")[3]


def _conflict(a: dict, b: dict) -> bool:
    con = duckdb.connect()
    normalise.install(con)
    clustering.install(con)
    rows = []
    for i, r in enumerate((a, b), start=1):
        given, family, dob, groups = normalise.normalise_person(r.get("given"), r.get("family"), r.get("dob"))
        family_groups = normalise.normalise_person(r.get("family"), None)[3] or [family]
        rows.append((i, given, groups, family, family_groups, dob, dob.strftime("%Y%m%d") if dob else None,
                     r.get("nhs"), r.get("sex")))
    con.execute("CREATE TABLE f (unique_id INT, given VARCHAR, given_groups VARCHAR[], family VARCHAR, "
                "family_groups VARCHAR[], dob DATE, dob_s VARCHAR, nhs VARCHAR, sex VARCHAR)")
    con.executemany("INSERT INTO f VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return con.sql(f"SELECT {clustering.conflict_condition()} FROM f a, f b WHERE a.unique_id = 1 AND b.unique_id = 2"  # noqa: S608
                   ).fetchall()[0][0]


def test_family_members_conflict_and_spelling_variants_do_not():
    dad = {"given": "John", "family": "Smith", "dob": date(1980, 3, 7)}
    # A son with his father's name but another date of birth; a twin with another given name.
    assert _conflict(dad, {"given": "John", "family": "Smith", "dob": date(2008, 5, 2)})
    assert _conflict({"given": "Jack", "family": "Smith", "dob": date(2008, 5, 2)},
                     {"given": "Chloe", "family": "Smith"})
    twins = {"family": "Smith", "dob": date(2015, 8, 8)}
    assert _conflict({"given": "Mia", "sex": "f", **twins}, {"given": "Leo", "sex": "m", **twins})
    assert _conflict({"given": "Mia", **twins}, {"given": "Ava", **twins})
    # With the same date of birth, a name the nickname table does not know is not a conflict.
    assert not _conflict({"given": "Darrell", **twins}, {"given": "Daz", **twins})
    # The same man: nickname, typo, day and month swapped, a year out, names swapped, no date of birth.
    assert not _conflict(dad, {"given": "Jon", "family": "Smyth", "dob": date(1980, 7, 3)})
    assert not _conflict(dad, {"given": "Jonathan", "family": "Smith", "dob": date(1981, 3, 7)})
    assert not _conflict(dad, {"given": "Smith", "family": "John"})
    assert not _conflict({"given": "Jon", "family": "Smithe"}, {"given": "SMITH", "family": "JONATHAN"})
    assert not _conflict(dad, {"given": "J", "family": "Smith"})
    # The same NHS number outweighs a wrong date of birth.
    assert not _conflict({**dad, "nhs": "9434765919"}, {"given": "John", "dob": date(1950, 1, 1), "nhs": "9434765919"})


def test_greedy_joins_most_probable_first_and_refuses_conflicts():
    # 1 (no date of birth) links to both 2 and 3, who conflict: 1 joins the more probable.
    roots = clustering.greedy([1, 2, 3], [(0.95, 1, 2), (0.99, 1, 3)], soft=[(2, 3)])
    assert roots[1] == roots[3] != roots[2]
    # A reviewer's "same person" overrides a soft conflict but never a "keep apart".
    roots = clustering.greedy([1, 2], [(clustering.MUST, 1, 2)], soft=[(1, 2)])
    assert roots[1] == roots[2]
    roots = clustering.greedy([1, 2], [(clustering.MUST, 1, 2)], hard=[(1, 2)])
    assert roots[1] != roots[2]
    # Locked nodes (existing people) never merge.
    roots = clustering.greedy([-1, -2, 5], [(0.99, 5, -1), (0.98, 5, -2)], locks={-1: 1, -2: 2})
    assert roots[5] == roots[-1] != roots[-2]


def test_addresses_survive_a_postcode_typo_and_the_uprn_wins():
    con = duckdb.connect()
    normalise.install(con)
    create_inputs(con)
    observations = [
        ("Flat 2, 10 High Street", "ST1 4HH", "", 3),
        ("2/10 High St", "st14hh", "", 2),
        ("10 High St", "ST1 4HH", "", 5),
        ("10 High St", "ST1 4HJ", "", 1),  # one character wrong
        ("10 High Street", "ST1 4HH", "100012345678", 2),
        ("12 High Street", "ST1 4HH", "100012345679", 1),
        ("12 High St.", "ST1 4HH", "", 1),
        ("10 High Street", "", "", 1),  # no postcode: the only 10 High Street
    ]
    con.executemany("INSERT INTO onecase_addr_obs VALUES (?, ?, ?, ?)", observations)
    for statement in normalise.parse_lines_sql("SELECT line FROM onecase_addr_obs"):
        con.execute(statement)
    assert resolve(con) == AddressStats(observations=8, resolved=8, new=3)
    ref = dict(((line, pc), a) for line, pc, _, a in con.sql("SELECT * FROM onecase_addr_resolved").fetchall())
    assert ref[("10 High St", "ST1 4HH")] == ref[("10 High St", "ST1 4HJ")] == ref[("10 High Street", "ST1 4HH")]
    assert ref[("10 High Street", "")] == ref[("10 High St", "ST1 4HH")]
    assert ref[("Flat 2, 10 High Street", "ST1 4HH")] == ref[("2/10 High St", "st14hh")] != ref[("10 High St", "ST1 4HH")]
    assert ref[("12 High St.", "ST1 4HH")] == ref[("12 High Street", "ST1 4HH")]
    keys = {k for (k,) in con.sql("SELECT key FROM onecase_addr_new").fetchall()}
    assert keys == {"u:100012345678", "u:100012345679", "p:ST1 4HH|2|10|high street"}


def test_metrics():
    truth = {1: "a", 2: "a", 3: "b", 4: "b"}
    assert metrics.bcubed(truth, truth).f1 == 1.0
    merged = metrics.bcubed({1: 0, 2: 0, 3: 0, 4: 0}, truth)
    assert (merged.precision, merged.recall) == (0.5, 1.0)
    split = metrics.pairwise({1: 1, 2: 2, 3: 3, 4: 3}, truth)
    assert (split.precision, split.recall) == (1.0, 0.5)


def test_evidence_describes_every_level_with_a_weight():
    described = {name: levels for name, _, levels in describe(untrained_parameters(1000))}
    assert set(described) == {"given_name", "family_name", "date_of_birth", "address", "sex", "nhs_number"}
    dob = {label: weight for label, weight in described["date_of_birth"].values()}
    assert dob["missing"] == 0.0
    assert dob["same"] > dob["day and month swapped"] > 0 > dob["different"]
