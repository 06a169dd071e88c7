"""The evidence behind a pair: for each comparison, the level two records fall in and its weight.

Levels are computed with the model's own CASE statements, so the evidence a reviewer sees
is exactly what the model scored. Evidence holds labels and numbers, never the values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import duckdb

from onecase.linkage import model

FEATURES = "onecase_features"
DESCRIPTIONS = {
    "given_name": "Given name",
    "family_name": "Family name",
    "date_of_birth": "Date of birth",
    "address": "Address",
    "sex": "Sex",
    "nhs_number": "NHS number",
}


def _compiled(parameters: dict):
    return model.settings_from_parameters(parameters).get_settings("duckdb")


def pairs_sql(pairs_table: str, features: str, parameters: dict) -> str:
    """SELECT unique_id_l, unique_id_r and one gamma_<comparison> column per comparison for each pair."""
    settings = _compiled(parameters)
    sides = ", ".join(f"l.{c} AS {c}_l, r.{c} AS {c}_r" for c in model.SPLINK_COLUMNS if c != "unique_id")
    cases = ", ".join(cc._case_statement for cc in settings.comparisons)
    return f"""
    SELECT unique_id_l, unique_id_r, {cases}
    FROM (SELECT p.unique_id_l, p.unique_id_r, {sides}
          FROM {pairs_table} p
          JOIN {features} l ON l.unique_id = p.unique_id_l
          JOIN {features} r ON r.unique_id = p.unique_id_r)
    """  # noqa: S608


def describe(parameters: dict) -> list[tuple[str, str, dict[int, tuple[str, float]]]]:
    """Per comparison: (name, description, {gamma: (label, weight)})."""
    settings = _compiled(parameters)
    out = []
    for cc in settings.comparisons:
        levels = {}
        for level in cc.comparison_levels:
            if level.is_null_level:
                weight = 0.0
            else:
                m, u = level.m_probability, level.u_probability
                weight = math.log2(m / u) if m and u else 0.0
            levels[level.comparison_vector_value] = (level.label_for_charts, round(weight, 3))
        out.append((cc.output_column_name, DESCRIPTIONS.get(cc.output_column_name, cc.output_column_name), levels))
    return out


def evidence_rows(con: duckdb.DuckDBPyConnection, pairs_table: str, parameters: dict,
                  features: str = FEATURES) -> dict[tuple[int, int], list[dict]]:
    """Evidence for every pair in ``pairs_table`` (unique_id_l, unique_id_r)."""
    described = describe(parameters)
    rows = con.sql(pairs_sql(pairs_table, features, parameters)).fetchall()
    out = {}
    for row in rows:
        items = []
        for (name, description, levels), gamma in zip(described, row[2:], strict=True):
            label, weight = levels.get(gamma, ("", 0.0))
            items.append({"comparison": name, "description": description, "level": int(gamma), "label": label,
                          "weight": weight})
        out[(row[0], row[1])] = items
    return out


def prior_weight(parameters: dict) -> float:
    p = parameters["probability_two_random_records_match"]
    return math.log2(p / (1 - p))


def score(evidence: Sequence[dict], parameters: dict) -> tuple[float, float]:
    """(match weight, match probability) of a pair from its evidence and the prior."""
    weight = prior_weight(parameters) + sum(item["weight"] for item in evidence)
    return weight, 1.0 / (1.0 + 2.0 ** (-weight))


def records_evidence(records: Sequence, parameters: dict) -> dict[tuple[int, int], dict]:
    """Evidence for every pair among a few agency people (objects with the identity fields).

    Runs the link run's own normalising and comparison SQL on an in-process DuckDB, so a
    page shows exactly what the model sees. Returns {(id_a, id_b): {"evidence", "match_weight",
    "match_probability"}} with id_a < id_b.
    """
    import pyarrow as pa

    from onecase.linkage import normalise

    records = sorted(records, key=lambda r: r.pk)
    if len(records) < 2:
        return {}
    con = normalise._connection()
    raw = pa.table({
        "id": pa.array([r.pk for r in records], pa.int64()),
        "agency_id": pa.array([r.agency_id for r in records], pa.int64()),
        "given_name": [r.given_name for r in records],
        "family_name": [r.family_name for r in records],
        "date_of_birth": pa.array([r.date_of_birth for r in records], pa.date32()),
        "sex": [r.sex for r in records],
        "address_line": [r.address_line for r in records],
        "postcode": [r.postcode for r in records],
        "uprn": [r.uprn for r in records],
        "nhs_number": [r.nhs_number for r in records],
        "identity_as_of": pa.array([None] * len(records), pa.string()),
    })
    con.register("onecase_detail_raw_arrow", raw)
    con.execute("CREATE OR REPLACE TEMP TABLE onecase_detail_raw AS SELECT * FROM onecase_detail_raw_arrow")
    con.unregister("onecase_detail_raw_arrow")
    for statement in normalise.parse_lines_sql("SELECT address_line AS line FROM onecase_detail_raw"):
        con.execute(statement)
    features = normalise.features_sql("onecase_detail_raw")
    con.execute(f"CREATE OR REPLACE TEMP TABLE onecase_detail_features AS {features}")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE onecase_detail_pairs AS SELECT a.id AS unique_id_l, b.id AS unique_id_r "
        "FROM onecase_detail_raw a JOIN onecase_detail_raw b ON a.id < b.id"
    )
    rows = evidence_rows(con, "onecase_detail_pairs", parameters, "onecase_detail_features")
    out = {}
    for pair, items in rows.items():
        weight, probability = score(items, parameters)
        out[pair] = {"evidence": items, "match_weight": round(weight, 3), "match_probability": probability}
    return out
