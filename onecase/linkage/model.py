"""The person-linkage model: comparisons, blocking rules and the training recipe, for Splink 5.

Comparisons are chosen so that what tells family members apart (given name and date of
birth) carries the weight, while what they share (family name, address) is each counted
once: the address is one comparison, not postcode, number and street separately. Each
level starts from an expert prior (m and u probabilities), so a model exists before any
training; training then re-estimates u by random sampling and m by expectation
maximisation on blocks that do not group households together (see ADR 0003).
"""

from __future__ import annotations

from functools import cache

from splink import SettingsCreator, block_on
from splink import comparison_level_library as cll
from splink import comparison_library as cl
from splink.internals.comparison_level_creator import ComparisonLevelCreator
from splink.internals.dialects import SplinkDialect

# Columns the engine gives Splink; everything else stays out of its tables.
SPLINK_COLUMNS = (
    "unique_id", "given", "given_groups", "given_key", "family", "family_groups", "dob", "dob_s", "sex",
    "postcode", "district", "flat", "number", "street", "uprn", "nhs",
)


Parameters = dict[str, dict[str, tuple[float, float]]]


class SharedGroupLevel(ComparisonLevelCreator):
    """The two records' nickname groups overlap (arrays of group names)."""

    def __init__(self, col_name: str):
        self.col_name = col_name

    def create_sql(self, sql_dialect: SplinkDialect) -> str:
        left, right = f"{self.col_name}_l", f"{self.col_name}_r"
        if sql_dialect.sql_dialect_str == "duckdb":
            return f"list_has_any({left}, {right})"
        return f"arrays_overlap({left}, {right})"

    def create_label_for_charts(self) -> str:
        return f"{self.col_name} share a group"


class SwappedNamesLevel(ComparisonLevelCreator):
    """Given and family names swapped between the records, allowing a nickname or a typing error."""

    def create_sql(self, sql_dialect: SplinkDialect) -> str:
        duck = sql_dialect.sql_dialect_str == "duckdb"
        overlap = "list_has_any" if duck else "arrays_overlap"
        similar = "jaro_winkler_similarity" if duck else "jaro_winkler"

        def related(a: str, b: str, ga: str, gb: str) -> str:
            return (
                f"({a} = {b} OR levenshtein({a}, {b}) <= 1 OR {similar}({a}, {b}) >= 0.92"
                f" OR coalesce({overlap}({ga}, {gb}), false))"
            )

        return (
            f"{related('given_l', 'family_r', 'given_groups_l', 'family_groups_r')} AND "
            f"{related('family_l', 'given_r', 'family_groups_l', 'given_groups_r')}"
        )

    def create_label_for_charts(self) -> str:
        return "names swapped"


class _Levels:
    """Builds levels for one comparison, taking trained (m, u) over the priors where given."""

    def __init__(self, trained: dict[str, tuple[float, float]] | None):
        self.trained = trained or {}

    def level(self, level, label: str, m: float, u: float):
        m, u = self.trained.get(label, (m, u))
        return level.configure(label_for_charts=label, m_probability=m, u_probability=u)

    def custom(self, sql: str, label: str, m: float, u: float):
        return self.level(cll.CustomLevel(sql, base_dialect_str="duckdb"), label, m, u)


def comparisons(parameters: Parameters | None = None) -> list:
    """The comparisons, with priors or with trained ``parameters`` ({comparison: {level label: (m, u)}})."""
    parameters = parameters or {}
    g = _Levels(parameters.get("given_name"))
    f = _Levels(parameters.get("family_name"))
    d = _Levels(parameters.get("date_of_birth"))
    a = _Levels(parameters.get("address"))
    s = _Levels(parameters.get("sex"))
    n = _Levels(parameters.get("nhs_number"))
    given = cl.CustomComparison(
        output_column_name="given_name",
        comparison_description="Given name",
        comparison_levels=[
            cll.NullLevel("given").configure(label_for_charts="missing"),
            g.level(cll.ExactMatchLevel("given"), "same", 0.78, 0.01),
            g.level(SwappedNamesLevel(), "swapped with family name", 0.015, 0.00002),
            g.level(SharedGroupLevel("given_groups"), "nickname or short form", 0.12, 0.002),
            g.level(
                cll.Or(cll.LevenshteinLevel("given", 1), cll.JaroWinklerLevel("given", 0.92)),
                "one typing error", 0.05, 0.002,
            ),
            g.custom(
                "(length(given_l) = 1 OR length(given_r) = 1) AND substr(given_l, 1, 1) = substr(given_r, 1, 1)",
                "initial only", 0.015, 0.005,
            ),
            g.level(cll.JaroWinklerLevel("given", 0.8), "similar", 0.01, 0.02),
            g.level(cll.ElseLevel(), "different", 0.005, 0.96),
        ],
    )
    family = cl.CustomComparison(
        output_column_name="family_name",
        comparison_description="Family name",
        comparison_levels=[
            cll.NullLevel("family").configure(label_for_charts="missing"),
            f.level(cll.ExactMatchLevel("family"), "same", 0.85, 0.004),
            f.level(SwappedNamesLevel(), "swapped with given name", 0.015, 0.00002),
            f.level(
                cll.Or(cll.LevenshteinLevel("family", 1), cll.JaroWinklerLevel("family", 0.92)),
                "one typing error or spelling", 0.08, 0.002,
            ),
            f.level(cll.JaroWinklerLevel("family", 0.8), "similar", 0.02, 0.02),
            f.level(cll.ElseLevel(), "different", 0.035, 0.97),
        ],
    )
    dob = cl.CustomComparison(
        output_column_name="date_of_birth",
        comparison_description="Date of birth",
        comparison_levels=[
            cll.NullLevel("dob").configure(label_for_charts="missing"),
            d.level(cll.ExactMatchLevel("dob"), "same", 0.88, 0.00005),
            d.custom(
                "day(dob_l) = month(dob_r) AND month(dob_l) = day(dob_r) AND year(dob_l) = year(dob_r)",
                "day and month swapped", 0.03, 0.00002,
            ),
            d.level(cll.LevenshteinLevel("dob_s", 1), "one digit different", 0.05, 0.002),
            d.custom(
                "month(dob_l) = month(dob_r) AND day(dob_l) = day(dob_r) AND abs(year(dob_l) - year(dob_r)) = 1",
                "a year out", 0.03, 0.00005,
            ),
            d.level(cll.ElseLevel(), "different", 0.01, 0.998),
        ],
    )
    address = cl.CustomComparison(
        output_column_name="address",
        comparison_description="Address",
        comparison_levels=[
            cll.CustomLevel(
                "(postcode_l IS NULL AND uprn_l IS NULL AND street_l IS NULL)"
                " OR (postcode_r IS NULL AND uprn_r IS NULL AND street_r IS NULL)",
                base_dialect_str="duckdb",
            ).configure(is_null_level=True, label_for_charts="missing"),
            a.custom("uprn_l = uprn_r", "same UPRN", 0.3, 0.00001),
            a.custom(
                "postcode_l = postcode_r AND number_l = number_r AND coalesce(flat_l, '') = coalesce(flat_r, '')",
                "same postcode and number", 0.45, 0.00003,
            ),
            a.custom(
                "number_l = number_r AND street_l = street_r AND coalesce(flat_l, '') = coalesce(flat_r, '')",
                "same number and street, postcode differs", 0.06, 0.00003,
            ),
            a.custom("postcode_l = postcode_r", "same postcode", 0.05, 0.001),
            a.custom("district_l = district_r", "same postcode district", 0.04, 0.1),
            a.level(cll.ElseLevel(), "different", 0.1, 0.9),
        ],
    )
    sex = cl.CustomComparison(
        output_column_name="sex",
        comparison_description="Sex",
        comparison_levels=[
            cll.NullLevel("sex").configure(label_for_charts="missing"),
            s.level(cll.ExactMatchLevel("sex"), "same", 0.98, 0.5),
            s.level(cll.ElseLevel(), "different", 0.02, 0.5),
        ],
    )
    nhs = cl.CustomComparison(
        output_column_name="nhs_number",
        comparison_description="NHS number",
        comparison_levels=[
            cll.NullLevel("nhs").configure(label_for_charts="missing"),
            n.level(cll.ExactMatchLevel("nhs"), "same", 0.96, 0.0000001),
            n.level(cll.LevenshteinLevel("nhs", 2), "one or two digits different", 0.02, 0.00001),
            n.level(cll.ElseLevel(), "different", 0.02, 0.99999),
        ],
    )
    return [given, family, dob, address, sex, nhs]


def blocking_rules() -> list:
    """Candidate pairs: each rule tolerates a different field being wrong or missing.

    Rules on names alone would compare every John Smith with every other, so names are
    always paired with part of the date of birth or of the address.
    """
    return [
        block_on("given_key", "family", "year(dob)"),
        block_on("given_key", "family", "month(dob)", "day(dob)"),
        block_on("dob", "family"),
        block_on("dob", "given_key"),
        block_on("dob", "postcode"),  # both names wrong: swapped and mistyped
        block_on("postcode", "given_key"),
        block_on("postcode", "family", "substr(given, 1, 1)"),
        block_on("postcode", "number", "substr(given, 1, 1)"),
        block_on("number", "street", "substr(given, 1, 1)"),
        block_on("uprn", "given_key"),
        block_on("nhs"),
        "l.given = r.family AND l.family = r.given AND l.dob = r.dob",
        "l.given = r.family AND l.family = r.given AND l.postcode = r.postcode",
    ]


@cache
def blocking_sql() -> tuple[str, ...]:
    """The blocking rules as DuckDB conditions on ``l`` and ``r``, as Splink writes them."""
    from splink.internals.blocking_rule_creator_utils import to_blocking_rule_creator

    return tuple(
        to_blocking_rule_creator(rule).get_blocking_rule("duckdb").blocking_rule_sql for rule in blocking_rules()
    )


# Exact agreement on these is treated as certain when estimating how many pairs match.
DETERMINISTIC_RULES = (
    "l.given = r.given AND l.family = r.family AND l.dob = r.dob",
    "l.nhs = r.nhs",
)

# EM blocks: neither groups a household together, so the latent class EM finds is "same
# person", not "same family". Blocking on date of birth estimates the name and address
# parameters; blocking on full name estimates the date of birth.
EM_BLOCKS = (
    ("dob",),
    ("given_key", "family"),
)


def settings(probability_two_random_records_match: float = 0.0001, parameters: Parameters | None = None
             ) -> SettingsCreator:
    """Splink settings for the person model, from priors or trained ``parameters``."""
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons(parameters),
        blocking_rules_to_generate_predictions=blocking_rules(),
        probability_two_random_records_match=probability_two_random_records_match,
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
        em_convergence=0.0001,
        max_iterations=25,
    )


def parameters_from_splink(model: dict) -> dict:
    """The trained parameters of a Splink model dictionary, in the form ``settings`` takes.

    The result is what a link run stores: backend-neutral (levels by label, not by SQL),
    so a model trained on DuckDB can score on Spark and the other way round.
    """
    comparisons_out: dict[str, dict[str, list[float]]] = {}
    for comparison in model["comparisons"]:
        levels = {}
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            levels[level["label_for_charts"]] = [float(level["m_probability"]), float(level["u_probability"])]
        comparisons_out[comparison["output_column_name"]] = levels
    return {
        "probability_two_random_records_match": float(model["probability_two_random_records_match"]),
        "comparisons": comparisons_out,
    }


def settings_from_parameters(stored: dict) -> SettingsCreator:
    parameters = {
        name: {label: (m, u) for label, (m, u) in levels.items()} for name, levels in stored["comparisons"].items()
    }
    return settings(stored["probability_two_random_records_match"], parameters)


def level_weights(stored: dict) -> dict[str, dict[str, float]]:
    """Match weight (log2 m/u) of every level, by comparison and label; missing values weigh 0."""
    import math

    return {
        name: {label: math.log2(m / u) if m > 0 and u > 0 else 0.0 for label, (m, u) in levels.items()}
        for name, levels in stored["comparisons"].items()
    }
