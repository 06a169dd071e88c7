"""Writing a link run's results: addresses, households, people, links, contacts, review items.

Everything is set-based (see ``dbio``) and runs inside the run's transaction. Agency
people are never written. Links whose person is unchanged are kept (their probability
and address are refreshed); links whose person changed are undone and replaced.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pyarrow as pa
from django.utils import timezone

from onecase.linkage import addresses, dbio
from onecase.linkage.models import LinkRun, ReviewItem
from onecase.people.models import Person, PersonLink

if TYPE_CHECKING:
    from onecase.linkage.run import Runner


class Writer:
    def __init__(self, runner: Runner, run: LinkRun, incremental: bool):
        self.r = runner
        self.con = runner.con
        self.run = run
        self.incremental = incremental
        self.now = timezone.now()
        self.counts = runner.counts

    def _arrow(self, name: str, columns: dict[str, pa.Array]) -> None:
        self.con.register(f"{name}_arrow", pa.table(columns))
        self.con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {name}_arrow")  # noqa: S608
        self.con.unregister(f"{name}_arrow")

    def write(self, review: list[tuple]) -> None:
        self._addresses()
        self._people()
        self._households()
        self._persons_insert()
        self._links()
        self._person_households()
        self._contacts()
        self._review(review)
        self.counts["people"] = (
            PersonLink.objects.filter(undone_at__isnull=True).values("person_id").distinct().count()
        )
        self.counts["review_items"] = ReviewItem.objects.filter(status=ReviewItem.Status.OPEN).count()

    # -- addresses --------------------------------------------------------------------------
    def _addresses(self) -> None:
        new = self.con.sql(
            f"SELECT ref, key, uprn, postcode, flat, number, street, line FROM {addresses.NEW} ORDER BY ref"  # noqa: S608
        ).fetchall()
        ids = dbio.reserve_ids("people_address", len(new))
        created = dbio.adapt_datetime(self.now)
        dbio.insert(
            "people_address",
            ("id", "key", "uprn", "postcode", "flat", "number", "street", "line", "created_at"),
            ((i, key, uprn, pc, flat, number, street, line, created)
             for i, (_, key, uprn, pc, flat, number, street, line) in zip(ids, new, strict=True)),
        )
        self.counts["addresses_created"] = len(new)
        self._arrow("onecase_new_address_ids", {
            "address_ref": pa.array([-row[0] for row in new], pa.int64()), "address_id": pa.array(ids, pa.int64()),
        })
        self.con.execute(
            """CREATE OR REPLACE TABLE onecase_address_ids AS
               SELECT address_ref, address_id FROM onecase_new_address_ids
               UNION ALL SELECT DISTINCT address_ref, address_ref FROM onecase_addr_resolved WHERE address_ref > 0"""
        )

    # -- people -------------------------------------------------------------------------------
    def _people(self) -> None:
        con = self.con
        if self.incremental:
            groups = con.sql(
                "SELECT grp, min(person_id) FROM onecase_final GROUP BY grp ORDER BY grp"
            ).fetchall()
            mapping = {grp: person for grp, person in groups}
        else:
            # Each cluster keeps the person most of its records were linked to (ties: lower ids).
            overlap = con.sql(
                """SELECT f.grp, l.person_id, count(*) AS n FROM onecase_final f
                   JOIN onecase_links l ON l.agency_person_id = f.unique_id GROUP BY 1, 2
                   ORDER BY n DESC, f.grp, l.person_id"""
            ).fetchall()
            mapping: dict[int, int | None] = {}
            claimed: set[int] = set()
            for grp, person, _n in overlap:
                if grp not in mapping and person not in claimed:
                    mapping[grp] = person
                    claimed.add(person)
            for (grp,) in con.sql("SELECT DISTINCT grp FROM onecase_final ORDER BY grp").fetchall():
                mapping.setdefault(grp, None)
        fresh = sorted(grp for grp, person in mapping.items() if person is None)
        ids = dbio.reserve_ids("people_person", len(fresh))
        for grp, person_id in zip(fresh, ids, strict=True):
            mapping[grp] = person_id
        self.new_people = set(ids)
        self.counts["people_created"] = len(ids)
        self._arrow("onecase_group_person", {
            "grp": pa.array(list(mapping), pa.int64()), "person_id": pa.array(list(mapping.values()), pa.int64()),
        })
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
                f"""CREATE OR REPLACE TABLE onecase_person_records AS
                    SELECT unique_id, person_id, address_id, identity_as_of FROM onecase_assign
                    UNION ALL
                    SELECT l.agency_person_id, l.person_id, l.address_id, r.identity_as_of
                    FROM onecase_links l JOIN {'onecase_raw'} r ON r.id = l.agency_person_id
                    WHERE l.person_id IN (SELECT person_id FROM onecase_assign)
                      AND l.agency_person_id NOT IN (SELECT unique_id FROM onecase_assign)"""  # noqa: S608
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
        known = dbio.fetch_arrow(
            "SELECT address_id, id FROM people_household", {"address_id": pa.int64(), "id": pa.int64()}
        )
        household_of = dict(zip(known.column("address_id").to_pylist(), known.column("id").to_pylist(), strict=True))
        wanted = sorted({
            a for (a,) in con.sql("SELECT DISTINCT address_id FROM onecase_person_address").fetchall()
        } - set(household_of))
        ids = dbio.reserve_ids("people_household", len(wanted))
        created = dbio.adapt_datetime(self.now)
        dbio.insert("people_household", ("id", "address_id", "created_at"),
                    ((h, a, created) for h, a in zip(ids, wanted, strict=True)))
        household_of.update(zip(wanted, ids, strict=True))
        self.counts["households_created"] = len(ids)
        pairs = con.sql("SELECT person_id, address_id FROM onecase_person_address").fetchall()
        self.household_for = {person: household_of[address] for person, address in pairs}

    def _persons_insert(self) -> None:
        created = dbio.adapt_datetime(self.now)
        dbio.insert(
            "people_person", ("id", "household_id", "created_at"),
            ((p, self.household_for.get(p), created) for p in sorted(self.new_people)),
        )

    def _person_households(self) -> None:
        existing = [(p, h) for p, h in self.household_for.items() if p not in self.new_people]
        dbio.load_temp("onecase_person_household", {"person_id": "bigint", "household_id": "bigint"}, existing)
        dbio.execute(
            f"""UPDATE people_person SET household_id = t.household_id FROM onecase_person_household t
                WHERE people_person.id = t.person_id
                  AND people_person.household_id {dbio.distinct_from()} t.household_id"""  # noqa: S608
        )
        dbio.drop_temp("onecase_person_household")
        if not self.incremental:
            # People left without agency people belong to no household.
            dbio.execute(
                """UPDATE people_person SET household_id = NULL WHERE household_id IS NOT NULL AND NOT EXISTS (
                       SELECT 1 FROM people_personlink l
                       WHERE l.person_id = people_person.id AND l.undone_at IS NULL)"""
            )
        self.counts["households"] = (
            Person.objects.filter(household__isnull=False).values("household_id").distinct().count()
        )

    # -- links --------------------------------------------------------------------------------
    def _links(self) -> None:
        con = self.con
        self.r._pairs_table("onecase_together", self.r.together)
        changes = con.sql(
            """SELECT a.unique_id, a.person_id, a.p, a.address_id, l.id AS link_id, l.person_id AS old_person,
                      l.match_probability AS old_p, l.address_id AS old_address,
                      EXISTS (SELECT 1 FROM onecase_together t JOIN onecase_assign o
                              ON o.unique_id = CASE WHEN t.a = a.unique_id THEN t.b ELSE t.a END
                              WHERE (t.a = a.unique_id OR t.b = a.unique_id) AND o.person_id = a.person_id)
                          AS confirmed
               FROM onecase_assign a LEFT JOIN onecase_links l ON l.agency_person_id = a.unique_id
               ORDER BY a.unique_id"""
        ).fetchall()
        undo, create, update = [], [], []
        for record, person, p, address, link, old_person, old_p, old_address, confirmed in changes:
            if link is not None and old_person == person:
                if abs((old_p or 0) - p) > 1e-9 or old_address != address:
                    update.append((link, p, address))
                continue
            if link is not None:
                undo.append((link,))
            method = PersonLink.Method.CONFIRMED if confirmed else PersonLink.Method.AUTOMATIC
            create.append((record, person, p, method, address))
        if undo:
            dbio.load_temp("onecase_undo", {"id": "bigint"}, undo)
            dbio.execute(
                "UPDATE people_personlink SET undone_at = %s WHERE id IN (SELECT id FROM onecase_undo)",
                [dbio.adapt_datetime(self.now)],
            )
            dbio.drop_temp("onecase_undo")
        created = dbio.adapt_datetime(self.now)
        dbio.insert(
            "people_personlink",
            ("agency_person_id", "person_id", "match_probability", "method", "address_id", "created_at"),
            ((r, p, prob, m, a, created) for r, p, prob, m, a in create),
        )
        if update:
            dbio.load_temp(
                "onecase_link_update",
                {"id": "bigint", "match_probability": "double precision", "address_id": "bigint"},
                update,
            )
            dbio.execute(
                """UPDATE people_personlink SET match_probability = t.match_probability, address_id = t.address_id
                   FROM onecase_link_update t WHERE people_personlink.id = t.id"""
            )
            dbio.drop_temp("onecase_link_update")
        self.counts["links_created"] = len(create)
        self.counts["links_undone"] = len(undo)
        self.counts["links_updated"] = len(update)

    # -- contacts -------------------------------------------------------------------------------
    def _contacts(self) -> None:
        """Contacts get the address they were recorded at; with none recorded, their agency person's.

        Worked out in DuckDB per contact id; only contacts whose address changes are written.
        """
        self.con.execute(
            f"""CREATE OR REPLACE TABLE onecase_contact_target AS
                WITH person_address AS (
                    SELECT unique_id AS agency_person_id, address_id FROM onecase_assign
                    UNION ALL
                    SELECT agency_person_id, address_id FROM onecase_links
                    WHERE agency_person_id NOT IN (SELECT unique_id FROM onecase_assign)
                )
                SELECT c.id, CASE WHEN coalesce(c.line, '') = '' AND coalesce(c.postcode, '') = ''
                                       AND coalesce(c.uprn, '') = ''
                                  THEN pa.address_id ELSE ai.address_id END AS address_id, c.address_id AS current
                FROM onecase_contacts c
                LEFT JOIN {addresses.RESOLVED} r
                       ON r.line = coalesce(c.line, '') AND r.postcode = coalesce(c.postcode, '')
                      AND r.uprn = coalesce(c.uprn, '')
                LEFT JOIN onecase_address_ids ai ON ai.address_ref = r.address_ref
                LEFT JOIN person_address pa ON pa.agency_person_id = c.agency_person_id"""  # noqa: S608
        )
        rows = self.con.sql(
            "SELECT id, address_id FROM onecase_contact_target WHERE address_id IS DISTINCT FROM current ORDER BY id"
        ).fetchall()
        dbio.load_temp("onecase_contact_address", {"id": "bigint PRIMARY KEY", "address_id": "bigint"}, rows)
        dbio.execute(
            """UPDATE contacts_contact SET address_id = t.address_id FROM onecase_contact_address t
               WHERE contacts_contact.id = t.id"""
        )
        dbio.drop_temp("onecase_contact_address")
        self.counts["contacts_addressed"] = len(rows)

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
            relinked_ids = [r[0] for r in self.con.sql("SELECT unique_id FROM onecase_assign").fetchall()]
            dbio.load_temp("onecase_relinked", {"id": "bigint"}, [(i,) for i in relinked_ids])
            relinked = """AND (agency_person_a_id IN (SELECT id FROM onecase_relinked)
                               OR agency_person_b_id IN (SELECT id FROM onecase_relinked))"""
        superseded = dbio.execute(
            f"""UPDATE linkage_reviewitem SET status = %s, updated_at = %s
                WHERE status = %s {relinked} AND NOT EXISTS (
                    SELECT 1 FROM onecase_review_new n
                    WHERE n.a = linkage_reviewitem.agency_person_a_id
                      AND n.b = linkage_reviewitem.agency_person_b_id)""",  # noqa: S608
            [ReviewItem.Status.SUPERSEDED, now, open_],
        )
        evidence = "CAST(n.evidence AS jsonb)" if dbio._vendor() == "postgresql" else "n.evidence"
        dbio.execute(
            f"""UPDATE linkage_reviewitem SET run_id = %s, match_probability = n.p, match_weight = n.w,
                       reason = n.reason, evidence = {evidence}, updated_at = %s
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


