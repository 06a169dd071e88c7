"""Writing a link run's results: addresses, households, people, links, contacts, review items.

Everything is worked out in the run's DuckDB and written set-based (see ``dbio``: COPY on
PostgreSQL, executemany of streamed rows on SQLite) inside the run's transaction; no
ORM object is made per row. Agency people are never written. Links whose person is
unchanged are kept (their probability and address are refreshed); links whose person
changed are undone and replaced. A full run also gives every contact its person and
household; an incremental run gives them to the contacts that can have changed (``_contacts_follow``).
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pyarrow as pa
from django.db import connection
from django.utils import timezone

from onecase.linkage import addresses, dbio
from onecase.linkage.models import LinkRun, ReviewItem
from onecase.people.models import Person, PersonLink

if TYPE_CHECKING:
    from onecase.linkage.run import Runner

BULK_CONTACTS = 20_000  # more contacts than this change: demand counts are rebuilt set-based, not by triggers
DEMAND_SCOPE_CAP = 5_000  # more people and households than this: failure demand is judged again for all


@contextmanager
def _counts_paused(paused: bool, kinds: list):
    """Demand counts kept by the triggers, or (``paused``) rebuilt for ``kinds`` once the block has written."""
    if not paused:
        yield
        return
    from onecase.contacts.bulk import demand_counts_paused, rebuild_demand_counts

    with demand_counts_paused():
        yield
        rebuild_demand_counts(kinds)


class Writer:
    def __init__(self, runner: Runner, run: LinkRun, incremental: bool):
        self.r = runner
        self.con = runner.con
        self.run = run
        self.incremental = incremental
        self.now = timezone.now()
        self.created = dbio.datetime_text(self.now)
        self.counts = runner.counts

    def _arrow(self, name: str, columns: dict[str, pa.Array]) -> None:
        self._table(name, pa.table(columns))

    def _table(self, name: str, table: pa.Table) -> None:
        self.con.register(f"{name}_arrow", table)
        self.con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {name}_arrow")  # noqa: S608
        self.con.unregister(f"{name}_arrow")

    def _count(self, sql: str) -> int:
        return int(self.con.sql(sql).fetchall()[0][0])

    def _ids(self, name: str, table: str, count: int) -> None:
        """Table ``name`` (n, id): ``count`` fresh ids of ``table``, numbered from 1 in increasing order."""
        ids = dbio.reserve_ids(table, count)
        self._arrow(name, {"n": pa.array(range(1, len(ids) + 1), pa.int64()), "id": pa.array(ids, pa.int64())})

    def write(self, review: list[tuple]) -> None:
        with dbio.bulk_writes():
            self._addresses()
            self._people()
            self._households()
            self._persons_insert()
            self._links()
            self._person_households()
            self._contacts()
            self._review(review)
        if self.incremental:
            self.counts["people"] = (
                PersonLink.objects.filter(undone_at__isnull=True).values("person_id").distinct().count()
            )
        else:
            # A full run relinks every agency person, so its links are all the active links.
            self.counts["people"] = self._count("SELECT count(DISTINCT person_id) FROM onecase_assign")
        self.counts["review_items"] = ReviewItem.objects.filter(status=ReviewItem.Status.OPEN).count()

    # -- addresses --------------------------------------------------------------------------
    def _addresses(self) -> None:
        new = self._count(f"SELECT count(*) FROM {addresses.NEW}")  # noqa: S608
        self._ids("onecase_new_address_ids", "people_address", new)
        dbio.insert_from(
            "people_address",
            ("id", "key", "uprn", "postcode", "flat", "number", "street", "line", "created_at"),
            self.con,
            f"""SELECT i.id, a.key, a.uprn, a.postcode, a.flat, a.number, a.street, a.line, ?
                FROM {addresses.NEW} a JOIN onecase_new_address_ids i ON i.n = a.ref ORDER BY i.id""",  # noqa: S608
            [self.created],
        )
        self.counts["addresses_created"] = new
        self.con.execute(
            f"""CREATE OR REPLACE TABLE onecase_address_ids AS
                SELECT -a.ref AS address_ref, i.id AS address_id
                FROM {addresses.NEW} a JOIN onecase_new_address_ids i ON i.n = a.ref
                UNION ALL SELECT DISTINCT address_ref, address_ref FROM {addresses.RESOLVED}
                WHERE address_ref > 0"""  # noqa: S608
        )

    # -- people -------------------------------------------------------------------------------
    def _people(self) -> None:
        con = self.con
        claimed: dict[int, int] = {}
        if self.incremental:
            claimed = dict(con.sql(
                "SELECT grp, min(person_id) FROM onecase_final WHERE person_id IS NOT NULL GROUP BY grp"
            ).fetchall())
        else:
            # Each cluster keeps the person most of its records were linked to (ties: lower ids).
            overlap = con.sql(
                """SELECT f.grp, l.person_id, count(*) AS n FROM onecase_final f
                   JOIN onecase_links l ON l.agency_person_id = f.unique_id GROUP BY 1, 2
                   ORDER BY n DESC, f.grp, l.person_id"""
            ).fetchall()
            taken: set[int] = set()
            for grp, person, _n in overlap:
                if grp not in claimed and person not in taken:
                    claimed[grp] = person
                    taken.add(person)
        self._arrow("onecase_claimed", {
            "grp": pa.array(list(claimed), pa.int64()), "person_id": pa.array(list(claimed.values()), pa.int64()),
        })
        con.execute(
            """CREATE OR REPLACE TABLE onecase_fresh_groups AS
               SELECT grp, row_number() OVER (ORDER BY grp) AS n
               FROM (SELECT DISTINCT grp FROM onecase_final WHERE grp NOT IN (SELECT grp FROM onecase_claimed))"""
        )
        fresh = self._count("SELECT count(*) FROM onecase_fresh_groups")
        self._ids("onecase_new_people", "people_person", fresh)
        self.counts["people_created"] = fresh
        con.execute(
            """CREATE OR REPLACE TABLE onecase_group_person AS
               SELECT grp, person_id FROM onecase_claimed
               UNION ALL SELECT g.grp, i.id FROM onecase_fresh_groups g JOIN onecase_new_people i ON i.n = g.n"""
        )
        con.execute(
            """CREATE OR REPLACE TABLE onecase_assign AS
               SELECT f.unique_id, gp.person_id, f.p, ai.address_id, f.identity_as_of
               FROM onecase_final f JOIN onecase_group_person gp ON gp.grp = f.grp
               LEFT JOIN onecase_address_ids ai ON ai.address_ref = f.address_ref"""
        )

    def _households(self) -> None:
        """Each touched person's household: the address of their most recently recorded agency person."""
        con = self.con
        if self.incremental:
            con.execute(
                """CREATE OR REPLACE TABLE onecase_person_records AS
                   SELECT unique_id, person_id, address_id, identity_as_of FROM onecase_assign
                   UNION ALL
                   SELECT l.agency_person_id, l.person_id, l.address_id, r.identity_as_of
                   FROM onecase_links l JOIN onecase_raw r ON r.id = l.agency_person_id
                   WHERE l.person_id IN (SELECT person_id FROM onecase_assign)
                     AND l.agency_person_id NOT IN (SELECT unique_id FROM onecase_assign)"""
            )
        else:
            con.execute(
                "CREATE OR REPLACE TABLE onecase_person_records AS "
                "SELECT unique_id, person_id, address_id, identity_as_of FROM onecase_assign"
            )
        con.execute(
            """CREATE OR REPLACE TABLE onecase_person_address AS
               SELECT person_id, arg_max(address_id, (coalesce(identity_as_of, ''), unique_id)) AS address_id
               FROM onecase_person_records WHERE address_id IS NOT NULL GROUP BY person_id"""
        )
        dbio.fetch_into(con, "onecase_known_households", "SELECT address_id, id FROM people_household",
                        {"address_id": "BIGINT", "id": "BIGINT"})
        con.execute(
            """CREATE OR REPLACE TABLE onecase_wanted_households AS
               SELECT address_id, row_number() OVER (ORDER BY address_id) AS n
               FROM (SELECT DISTINCT address_id FROM onecase_person_address
                     WHERE address_id NOT IN (SELECT address_id FROM onecase_known_households))"""
        )
        wanted = self._count("SELECT count(*) FROM onecase_wanted_households")
        self._ids("onecase_new_households", "people_household", wanted)
        dbio.insert_from(
            "people_household", ("id", "address_id", "created_at"), self.con,
            """SELECT i.id, w.address_id, ? FROM onecase_wanted_households w
               JOIN onecase_new_households i ON i.n = w.n ORDER BY i.id""",
            [self.created],
        )
        self.counts["households_created"] = wanted
        con.execute(
            """CREATE OR REPLACE TABLE onecase_person_household AS
               WITH h AS (SELECT address_id, id FROM onecase_known_households
                          UNION ALL SELECT w.address_id, i.id FROM onecase_wanted_households w
                          JOIN onecase_new_households i ON i.n = w.n)
               SELECT pa.person_id, h.id AS household_id FROM onecase_person_address pa
               JOIN h ON h.address_id = pa.address_id"""
        )

    def _persons_insert(self) -> None:
        dbio.insert_from(
            "people_person", ("id", "household_id", "created_at"), self.con,
            """SELECT n.id, h.household_id, ? FROM onecase_new_people n
               LEFT JOIN onecase_person_household h ON h.person_id = n.id ORDER BY n.id""",
            [self.created],
        )

    def _person_households(self) -> None:
        con = self.con
        if self.incremental:
            dbio.load_temp_from(
                "onecase_person_household", {"person_id": "bigint", "household_id": "bigint"}, con,
                """SELECT person_id, household_id FROM onecase_person_household
                   WHERE person_id NOT IN (SELECT id FROM onecase_new_people)""",
            )
        else:
            # Existing people whose household changes; people left without agency people belong to none.
            dbio.fetch_into(con, "onecase_person_current", "SELECT id, household_id FROM people_person",
                            {"id": "BIGINT", "household_id": "BIGINT"})
            dbio.load_temp_from(
                "onecase_person_household", {"person_id": "bigint", "household_id": "bigint"}, con,
                """SELECT c.id, h.household_id FROM onecase_person_current c
                   LEFT JOIN onecase_person_household h ON h.person_id = c.id
                   WHERE c.id NOT IN (SELECT id FROM onecase_new_people)
                     AND (h.household_id IS NOT NULL AND h.household_id IS DISTINCT FROM c.household_id
                          OR h.household_id IS NULL AND c.household_id IS NOT NULL
                             AND c.id NOT IN (SELECT person_id FROM onecase_assign))""",
            )
        dbio.execute(
            f"""UPDATE people_person SET household_id = t.household_id FROM onecase_person_household t
                WHERE people_person.id = t.person_id
                  AND people_person.household_id {dbio.distinct_from()} t.household_id"""  # noqa: S608
        )
        dbio.drop_temp("onecase_person_household")
        self.counts["households"] = (
            Person.objects.filter(household__isnull=False).values("household_id").distinct().count()
        )

    # -- links --------------------------------------------------------------------------------
    def _links(self) -> None:
        con = self.con
        self.r._pairs_table("onecase_together", self.r.together)
        con.execute(
            """CREATE OR REPLACE TABLE onecase_confirmed AS
               SELECT DISTINCT x.unique_id FROM (SELECT a AS x, b AS y FROM onecase_together
                                                 UNION ALL SELECT b, a FROM onecase_together) t
               JOIN onecase_assign x ON x.unique_id = t.x JOIN onecase_assign y ON y.unique_id = t.y
               WHERE x.person_id = y.person_id"""
        )
        con.execute(
            """CREATE OR REPLACE TABLE onecase_link_changes AS
               SELECT a.unique_id, a.person_id, a.p, a.address_id, l.id AS link_id, l.person_id AS old_person,
                      l.match_probability AS old_p, l.address_id AS old_address,
                      a.unique_id IN (SELECT unique_id FROM onecase_confirmed) AS confirmed
               FROM onecase_assign a LEFT JOIN onecase_links l ON l.agency_person_id = a.unique_id"""
        )
        undo = dbio.load_temp_from(
            "onecase_undo", {"id": "bigint"}, con,
            "SELECT link_id FROM onecase_link_changes WHERE link_id IS NOT NULL AND old_person <> person_id",
        )
        if undo:
            dbio.execute(
                "UPDATE people_personlink SET undone_at = %s WHERE id IN (SELECT id FROM onecase_undo)",
                [dbio.adapt_datetime(self.now)],
            )
        dbio.drop_temp("onecase_undo")
        created = dbio.insert_from(
            "people_personlink",
            ("agency_person_id", "person_id", "match_probability", "method", "address_id", "created_at"),
            con,
            """SELECT unique_id, person_id, p, CASE WHEN confirmed THEN ? ELSE ? END, address_id, ?
               FROM onecase_link_changes WHERE link_id IS NULL OR old_person <> person_id ORDER BY unique_id""",
            [PersonLink.Method.CONFIRMED.value, PersonLink.Method.AUTOMATIC.value, self.created],
        )
        update = dbio.load_temp_from(
            "onecase_link_update",
            {"id": "bigint", "match_probability": "double precision", "address_id": "bigint"},
            con,
            """SELECT link_id, p, address_id FROM onecase_link_changes
               WHERE link_id IS NOT NULL AND old_person = person_id
                 AND (abs(coalesce(old_p, 0) - p) > 1e-9 OR old_address IS DISTINCT FROM address_id)
               ORDER BY link_id""",
        )
        if update:
            dbio.execute(
                """UPDATE people_personlink SET match_probability = t.match_probability, address_id = t.address_id
                   FROM onecase_link_update t WHERE people_personlink.id = t.id"""
            )
        dbio.drop_temp("onecase_link_update")
        self.counts["links_created"] = created
        self.counts["links_undone"] = undo
        self.counts["links_updated"] = update

    # -- contacts -------------------------------------------------------------------------------
    def _contacts(self) -> None:
        """Contacts get the address they were recorded at; with none recorded, their agency person's.

        A full run also sets each contact's person and household (every agency person is
        relinked). Worked out in DuckDB per contact id; only contacts that change are written.
        """
        full = not self.incremental
        if full:
            self.con.execute(
                """CREATE OR REPLACE TABLE onecase_household_after AS
                   SELECT person_id, household_id FROM onecase_person_household
                   UNION ALL
                   SELECT c.id, c.household_id FROM onecase_person_current c
                   WHERE c.id NOT IN (SELECT person_id FROM onecase_person_household)"""
            )
        self.con.execute(
            f"""CREATE OR REPLACE TABLE onecase_contact_target AS
                WITH person_address AS (
                    SELECT unique_id AS agency_person_id, address_id, person_id FROM onecase_assign
                    UNION ALL
                    SELECT agency_person_id, address_id, person_id FROM onecase_links
                    WHERE agency_person_id NOT IN (SELECT unique_id FROM onecase_assign)
                )
                SELECT c.id, CASE WHEN coalesce(c.line, '') = '' AND coalesce(c.postcode, '') = ''
                                       AND coalesce(c.uprn, '') = ''
                                  THEN pa.address_id ELSE ai.address_id END AS address_id,
                       {"pa.person_id, ha.household_id" if full else "c.person_id, c.household_id"},
                       c.address_id AS current, c.person_id AS current_person,
                       c.household_id AS current_household
                FROM onecase_contacts c
                LEFT JOIN {addresses.RESOLVED} r
                       ON r.line = coalesce(c.line, '') AND r.postcode = coalesce(c.postcode, '')
                      AND r.uprn = coalesce(c.uprn, '')
                LEFT JOIN onecase_address_ids ai ON ai.address_ref = r.address_ref
                LEFT JOIN person_address pa ON pa.agency_person_id = c.agency_person_id
                {"LEFT JOIN onecase_household_after ha ON ha.person_id = pa.person_id" if full else ""}"""  # noqa: S608
        )
        from onecase.contacts.models import DemandKind

        changed = """FROM onecase_contact_target
                     WHERE address_id IS DISTINCT FROM current OR person_id IS DISTINCT FROM current_person
                        OR household_id IS DISTINCT FROM current_household"""
        many = full or self._count(f"SELECT count(*) {changed}") > BULK_CONTACTS
        # Many contacts: demand counts are rebuilt once, set-based, rather than by the triggers one by one.
        with _counts_paused(many, [DemandKind.ADDRESS, DemandKind.PERSON, DemandKind.HOUSEHOLD] if full
                            else [DemandKind.ADDRESS]):
            rows = dbio.update_from(
                "contacts_contact", ("address_id", "person_id", "household_id"), self.con,
                f"SELECT id, address_id, person_id, household_id {changed} ORDER BY id",
                {"address_id": "bigint", "person_id": "bigint", "household_id": "bigint"},
            )
        self.counts["contacts_addressed"] = rows
        if self.incremental:
            self._contacts_follow()

    def _contacts_follow(self) -> None:
        """Incremental: contacts take the person and household of their agency person's active link.

        Only contacts that can have changed are looked at: those of the agency people this run
        (re)linked, of the people it gave records to (whose household it may have moved), and
        contacts with no person yet (new contacts of agency people linked before). The people and
        households whose contacts moved, and those of contacts changed since the last run, are
        left in ``demand_scope``: the contacts whose failure demand may have changed.
        """
        from onecase.contacts.models import DemandKind

        dbio.load_temp_from(
            "onecase_touched", {"id": "bigint PRIMARY KEY"}, self.con,
            "SELECT DISTINCT unique_id FROM onecase_person_records ORDER BY 1",
        )
        distinct = dbio.distinct_from()
        dbio.drop_temp("onecase_contact_people")
        dbio.execute(
            f"""CREATE TEMPORARY TABLE onecase_contact_people AS
                SELECT c.id, l.person_id, p.household_id, c.person_id AS old_person,
                       c.household_id AS old_household
                FROM contacts_contact c
                LEFT JOIN people_personlink l ON l.agency_person_id = c.agency_person_id AND l.undone_at IS NULL
                LEFT JOIN people_person p ON p.id = l.person_id
                WHERE c.id IN (SELECT id FROM contacts_contact
                               WHERE agency_person_id IN (SELECT id FROM onecase_touched)
                               UNION ALL SELECT id FROM contacts_contact WHERE person_id IS NULL)
                  AND (c.person_id {distinct} l.person_id OR c.household_id {distinct} p.household_id)"""  # noqa: S608
        )
        moved = dbio.fetch_arrow(
            "SELECT old_person, person_id, old_household, household_id FROM onecase_contact_people",
            {"old_person": pa.int64(), "person_id": pa.int64(), "old_household": pa.int64(),
             "household_id": pa.int64()},
        )
        with _counts_paused(moved.num_rows > BULK_CONTACTS, [DemandKind.PERSON, DemandKind.HOUSEHOLD]):
            if moved.num_rows:
                dbio.execute(
                    """UPDATE contacts_contact SET person_id = t.person_id, household_id = t.household_id
                       FROM onecase_contact_people t WHERE contacts_contact.id = t.id"""
                )
        dbio.drop_temp("onecase_contact_people")
        dbio.drop_temp("onecase_touched")
        self.counts["contacts_resolved"] = moved.num_rows
        people = {v for c in ("old_person", "person_id") for v in moved.column(c).to_pylist()}
        households = {v for c in ("old_household", "household_id") for v in moved.column(c).to_pylist()}
        since = self.r.previous.started_at if self.r.previous is not None else None
        if since is not None:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT DISTINCT person_id, household_id FROM contacts_contact WHERE updated_at >= %s",
                    [dbio.adapt_datetime(since)],
                )
                for person, household in cursor.fetchall():
                    people.add(person)
                    households.add(household)
        people.discard(None)
        households.discard(None)
        if since is not None and len(people) + len(households) <= DEMAND_SCOPE_CAP:
            self.r.demand_scope = {"person_ids": sorted(people), "household_ids": sorted(households)}

    # -- review -----------------------------------------------------------------------------------
    def _review(self, review: list[tuple]) -> None:
        """Open review items: re-proposed ones are refreshed, new ones raised, the rest superseded.

        A full run reviews every pair, so open items it does not propose are superseded; an
        incremental run only supersedes open items about records it relinked.
        """
        now = dbio.adapt_datetime(self.now)
        rows = [(a, b, p, w, reason, json.dumps(ev, separators=(",", ":"))) for a, b, p, w, reason, ev in review]
        dbio.load_temp(
            "onecase_review_new",
            {"a": "bigint", "b": "bigint", "p": "double precision", "w": "double precision", "reason": "varchar(20)",
             "evidence": "text"},
            rows,
        )
        dbio.execute("CREATE INDEX onecase_review_new_idx ON onecase_review_new (a, b)")
        dbio.analyze("onecase_review_new")
        open_ = ReviewItem.Status.OPEN
        relinked = ""
        if self.incremental:
            dbio.load_temp_from("onecase_relinked", {"id": "bigint"}, self.con, "SELECT unique_id FROM onecase_assign")
            relinked = """AND (agency_person_a_id IN (SELECT id FROM onecase_relinked)
                               OR agency_person_b_id IN (SELECT id FROM onecase_relinked))"""
        superseded = dbio.execute(
            f"""UPDATE linkage_reviewitem SET status = %s, updated_at = %s, version = version + 1
                WHERE status = %s {relinked} AND NOT EXISTS (
                    SELECT 1 FROM onecase_review_new n
                    WHERE n.a = linkage_reviewitem.agency_person_a_id
                      AND n.b = linkage_reviewitem.agency_person_b_id)""",  # noqa: S608
            [ReviewItem.Status.SUPERSEDED, now, open_],
        )
        evidence = "CAST(n.evidence AS jsonb)" if dbio._vendor() == "postgresql" else "n.evidence"
        dbio.execute(
            f"""UPDATE linkage_reviewitem SET run_id = %s, match_probability = n.p, match_weight = n.w,
                       reason = n.reason, evidence = {evidence}, updated_at = %s, version = version + 1
                FROM onecase_review_new n
                WHERE linkage_reviewitem.status = %s AND n.a = linkage_reviewitem.agency_person_a_id
                  AND n.b = linkage_reviewitem.agency_person_b_id""",  # noqa: S608
            [self.run.pk, now, open_],
        )
        raised = dbio.execute(
            f"""INSERT INTO linkage_reviewitem (run_id, agency_person_a_id, agency_person_b_id, match_probability,
                       match_weight, evidence, reason, status, created_at, updated_at)
                SELECT %s, n.a, n.b, n.p, n.w, {evidence}, n.reason, %s, %s, %s FROM onecase_review_new n
                WHERE NOT EXISTS (SELECT 1 FROM linkage_reviewitem r WHERE r.status = %s
                                  AND r.agency_person_a_id = n.a AND r.agency_person_b_id = n.b)""",  # noqa: S608
            [self.run.pk, open_, now, now, open_],
        )
        dbio.drop_temp("onecase_review_new")
        dbio.drop_temp("onecase_relinked")
        self.counts["review_raised"] = raised
        self.counts["review_superseded"] = superseded
