"""The linkage engine: the part of a link run that Splink does, behind a small interface.

A link run prepares features, then asks an engine to train a model, score candidate
pairs and cluster them; everything else (normalising, reviewer decisions, households,
writing results) is the run's own. ``DuckDBEngine`` runs Splink on DuckDB in this
process; ``SparkEngine`` runs the same model on Splink's Spark backend for partnerships
beyond one machine (ADR 0004). Tables go in and come out as pyarrow tables; records may
also go in as DuckDB relations on the engine's connection, which DuckDBEngine reads in place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import duckdb
import pyarrow as pa
from splink import DuckDBAPI, Linker, block_on
from splink.clustering import cluster_pairwise_predictions_at_threshold

from onecase.linkage import model

EDGE_COLUMNS = ("unique_id_l", "unique_id_r", "match_probability", "match_weight")
Features = pa.Table | duckdb.DuckDBPyRelation
Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainingOptions:
    seed: int = 20240601
    recall: float = 0.7
    min_records: int = 1000
    u_max_pairs: float = 2e6
    em_max_pairs: float = 2e6


class LinkageEngine(Protocol):
    """What a link run needs from a record-linkage backend."""

    name: str

    def train(self, features: Features, options: TrainingOptions, progress: Progress | None = None) -> dict:
        """Estimate the model on ``features``; returns stored parameters (see ``model.parameters_from_splink``)."""

    def predict(self, features: Features, parameters: dict, threshold: float) -> pa.Table:
        """Score every candidate pair within ``features``; pairs at or above ``threshold``."""

    def predict_new(self, existing: Features, new: Features, parameters: dict, threshold: float) -> pa.Table:
        """Score new records against existing ones and among themselves, never existing against existing."""

    def cluster(self, node_ids: pa.Table, edges: pa.Table, threshold: float) -> pa.Table:
        """Connected components of edges at or above ``threshold``: (unique_id, cluster_id)."""


def _splink_input(features: Features) -> Features:
    if isinstance(features, duckdb.DuckDBPyRelation):
        if features.type == "TABLE_RELATION" and tuple(features.columns) == model.SPLINK_COLUMNS:
            return features  # already Splink's input, in id order (see ``splink_input_sql``)
        return features.select(*model.SPLINK_COLUMNS)
    return features.select(list(model.SPLINK_COLUMNS))


def splink_input_sql(source: str) -> str:
    """A SELECT of Splink's input columns from ``source``, in id order: a table of it is read in place."""
    return f"SELECT {', '.join(model.SPLINK_COLUMNS)} FROM {source} ORDER BY unique_id"  # noqa: S608


def row_count(features: Features) -> int:
    return len(features) if isinstance(features, duckdb.DuckDBPyRelation) else features.num_rows


def untrained_parameters(record_count: int) -> dict:
    """The expert priors, with a prior match probability of one record in ``record_count``."""
    linker_model = model.settings(max(1.0 / max(record_count, 2), 1e-9)).get_settings("duckdb").as_dict()
    return model.parameters_from_splink(linker_model)


class DuckDBEngine:
    """Splink on DuckDB, in this process."""

    name = "duckdb"

    def __init__(self, connection: duckdb.DuckDBPyConnection | None = None):
        self.con = connection or duckdb.connect(":memory:")
        self._tables = 0
        self._owned: set[str] = set()

    def _api(self) -> DuckDBAPI:
        return DuckDBAPI(connection=self.con)

    def _register(self, db_api, table: pa.Table, stem: str):
        # Splink uses the name as raw SQL: keep it a plain identifier, never 'left' or 'right'.
        self._tables += 1
        name = f"onecase_{stem}_{self._tables}"
        if isinstance(table, duckdb.DuckDBPyRelation) and table.type == "TABLE_RELATION":
            # The caller's table, already in Splink's columns and id order: read in place, never dropped.
            return db_api.register(table.alias, table_name=f"{name}_in")
        self._owned.add(name)
        if isinstance(table, duckdb.DuckDBPyRelation):
            # A relation on this connection (the run's features): copied within DuckDB, in id order.
            self.con.execute(f"DROP TABLE IF EXISTS {name}")
            table.order("unique_id").to_table(name)
        else:
            self.con.register(f"{name}_arrow", table)
            self.con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {name}_arrow")  # noqa: S608
            self.con.unregister(f"{name}_arrow")
        return db_api.register(name, table_name=f"{name}_in")

    def train(self, features: Features, options: TrainingOptions, progress: Progress | None = None) -> dict:
        n = row_count(features)
        if n < options.min_records:
            return untrained_parameters(n)
        db_api = self._api()
        records = self._register(db_api, _splink_input(features), "records")
        linker = Linker(records, model.settings(1.0 / n), log_level=logging.WARNING)
        _say(progress, "estimating how many pairs match")
        linker.training.estimate_probability_two_random_records_match(
            list(model.DETERMINISTIC_RULES), recall=options.recall
        )
        _say(progress, "estimating u by random sampling")
        pairs = n * (n - 1) / 2
        linker.training.estimate_u_using_random_sampling(
            max_pairs=min(options.u_max_pairs, pairs), seed=options.seed, min_count_per_level=None, num_chunks=1
        )
        for columns in model.EM_BLOCKS:
            _say(progress, f"estimating m by EM blocked on {', '.join(columns)}")
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on(*columns), estimate_without_term_frequencies=True, max_pairs=options.em_max_pairs
            )
        stored = model.parameters_from_splink(linker.misc.save_model_to_json())
        self._drop(records)
        return stored

    def predict(self, features: Features, parameters: dict, threshold: float) -> pa.Table:
        db_api = self._api()
        records = self._register(db_api, _splink_input(features), "records")
        linker = Linker(records, model.settings_from_parameters(parameters), log_level=logging.WARNING)
        predictions = linker.inference.predict(threshold_match_probability=threshold, warning_mode="never")
        edges = self._edges(predictions.physical_name)
        predictions.drop_table_from_database_and_remove_from_cache()
        self._drop(records)
        return edges

    def predict_new(self, existing: Features, new: Features, parameters: dict, threshold: float) -> pa.Table:
        db_api = self._api()
        old = self._register(db_api, _splink_input(existing), "linked")
        fresh = self._register(db_api, _splink_input(new), "incoming")
        linker = Linker(fresh, model.settings_from_parameters(parameters), log_level=logging.WARNING)
        parts = []
        if row_count(existing):
            between = linker.inference.predict_between(
                fresh, old, threshold_match_probability=threshold, warning_mode="never"
            )
            parts.append(self._edges(between.physical_name))
            between.drop_table_from_database_and_remove_from_cache()
        within = linker.inference.predict_within(fresh, threshold_match_probability=threshold, warning_mode="never")
        parts.append(self._edges(within.physical_name))
        within.drop_table_from_database_and_remove_from_cache()
        self._drop(old)
        self._drop(fresh)
        return pa.concat_tables(parts)

    def cluster(self, node_ids: pa.Table, edges: pa.Table, threshold: float) -> pa.Table:
        db_api = self._api()
        clusters = cluster_pairwise_predictions_at_threshold(
            node_ids.select(["unique_id"]),
            edges.select(["unique_id_l", "unique_id_r", "match_probability"]),
            db_api=db_api,
            node_id_column_name="unique_id",
            threshold_match_probability=threshold,
        )
        out = self.con.sql(
            f"SELECT unique_id::BIGINT AS unique_id, cluster_id::BIGINT AS cluster_id FROM {clusters.physical_name}"  # noqa: S608
        ).to_arrow_table()
        clusters.drop_table_from_database_and_remove_from_cache()
        return out

    def _edges(self, table: str) -> pa.Table:
        # The smaller id on the left; ties in probability are broken by ids downstream.
        return self.con.sql(
            f"""SELECT least(unique_id_l, unique_id_r)::BIGINT AS unique_id_l,
                       greatest(unique_id_l, unique_id_r)::BIGINT AS unique_id_r,
                       match_probability::DOUBLE AS match_probability, match_weight::DOUBLE AS match_weight
                FROM {table}"""  # noqa: S608
        ).to_arrow_table()

    def _drop(self, sdf) -> None:
        if sdf.physical_name in self._owned:
            self._owned.discard(sdf.physical_name)
            self.con.execute(f"DROP TABLE IF EXISTS {sdf.physical_name}")


class SparkEngine(DuckDBEngine):
    """The same model on Splink's Spark backend (``SparkAPI``); clustering results come back as arrow."""

    name = "spark"

    def __init__(self, spark_session, connection: duckdb.DuckDBPyConnection | None = None):
        super().__init__(connection)
        self.spark = spark_session

    def _api(self):
        from splink import SparkAPI

        return SparkAPI(spark_session=self.spark, register_udfs_automatically=True)

    def _register(self, db_api, table: Features, stem: str):
        self._tables += 1
        if isinstance(table, duckdb.DuckDBPyRelation):
            table = table.order("unique_id").to_arrow_table()
        return db_api.register(table, table_name=f"onecase_{stem}_{self._tables}")

    def _edges(self, table: str) -> pa.Table:
        rows = self.spark.sql(
            f"""SELECT least(unique_id_l, unique_id_r) AS unique_id_l,
                       greatest(unique_id_l, unique_id_r) AS unique_id_r,
                       CAST(match_probability AS DOUBLE) AS match_probability,
                       CAST(match_weight AS DOUBLE) AS match_weight
                FROM {table}"""  # noqa: S608
        ).collect()
        return pa.table(
            {
                "unique_id_l": pa.array([r[0] for r in rows], pa.int64()),
                "unique_id_r": pa.array([r[1] for r in rows], pa.int64()),
                "match_probability": pa.array([r[2] for r in rows], pa.float64()),
                "match_weight": pa.array([r[3] for r in rows], pa.float64()),
            }
        )

    def cluster(self, node_ids: pa.Table, edges: pa.Table, threshold: float) -> pa.Table:
        # Clustering the scored edges is small work; DuckDB does it in process.
        return DuckDBEngine(self.con).cluster(node_ids, edges, threshold)

    def _drop(self, sdf) -> None:
        sdf.drop_table_from_database_and_remove_from_cache(force_non_splink_table=True)
        # Splink leaves Spark's temporary views in place; they live as long as the session, and the
        # next run in it (a long-lived driver, the next link command in a worker) reuses their names.
        self.spark.catalog.dropTempView(sdf.physical_name)


def spark_session(master: str, *, checkpoint_dir: str, conf: dict[str, str] | None = None):
    """A Spark session at ``master`` ready for ``SparkEngine``: Splink's similarity functions on the classpath.

    An active session in this process is reused (Spark keeps one per process).
    """
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    builder = (
        SparkSession.builder.master(master).appName("onecase-link").config("spark.jars", similarity_jar_location())
    )
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setCheckpointDir(checkpoint_dir)
    return session


def _say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)
