"""One link run: agency people -> people -> households, written back set-based.

Stages: read the agency people, links, addresses and reviewers' decisions; normalise
them into features (DuckDB); train (full runs) or reuse the last model (incremental
runs); score candidate pairs with the engine; cluster them into people without merging
families (``clustering``); resolve addresses (``addresses``) and households; raise review
items for pairs in the review band; then write everything in one transaction.

Agency people are only read. A full run relinks every agency person but keeps the
people it can: each new cluster takes over the existing person most of its records were
linked to, so running twice on the same records changes nothing. An incremental run
links only agency people without a link (or changed since they were linked) against
the people already there, and never moves an existing link.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import pyarrow as pa
from django.db import transaction
from django.utils import timezone

from onecase.linkage import addresses, clustering, dbio, evidence, model, normalise
from onecase.linkage.conf import LinkageSettings, linkage_settings
from onecase.linkage.engine import (
    DuckDBEngine,
    LinkageEngine,
    TrainingOptions,
    row_count,
    splink_input_sql,
    untrained_parameters,
)
from onecase.linkage.models import DecisionPair, LinkDecision, LinkRun
from onecase.sharing.models import AuditEvent
from onecase.sharing.services import audit_record

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]
STAGES = ("read", "features", "train", "score", "people", "addresses", "households", "review", "write")

RAW = "onecase_raw"
FEATURES = "onecase_features"
EDGES = "onecase_edges"
FINAL = "onecase_final"
SPLINK_INPUT = "onecase_splink_input"
COMPONENT_CAP = 1000


class LinkageConflict(Exception):
    """Reviewers changed decisions while the run was scoring; nothing was written. Run again."""


@dataclass
class Snapshot:
    """What the run read, to check nothing it relies on changed before it writes."""

    decisions: tuple = ()


def _arrow(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
    con.register(f"{name}_arrow", table)
    con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {name}_arrow")  # noqa: S608
    con.unregister(f"{name}_arrow")


def _decision_snapshot() -> tuple:
    active = LinkDecision.objects.filter(undone_at__isnull=True)
    last = LinkDecision.objects.order_by("-id").values_list("id", flat=True).first()
    undone = LinkDecision.objects.filter(undone_at__isnull=False).count()
    return (last, active.count(), undone)


class Runner:
    def __init__(self, *, actor=None, full: bool = False, engine: LinkageEngine | None = None,
                 progress: Progress | None = None, conf: LinkageSettings | None = None,
                 started: Callable[[LinkRun], None] | None = None):
        self.actor = actor
        self.started = started
        self.full = full
        self.conf = conf or linkage_settings()
        self.con = duckdb.connect(":memory:")
        if self.conf.threads:
            self.con.execute(f"SET threads = {int(self.conf.threads)}")
        if self.conf.memory_limit:
            self.con.execute("SET memory_limit = ?", [self.conf.memory_limit])
        normalise.install(self.con)
        clustering.install(self.con)
        self.engine = engine or DuckDBEngine(self.con)
        if isinstance(self.engine, DuckDBEngine):
            # The engine works in the run's own DuckDB, next to the features it scores.
            self.engine.con = self.con
        self.progress = progress or (lambda stage: None)
        self.snapshot = Snapshot()
        self.parameters: dict = {}
        self.trained = False
        self.counts: dict[str, int] = defaultdict(int)
        # The people and households whose failure demand the run may have changed; None: everyone's.
        self.demand_scope: dict[str, list[int]] | None = None
        self.previous: LinkRun | None = None

    # -- reading ------------------------------------------------------------------------
    def _read(self) -> None:
        t, ts = dbio.text, dbio.timestamp_text
        records = dbio.fetch_into(
            self.con, "onecase_raw_text",
            f"""SELECT id, agency_id, given_name, family_name, {t('date_of_birth')}, sex, address_line, postcode,
                       uprn, nhs_number, {ts('identity_as_of')}, {ts('updated_at')}
                FROM people_agencyperson""",  # noqa: S608
            {
                "id": "BIGINT", "agency_id": "BIGINT", "given_name": "VARCHAR", "family_name": "VARCHAR",
                "date_of_birth": "VARCHAR", "sex": "VARCHAR", "address_line": "VARCHAR", "postcode": "VARCHAR",
                "uprn": "VARCHAR", "nhs_number": "VARCHAR", "identity_as_of": "VARCHAR", "updated_at": "VARCHAR",
            },
        )
        self.con.execute(
            f"""CREATE OR REPLACE TABLE {RAW} AS
                SELECT id, agency_id, given_name, family_name, TRY_CAST(date_of_birth AS DATE) AS date_of_birth,
                       sex, address_line, postcode, uprn, nhs_number, identity_as_of, updated_at
                FROM onecase_raw_text ORDER BY id"""  # noqa: S608
        )
        self.con.execute("DROP TABLE onecase_raw_text")
        dbio.fetch_into(
            self.con, "onecase_links",
            f"""SELECT id, agency_person_id, person_id, match_probability, address_id, {ts('created_at')}
                FROM people_personlink WHERE undone_at IS NULL""",  # noqa: S608
            {
                "id": "BIGINT", "agency_person_id": "BIGINT", "person_id": "BIGINT", "match_probability": "DOUBLE",
                "address_id": "BIGINT", "created_at": "VARCHAR",
            },
        )
        self.snapshot.decisions = _decision_snapshot()
        self.previous = (
            LinkRun.objects.filter(status=LinkRun.Status.FINISHED).exclude(model={}).order_by("-id").first()
        )
        incremental = self._mode() == LinkRun.Mode.INCREMENTAL
        dbio.fetch_into(
            self.con, "onecase_contacts",
            f"""SELECT id, agency_person_id, address_id, person_id, household_id, address_line, postcode, uprn
                FROM contacts_contact {"WHERE address_id IS NULL" if incremental else ""}""",  # noqa: S608
            {"id": "BIGINT", "agency_person_id": "BIGINT", "address_id": "BIGINT", "person_id": "BIGINT",
             "household_id": "BIGINT", "line": "VARCHAR", "postcode": "VARCHAR", "uprn": "VARCHAR"},
        )
        self.con.execute(
            """CREATE OR REPLACE TABLE onecase_contact_obs AS
               SELECT coalesce(line, '') AS line, coalesce(postcode, '') AS postcode, coalesce(uprn, '') AS uprn,
                      count(*) AS weight
               FROM onecase_contacts GROUP BY 1, 2, 3"""
        )
        pairs = list(
            DecisionPair.objects.filter(decision__undone_at__isnull=True)
            .order_by("decision__decided_at", "decision_id", "id")
            .values_list("agency_person_a_id", "agency_person_b_id", "together")
        )
        # A later decision about the same pair overrides an earlier one.
        latest: dict[tuple[int, int], bool] = {}
        for a, b, together in pairs:
            latest[(a, b)] = together
        self.together = sorted(p for p, t in latest.items() if t)
        self.apart = sorted(p for p, t in latest.items() if not t)
        self.counts["records"] = records

    def _mode(self) -> LinkRun.Mode:
        has_links = self.con.sql("SELECT count(*) FROM onecase_links").fetchall()[0][0] > 0
        if self.full or not has_links or self.previous is None:
            return LinkRun.Mode.FULL
        return LinkRun.Mode.INCREMENTAL

    # -- features and scoring -------------------------------------------------------------
    def _features(self, incremental: bool) -> None:
        for statement in normalise.parse_lines_sql(
            f"SELECT address_line AS line FROM {RAW} UNION ALL SELECT line FROM onecase_contact_obs"  # noqa: S608
        ):
            self.con.execute(statement)
        self.con.execute(f"CREATE OR REPLACE TABLE {FEATURES} AS {normalise.features_sql(RAW)} ORDER BY unique_id")
        if incremental:
            # New: never linked, or identity changed since the link was made.
            self.con.execute(
                f"""CREATE OR REPLACE TABLE onecase_new AS
                    SELECT r.id AS unique_id FROM {RAW} r LEFT JOIN onecase_links l ON l.agency_person_id = r.id
                    WHERE l.id IS NULL OR r.updated_at > l.created_at"""  # noqa: S608
            )
        else:
            self.con.execute(f"CREATE OR REPLACE TABLE onecase_new AS SELECT id AS unique_id FROM {RAW}")  # noqa: S608
        self.counts["new_records"] = self.con.sql("SELECT count(*) FROM onecase_new").fetchall()[0][0]

    def _features_rel(self, where: str = ""):
        """The features (those ``where`` selects) as a relation the engine reads or converts."""
        if not where:
            # All of them: one table of Splink's columns, which training and scoring read in place.
            if SPLINK_INPUT not in self._tables():
                self.con.execute(f"CREATE OR REPLACE TABLE {SPLINK_INPUT} AS {splink_input_sql(FEATURES)}")
            return self.con.table(SPLINK_INPUT)
        return self.con.sql(f"SELECT * FROM {FEATURES} {where}")  # noqa: S608

    def _tables(self) -> set[str]:
        return {r[0] for r in self.con.sql("SELECT table_name FROM duckdb_tables()").fetchall()}

    def _train(self) -> None:
        conf = self.conf
        options = TrainingOptions(
            seed=conf.seed, recall=conf.recall, min_records=conf.min_training_records,
            u_max_pairs=conf.u_max_pairs, em_max_pairs=conf.em_max_pairs,
        )
        features = self._features_rel()
        n = row_count(features)
        if n >= conf.min_training_records:
            self.parameters = self.engine.train(features, options, progress=lambda m: self.progress(f"train: {m}"))
            self.trained = True
        else:
            self.parameters = untrained_parameters(n)
        self.parameters = _rounded(self.parameters)

    def _score_all(self) -> None:
        edges = self.engine.predict(self._features_rel(), self.parameters, self.conf.review_low)
        self._store_edges(edges)

    def _score_new(self) -> None:
        new = self._features_rel("WHERE unique_id IN (SELECT unique_id FROM onecase_new)")
        if row_count(new) == 0:
            edges = pa.table({"unique_id_l": pa.array([], pa.int64()), "unique_id_r": pa.array([], pa.int64()),
                              "match_probability": pa.array([], pa.float64()),
                              "match_weight": pa.array([], pa.float64())})
        else:
            self._candidates()
            existing = self._features_rel("WHERE unique_id IN (SELECT unique_id FROM onecase_candidates)")
            edges = self.engine.predict_new(existing, new, self.parameters, self.conf.review_low)
        self._store_edges(edges)

    def _candidates(self) -> None:
        """Linked records that share a block with a new record: the only ones a new record can be scored with.

        The model's blocking rules are applied between the new records and all the others, so the
        engine compares the new records with these few rather than with every person's records. The
        pairs it scores, and their scores, are the same (no comparison depends on the rest).
        """
        self.con.execute(
            f"CREATE OR REPLACE TABLE onecase_incoming AS SELECT * FROM {FEATURES} "  # noqa: S608
            "WHERE unique_id IN (SELECT unique_id FROM onecase_new)"
        )
        # Each rule both ways round: Splink's rules are symmetric, but nothing here relies on it.
        joins = [
            f"SELECT r.unique_id FROM onecase_incoming l JOIN {FEATURES} r ON {rule} "  # noqa: S608
            f"UNION SELECT l.unique_id FROM {FEATURES} l JOIN onecase_incoming r ON {rule}"
            for rule in model.blocking_sql()
        ]
        self.con.execute(
            f"""CREATE OR REPLACE TABLE onecase_candidates AS
                SELECT unique_id FROM ({' UNION '.join(joins)})
                WHERE unique_id IN (SELECT agency_person_id FROM onecase_links)
                  AND unique_id NOT IN (SELECT unique_id FROM onecase_new)"""  # noqa: S608
        )
        self.con.execute("DROP TABLE onecase_incoming")
        self.counts["candidates"] = self.con.sql("SELECT count(*) FROM onecase_candidates").fetchall()[0][0]

    def _store_edges(self, edges: pa.Table) -> None:
        _arrow(self.con, "onecase_edges_raw", edges)
        # Rounded so that the order of equal scores never depends on floating-point noise.
        self.con.execute(
            f"""CREATE OR REPLACE TABLE {EDGES} AS
                SELECT unique_id_l, unique_id_r, round(max(match_probability), 9) AS p, round(max(match_weight), 6) AS w
                FROM onecase_edges_raw WHERE unique_id_l <> unique_id_r
                GROUP BY unique_id_l, unique_id_r ORDER BY unique_id_l, unique_id_r"""  # noqa: S608
        )
        self.con.execute("DROP TABLE onecase_edges_raw")
        self.counts["pairs"] = self.con.sql(f"SELECT count(*) FROM {EDGES}").fetchall()[0][0]  # noqa: S608

    # -- people -----------------------------------------------------------------------------
    def _pairs_table(self, name: str, pairs: list[tuple[int, int]]) -> None:
        _arrow(self.con, name, pa.table({
            "a": pa.array([p[0] for p in pairs], pa.int64()), "b": pa.array([p[1] for p in pairs], pa.int64()),
        }))

    def _people_full(self) -> None:
        threshold = self.conf.threshold
        self._pairs_table("onecase_together", self.together)
        self._pairs_table("onecase_apart", self.apart)
        ids = self.con.sql(f"SELECT unique_id FROM {FEATURES}").to_arrow_table()  # noqa: S608
        cluster_edges = self.con.sql(
            f"""SELECT unique_id_l, unique_id_r, p AS match_probability FROM {EDGES} WHERE p >= {threshold}
                UNION ALL SELECT a, b, 1.0 FROM onecase_together
                    WHERE a IN (SELECT unique_id FROM {FEATURES}) AND b IN (SELECT unique_id FROM {FEATURES})"""  # noqa: S608
        ).to_arrow_table()
        components = self._bounded(self.engine.cluster(ids, cluster_edges, threshold), cluster_edges, threshold)
        _arrow(self.con, "onecase_components", components)
        self.con.execute(
            """CREATE OR REPLACE TABLE onecase_comp AS
               SELECT unique_id, min(unique_id) OVER (PARTITION BY cluster_id) AS comp,
                      count(*) OVER (PARTITION BY cluster_id) AS size
               FROM onecase_components"""
        )
        # Conflicts inside components: features that cannot be one person, and reviewers' "apart".
        self.con.execute(
            """CREATE OR REPLACE TABLE onecase_comp_pairs AS
               SELECT ca.comp, ca.unique_id AS a, cb.unique_id AS b
               FROM (SELECT * FROM onecase_comp WHERE size > 1) ca
               JOIN (SELECT * FROM onecase_comp WHERE size > 1) cb
                 ON ca.comp = cb.comp AND ca.unique_id < cb.unique_id"""
        )
        self.con.execute(
            f"""CREATE OR REPLACE TABLE onecase_conflicts AS
                SELECT p.comp, p.a, p.b, false AS hard
                FROM onecase_comp_pairs p
                JOIN {FEATURES} a ON a.unique_id = p.a JOIN {FEATURES} b ON b.unique_id = p.b
                WHERE {clustering.conflict_condition()}
                UNION ALL
                SELECT ca.comp, x.a, x.b, true FROM onecase_apart x
                JOIN onecase_comp ca ON ca.unique_id = x.a JOIN onecase_comp cb ON cb.unique_id = x.b
                WHERE ca.comp = cb.comp"""  # noqa: S608
        )
        conflicted = self.con.sql(
            f"""SELECT c.comp, e.unique_id_l, e.unique_id_r, e.p FROM {EDGES} e
                JOIN onecase_comp c ON c.unique_id = e.unique_id_l JOIN onecase_comp d ON d.unique_id = e.unique_id_r
                WHERE e.p >= {threshold} AND c.comp = d.comp AND c.comp IN (SELECT comp FROM onecase_conflicts)
                UNION ALL
                SELECT c.comp, t.a, t.b, {clustering.MUST} FROM onecase_together t
                JOIN onecase_comp c ON c.unique_id = t.a JOIN onecase_comp d ON d.unique_id = t.b
                WHERE c.comp = d.comp AND c.comp IN (SELECT comp FROM onecase_conflicts)"""  # noqa: S608
        ).fetchall()
        conflicts = self.con.sql("SELECT a, b, hard FROM onecase_conflicts").fetchall()
        # Pairs that vouch for one person, which can outvote a few conflicting ones.
        vouches = self.con.sql(
            f"""SELECT p.a, p.b FROM onecase_comp_pairs p
                JOIN {FEATURES} a ON a.unique_id = p.a JOIN {FEATURES} b ON b.unique_id = p.b
                WHERE p.comp IN (SELECT comp FROM onecase_conflicts WHERE NOT hard)
                  AND {clustering.vouch_condition()}"""  # noqa: S608
        ).fetchall()
        members = self.con.sql(
            "SELECT unique_id FROM onecase_comp WHERE comp IN (SELECT comp FROM onecase_conflicts)"
        ).fetchall()
        roots = clustering.greedy(
            [m[0] for m in members],
            [(p, a, b) for _, a, b, p in conflicted],
            soft=[(a, b) for a, b, hard in conflicts if not hard],
            hard=[(a, b) for a, b, hard in conflicts if hard],
            vouch=vouches,
        )
        self.counts["conflicted_components"] = len({c[0] for c in conflicts})
        _arrow(self.con, "onecase_regrouped", pa.table({
            "unique_id": pa.array(list(roots), pa.int64()), "root": pa.array(list(roots.values()), pa.int64()),
        }))
        self.con.execute(
            """CREATE OR REPLACE TABLE onecase_groups AS
               SELECT c.unique_id, coalesce(g.root, c.comp) AS grp, NULL::BIGINT AS person_id
               FROM onecase_comp c LEFT JOIN onecase_regrouped g ON g.unique_id = c.unique_id"""
        )
        self.con.execute(
            "CREATE OR REPLACE TABLE onecase_groups AS "
            "SELECT unique_id, min(unique_id) OVER (PARTITION BY grp) AS grp, person_id FROM onecase_groups"
        )

    def _bounded(self, components: pa.Table, edges: pa.Table, threshold: float) -> pa.Table:
        """Components of at most ``COMPONENT_CAP`` records: larger ones are re-clustered at higher thresholds.

        A component that large is a chain of weak links (say, a placeholder date of birth
        shared by many); checking all its pairs for conflicts would take quadratic time.
        """
        _arrow(self.con, "onecase_components_all", components)
        _arrow(self.con, "onecase_cluster_edges", edges)
        step = threshold
        while True:
            big = self.con.sql(
                f"""SELECT unique_id FROM onecase_components_all WHERE cluster_id IN (
                        SELECT cluster_id FROM onecase_components_all GROUP BY 1 HAVING count(*) > {COMPONENT_CAP})"""  # noqa: S608
            ).to_arrow_table()
            if big.num_rows == 0 or step >= 0.999999:
                return self.con.sql("SELECT unique_id, cluster_id FROM onecase_components_all").to_arrow_table()
            step = 1 - (1 - step) / 10
            self.counts["components_recut"] += 1
            _arrow(self.con, "onecase_big", big)
            inner = self.con.sql(
                f"""SELECT * FROM onecase_cluster_edges WHERE match_probability >= {step}
                    AND unique_id_l IN (SELECT unique_id FROM onecase_big)
                    AND unique_id_r IN (SELECT unique_id FROM onecase_big)"""  # noqa: S608
            ).to_arrow_table()
            split = self.engine.cluster(big, inner, step)
            _arrow(self.con, "onecase_split", split)
            # New cluster ids must not clash with the ids of components left as they were.
            self.con.execute(
                """CREATE OR REPLACE TABLE onecase_components_all AS
                   SELECT c.unique_id, coalesce(-1 - s.cluster_id, c.cluster_id) AS cluster_id
                   FROM onecase_components_all c LEFT JOIN onecase_split s ON s.unique_id = c.unique_id"""
            )

    def _people_incremental(self) -> None:
        """Attach new records to existing people (never moving existing links) or to each other."""
        threshold = self.conf.threshold
        person_of = dict(self.con.sql(
            "SELECT agency_person_id, person_id FROM onecase_links "
            "WHERE agency_person_id NOT IN (SELECT unique_id FROM onecase_new)"
        ).fetchall())
        new_ids = [r[0] for r in self.con.sql("SELECT unique_id FROM onecase_new ORDER BY 1").fetchall()]
        new_set = set(new_ids)

        def node(record: int) -> int | None:
            if record in new_set:
                return record
            person = person_of.get(record)
            return -person if person is not None else None

        edges = []
        scored = self.con.sql(f"SELECT unique_id_l, unique_id_r, p FROM {EDGES} WHERE p >= {threshold}").fetchall()  # noqa: S608
        for a, b, p in scored:
            x, y = node(a), node(b)
            if x is not None and y is not None and x != y:
                edges.append((p, x, y))
        for a, b in self.together:
            if a in new_set or b in new_set:
                x, y = node(a), node(b)
                if x is not None and y is not None and x != y:
                    edges.append((clustering.MUST, x, y))
        # Components (without constraints) tell which records' conflicts are needed.
        reach = clustering.Groups(set(new_ids) | {n for _, x, y in edges for n in (x, y)})
        for _, x, y in edges:
            reach.join(x, y, must=True)
        comp_of = reach.roots()
        persons = {-n for n in comp_of if n < 0}
        rows = [(n, comp_of[n]) for n in new_ids] + [
            (record, comp_of[-person]) for record, person in person_of.items() if person in persons
        ]
        _arrow(self.con, "onecase_comp", pa.table({
            "unique_id": pa.array([r[0] for r in rows], pa.int64()), "comp": pa.array([r[1] for r in rows], pa.int64()),
        }))
        compared = self.con.sql(
            f"""SELECT * FROM (
                    SELECT a.unique_id AS a, b.unique_id AS b, {clustering.conflict_condition()} AS conflict,
                           {clustering.vouch_condition()} AS vouch
                    FROM onecase_comp ca JOIN onecase_comp cb ON ca.comp = cb.comp AND ca.unique_id < cb.unique_id
                    JOIN {FEATURES} a ON a.unique_id = ca.unique_id JOIN {FEATURES} b ON b.unique_id = cb.unique_id
                    WHERE (ca.unique_id IN (SELECT unique_id FROM onecase_new)
                           OR cb.unique_id IN (SELECT unique_id FROM onecase_new))
                ) WHERE conflict OR vouch"""  # noqa: S608
        ).fetchall()
        soft = [(a, b) for a, b, conflict, _ in compared if conflict]
        vouch = [(a, b) for a, b, _, vouches in compared if vouches]

        def node_pairs(pairs):
            out = []
            for a, b in pairs:
                x, y = node(a), node(b)
                if x is not None and y is not None and x != y and (x > 0 or y > 0):
                    out.append((x, y))
            return out

        roots = clustering.greedy(
            list(comp_of), edges, soft=node_pairs(soft), hard=node_pairs(self.apart), vouch=node_pairs(vouch),
            locks={n: -n for n in comp_of if n < 0},
        )
        members: dict[int, list[int]] = defaultdict(list)
        for n, root in roots.items():
            members[root].append(n)
        assigned = []
        for group in members.values():
            person = next((-n for n in group if n < 0), None)
            records = sorted(n for n in group if n > 0)
            for record in records:
                assigned.append((record, records[0], person))
        _arrow(self.con, "onecase_groups", pa.table({
            "unique_id": pa.array([a[0] for a in assigned], pa.int64()),
            "grp": pa.array([a[1] for a in assigned], pa.int64()),
            "person_id": pa.array([a[2] for a in assigned], pa.int64()),
        }))

    def _link_probabilities(self, incremental: bool) -> None:
        """Each record's link probability: its best pair within its person (1.0 alone or confirmed)."""
        self._pairs_table("onecase_together", self.together)
        if incremental:
            self.con.execute(
                """CREATE OR REPLACE TABLE onecase_members AS
                   SELECT unique_id, coalesce(person_id, -grp) AS who FROM onecase_groups
                   UNION ALL
                   SELECT l.agency_person_id, l.person_id FROM onecase_links l
                   WHERE l.agency_person_id NOT IN (SELECT unique_id FROM onecase_new)"""
            )
        else:
            self.con.execute(
                "CREATE OR REPLACE TABLE onecase_members AS SELECT unique_id, grp AS who FROM onecase_groups"
            )
        self.con.execute(
            f"""CREATE OR REPLACE TABLE onecase_best AS
                WITH e AS (
                    SELECT unique_id_l AS a, unique_id_r AS b, p FROM {EDGES} WHERE p >= {self.conf.threshold}
                    UNION ALL SELECT a, b, 1.0 FROM onecase_together
                ), both_ends AS (
                    SELECT e.a, e.b, e.p FROM e
                    JOIN onecase_members ma ON ma.unique_id = e.a JOIN onecase_members mb ON mb.unique_id = e.b
                    WHERE ma.who = mb.who
                )
                SELECT x AS unique_id, max(p) AS p FROM (SELECT a AS x, p FROM both_ends UNION ALL
                                                         SELECT b, p FROM both_ends) GROUP BY x"""  # noqa: S608
        )

    # -- addresses and households ---------------------------------------------------------
    def _addresses(self, incremental: bool) -> None:
        addresses.create_inputs(self.con)
        scope = "WHERE r.id IN (SELECT unique_id FROM onecase_new)" if incremental else ""
        self.con.execute(
            f"""INSERT INTO {addresses.OBS}
                SELECT coalesce(address_line, ''), coalesce(postcode, ''), coalesce(uprn, ''), count(*)
                FROM {RAW} r {scope} GROUP BY 1, 2, 3"""  # noqa: S608
        )
        self.con.execute(
            f"""INSERT INTO {addresses.OBS}
                SELECT coalesce(line, ''), coalesce(postcode, ''), coalesce(uprn, ''), sum(weight)
                FROM onecase_contact_obs GROUP BY 1, 2, 3"""  # noqa: S608
        )
        self.con.execute(
            f"""CREATE OR REPLACE TABLE {addresses.OBS} AS
                SELECT line, postcode, uprn, sum(weight)::BIGINT AS weight FROM {addresses.OBS} GROUP BY 1, 2, 3"""  # noqa: S608
        )
        dbio.fetch_into(
            self.con, "onecase_known_addresses",
            "SELECT id, key, uprn, postcode, flat, number, street FROM people_address WHERE key IS NOT NULL",
            {"id": "BIGINT", "key": "VARCHAR", "uprn": "VARCHAR", "postcode": "VARCHAR", "flat": "VARCHAR",
             "number": "VARCHAR", "street": "VARCHAR"},
        )
        self.con.execute(f"INSERT INTO {addresses.EXISTING} SELECT * FROM onecase_known_addresses")  # noqa: S608
        stats = addresses.resolve(self.con)
        self.counts["addresses_new"] = stats.new
        self.con.execute(
            f"""CREATE OR REPLACE TABLE onecase_record_address AS
                SELECT r.id AS unique_id, a.address_ref FROM {RAW} r
                JOIN {addresses.RESOLVED} a ON a.line = coalesce(r.address_line, '')
                 AND a.postcode = coalesce(r.postcode, '') AND a.uprn = coalesce(r.uprn, '')"""  # noqa: S608
        )

    def _final(self, incremental: bool) -> None:
        """One row per agency person this run (re)links: group, person (if known), probability, address."""
        self.con.execute(
            f"""CREATE OR REPLACE TABLE {FINAL} AS
                SELECT g.unique_id, g.grp, g.person_id, coalesce(b.p, 1.0) AS p, ra.address_ref,
                       r.identity_as_of
                FROM onecase_groups g
                JOIN {RAW} r ON r.id = g.unique_id
                LEFT JOIN onecase_best b ON b.unique_id = g.unique_id
                LEFT JOIN onecase_record_address ra ON ra.unique_id = g.unique_id"""  # noqa: S608
        )

    # -- review ---------------------------------------------------------------------------
    def _review(self, incremental: bool) -> list[tuple]:
        """Pairs in the review band, with evidence: (a, b, p, w, reason, evidence)."""
        low, high = self.conf.review_low, self.conf.review_high
        self._pairs_table("onecase_apart", self.apart)
        self._pairs_table("onecase_together", self.together)
        scope = (
            "AND (e.unique_id_l IN (SELECT unique_id FROM onecase_new) "
            "OR e.unique_id_r IN (SELECT unique_id FROM onecase_new))" if incremental else ""
        )
        self.con.execute(
            f"""CREATE OR REPLACE TABLE onecase_review AS
                WITH band AS (
                    SELECT e.unique_id_l, e.unique_id_r, e.p, e.w,
                           ma.who = mb.who AS together
                    FROM {EDGES} e
                    JOIN onecase_members ma ON ma.unique_id = e.unique_id_l
                    JOIN onecase_members mb ON mb.unique_id = e.unique_id_r
                    WHERE e.p >= {low} AND e.p < {high} {scope}
                      AND (e.unique_id_l, e.unique_id_r) NOT IN (SELECT a, b FROM onecase_apart)
                      AND (e.unique_id_l, e.unique_id_r) NOT IN (SELECT a, b FROM onecase_together)
                ), best AS (SELECT unique_id, p FROM onecase_best)
                SELECT unique_id_l, unique_id_r, p, w,
                       CASE WHEN together THEN 'uncertain_link' ELSE 'possible_match' END AS reason
                FROM band b
                WHERE NOT together
                   OR p = (SELECT p FROM best WHERE best.unique_id = b.unique_id_l)
                   OR p = (SELECT p FROM best WHERE best.unique_id = b.unique_id_r)"""  # noqa: S608
        )
        per = int(self.conf.review_per_record)
        self.con.execute(
            f"""CREATE OR REPLACE TABLE onecase_review AS
                SELECT * FROM onecase_review QUALIFY
                    row_number() OVER (PARTITION BY unique_id_l ORDER BY p DESC, unique_id_r) <= {per}
                    AND row_number() OVER (PARTITION BY unique_id_r ORDER BY p DESC, unique_id_l) <= {per}"""  # noqa: S608
        )
        pairs = self.con.sql(
            "SELECT unique_id_l, unique_id_r, p, w, reason FROM onecase_review ORDER BY unique_id_l, unique_id_r"
        ).fetchall()
        found = evidence.evidence_rows(self.con, "onecase_review", self.parameters, FEATURES)
        return [(a, b, p, w, reason, found.get((a, b), [])) for a, b, p, w, reason in pairs]

    # -- the run ----------------------------------------------------------------------------
    def run(self) -> LinkRun:
        started = time.perf_counter()
        self.progress("read")
        self._read()
        mode = self._mode()
        incremental = mode == LinkRun.Mode.INCREMENTAL
        run = LinkRun.objects.create(
            mode=mode, engine=self.engine.name, started_by=self.actor if _authenticated(self.actor) else None,
            options=self.conf.as_dict(),
        )
        try:
            if self.started is not None:
                self.started(run)
            self.progress("features")
            self._features(incremental)
            self.progress("train")
            if incremental:
                self.parameters = self.previous.model
            else:
                self._train()
            self.progress("score")
            if incremental:
                self._score_new()
            else:
                self._score_all()
            self.progress("people")
            if incremental:
                self._people_incremental()
            else:
                self._people_full()
            self._link_probabilities(incremental)
            self.progress("addresses")
            self._addresses(incremental)
            self._final(incremental)
            self.progress("review")
            review = self._review(incremental)
            self.progress("write")
            with transaction.atomic():
                if _decision_snapshot() != self.snapshot.decisions:
                    raise LinkageConflict("Review decisions changed during the run; nothing was written.")
                from onecase.linkage.write import Writer

                Writer(self, run, incremental).write(review)
                run.status = LinkRun.Status.FINISHED
                run.finished_at = timezone.now()
                run.seconds = round(time.perf_counter() - started, 3)
                run.trained = self.trained
                run.model = self.parameters
                for name in ("records", "new_records", "pairs", "people", "people_created", "links_created",
                             "links_undone", "households", "addresses_created", "review_items"):
                    setattr(run, name, int(self.counts.get(name, 0)))
                run.save()
                audit_record(
                    user=self.actor, action=AuditEvent.Action.CHANGE, object_type="link_run", object_id=run.pk,
                    detail={"mode": mode, **{k: int(v) for k, v in sorted(self.counts.items())}},
                )
        except Exception as exc:
            LinkRun.objects.filter(pk=run.pk).update(
                status=LinkRun.Status.FAILED, finished_at=timezone.now(), message=type(exc).__name__,
                seconds=round(time.perf_counter() - started, 3),
            )
            raise
        finally:
            self.con.close()
        logger.info("link run %s (%s): %s", run.pk, mode, dict(self.counts))
        return run


def _authenticated(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False))


def _rounded(parameters: dict) -> dict:
    """Parameters rounded to 12 significant figures, so repeated training stores the same model."""
    return {
        "probability_two_random_records_match": float(f"{parameters['probability_two_random_records_match']:.12g}"),
        "comparisons": {
            name: {label: [float(f"{m:.12g}"), float(f"{u:.12g}")] for label, (m, u) in levels.items()}
            for name, levels in parameters["comparisons"].items()
        },
    }


