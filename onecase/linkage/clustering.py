"""Turning scored pairs into people without merging a family.

Connected components join every pair above the threshold, so one weak record (a surname
and an address, nothing else) can chain a whole household into one person. Within each
component this module therefore checks every pair for a strong conflict (both given
names present and unrelated; both dates of birth present and not explained by a typing
error, a day/month swap or a year out; two different NHS numbers) and for reviewers'
"keep apart" decisions. Components without one are people as they are. Components with
one are rebuilt greedily: pairs are taken from the most to the least probable, and two
groups are joined only if no pair across them conflicts, or if more pairs across them
vouch for one person (the same NHS number, or the same given name and date of birth) than
conflict: then the few conflicting records are likelier mistyped than a family member,
whose records would conflict with all of the person's. Reviewers' "same person"
decisions are taken first; their "keep apart" is never outvoted. Ties are broken by
record id, so the result is repeatable.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

import duckdb

CONFLICT_MACROS = (
    # Two names that could be the same name mistyped, abbreviated or a nickname of it.
    r"""CREATE OR REPLACE MACRO oc_names_related(a, b, ga, gb) AS
        a = b OR coalesce(list_has_any(ga, gb), false) OR levenshtein(a, b) <= 1
        OR (levenshtein(a, b) <= 2 AND least(length(a), length(b)) >= 5)
        OR jaro_winkler_similarity(a, b) >= 0.88""",
    r"""CREATE OR REPLACE MACRO oc_given_conflict(gl, gr, grl, grr, fl, fr, fgl, fgr) AS
        gl IS NOT NULL AND gr IS NOT NULL AND length(gl) > 1 AND length(gr) > 1
        AND NOT oc_names_related(gl, gr, grl, grr)
        AND NOT (fl IS NOT NULL AND fr IS NOT NULL
                 AND oc_names_related(gl, fr, grl, fgr) AND oc_names_related(fl, gr, fgl, grr))""",
    # Dates that no typing error, day/month swap or year slip explains: at most one of
    # year, month and day agree and they are more than a month apart.
    r"""CREATE OR REPLACE MACRO oc_dob_conflict(dl, dr, sl, sr) AS
        dl IS NOT NULL AND dr IS NOT NULL
        AND (year(dl) = year(dr))::INT + (month(dl) = month(dr))::INT + (day(dl) = day(dr))::INT < 2
        AND NOT (day(dl) = month(dr) AND month(dl) = day(dr))
        AND abs(dl - dr) > 31 AND levenshtein(sl, sr) > 1""",
    # Given names (more than initials) that could be one name: the same, a nickname, a typo, or swapped.
    r"""CREATE OR REPLACE MACRO oc_given_agree(gl, gr, grl, grr, fl, fr, fgl, fgr) AS
        gl IS NOT NULL AND gr IS NOT NULL AND length(gl) > 1 AND length(gr) > 1
        AND NOT oc_given_conflict(gl, gr, grl, grr, fl, fr, fgl, fgr)""",
)

MUST = 2.0  # the probability given to a reviewer's "same person" pair, above any model pair


def install(con: duckdb.DuckDBPyConnection) -> None:
    for statement in CONFLICT_MACROS:
        con.execute(statement)


def conflict_condition(a: str = "a", b: str = "b") -> str:
    """SQL that is true when feature rows ``a`` and ``b`` cannot be the same person.

    The same NHS number (or one mistyped by a digit or two) never conflicts. Otherwise
    dates of birth that cannot be the same date always conflict, and so do different sexes
    unless the given names show the same person (a twin's record without a given name is
    not taken for the other twin). Unrelated given names
    conflict unless both dates of birth are present and agree, the sexes do not differ and
    the names start alike: then the names are more likely a nickname the table does not
    know than twins. Different NHS numbers are left to the model's weights: agencies
    mistype them.
    """
    dob_conflict = f"oc_dob_conflict({a}.dob, {b}.dob, {a}.dob_s, {b}.dob_s)"
    given_agree = (f"oc_given_agree({a}.given, {b}.given, {a}.given_groups, {b}.given_groups, {a}.family, {b}.family,"
                   f" {a}.family_groups, {b}.family_groups)")
    return (
        f"(coalesce(levenshtein({a}.nhs, {b}.nhs) > 2, true) AND ({dob_conflict}"
        f" OR (coalesce({a}.sex <> {b}.sex, false) AND NOT {given_agree})"
        f" OR (oc_given_conflict({a}.given, {b}.given, {a}.given_groups, {b}.given_groups, {a}.family, {b}.family,"
        f" {a}.family_groups, {b}.family_groups)"
        f" AND (NOT ({a}.dob IS NOT NULL AND {b}.dob IS NOT NULL AND NOT {dob_conflict})"
        f" OR coalesce({a}.sex <> {b}.sex, false) OR left({a}.given, 1) <> left({b}.given, 1)))))"
    )


def vouch_condition(a: str = "a", b: str = "b") -> str:
    """SQL that is true when feature rows ``a`` and ``b`` agree on what tells family members apart.

    The same NHS number (or one mistyped by a digit or two); or given names (not initials)
    that could be one name (the same, a nickname, a typo, or swapped with the family names)
    and dates of birth both present and not in conflict, with sexes that do not differ.
    """
    return (
        f"(coalesce(levenshtein({a}.nhs, {b}.nhs) <= 2, false)"
        f" OR (oc_given_agree({a}.given, {b}.given, {a}.given_groups, {b}.given_groups, {a}.family, {b}.family,"
        f" {a}.family_groups, {b}.family_groups)"
        f" AND {a}.dob IS NOT NULL AND {b}.dob IS NOT NULL"
        f" AND NOT oc_dob_conflict({a}.dob, {b}.dob, {a}.dob_s, {b}.dob_s)"
        f" AND NOT coalesce({a}.sex <> {b}.sex, false)))"
    )


class Groups:
    """Union-find over nodes, keeping members, conflicts and vouching pairs so joins can be refused.

    Pairs are counted: between an existing person and a new record there is one pair per
    record of the person.
    """

    def __init__(self, nodes: Iterable[int], locks: dict[int, int] | None = None):
        self.parent = {n: n for n in nodes}
        self.members = {n: [n] for n in self.parent}
        self.lock = {n: (locks or {}).get(n) for n in self.parent}
        self.hard: dict[int, Counter[int]] = defaultdict(Counter)
        self.soft: dict[int, Counter[int]] = defaultdict(Counter)
        self.vouch: dict[int, Counter[int]] = defaultdict(Counter)

    def _add(self, target: dict[int, Counter[int]], pairs: Iterable[tuple[int, int]]) -> None:
        for a, b in pairs:
            if a in self.parent and b in self.parent:
                target[a][b] += 1
                target[b][a] += 1

    def add_conflicts(self, pairs: Iterable[tuple[int, int]], hard: bool = False) -> None:
        self._add(self.hard if hard else self.soft, pairs)

    def add_vouches(self, pairs: Iterable[tuple[int, int]]) -> None:
        self._add(self.vouch, pairs)

    def find(self, n: int) -> int:
        root = n
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[n] != root:
            self.parent[n], n = root, self.parent[n]
        return root

    def _count(self, a: int, b: int, table: dict[int, Counter[int]]) -> int:
        """Pairs in ``table`` between the members of roots ``a`` and ``b``."""
        small, large = (a, b) if len(self.members[a]) <= len(self.members[b]) else (b, a)
        other = set(self.members[large])
        return sum(n for x in self.members[small] if x in table for y, n in table[x].items() if y in other)

    def _refused(self, a: int, b: int, must: bool) -> bool:
        """Never across a hard conflict; across soft ones only if ``must`` or outvoted by vouching pairs."""
        if self._count(a, b, self.hard):
            return True
        if must:
            return False
        conflicts = self._count(a, b, self.soft)
        return conflicts > 0 and conflicts >= self._count(a, b, self.vouch)

    def join(self, x: int, y: int, *, must: bool = False) -> bool:
        a, b = self.find(x), self.find(y)
        if a == b:
            return True
        if self.lock[a] is not None and self.lock[b] is not None and self.lock[a] != self.lock[b]:
            return False
        if self._refused(a, b, must):
            return False
        if a > b:
            a, b = b, a
        self.parent[b] = a
        self.members[a].extend(self.members.pop(b))
        self.lock[a] = self.lock[a] if self.lock[a] is not None else self.lock[b]
        return True

    def roots(self) -> dict[int, int]:
        return {n: self.find(n) for n in self.parent}


def greedy(
    nodes: Iterable[int],
    edges: Iterable[tuple[float, int, int]],
    *,
    soft: Iterable[tuple[int, int]] = (),
    hard: Iterable[tuple[int, int]] = (),
    vouch: Iterable[tuple[int, int]] = (),
    locks: dict[int, int] | None = None,
) -> dict[int, int]:
    """Join nodes along ``edges`` (probability, a, b), most probable first, refusing conflicting joins.

    ``hard`` pairs (reviewers' decisions) are never joined; ``soft`` pairs (conflicting
    features) are not joined except along an edge of probability ``MUST``, or when more
    ``vouch`` pairs (agreeing identity features) than soft ones lie across the two groups.
    Nodes with different ``locks`` (existing people) are never joined. Returns node -> group root.
    """
    groups = Groups(nodes, locks)
    groups.add_conflicts(hard, hard=True)
    groups.add_conflicts(soft)
    groups.add_vouches(vouch)
    for p, a, b in sorted(edges, key=lambda e: (-e[0], min(e[1], e[2]), max(e[1], e[2]))):
        groups.join(a, b, must=p >= MUST)
    return groups.roots()
