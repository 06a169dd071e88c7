"""Turning scored pairs into people without merging a family.

Connected components join every pair above the threshold, so one weak record (a surname
and an address, nothing else) can chain a whole household into one person. Within each
component this module therefore checks every pair for a strong conflict (both given
names present and unrelated; both dates of birth present and not explained by a typing
error, a day/month swap or a year out; two different NHS numbers) and for reviewers'
"keep apart" decisions. Components without one are people as they are. Components with
one are rebuilt greedily: pairs are taken from the most to the least probable, and two
groups are joined only if no pair across them conflicts. Reviewers' "same person"
decisions are taken first. Ties are broken by record id, so the result is repeatable.
"""

from __future__ import annotations

from collections import defaultdict
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
)

MUST = 2.0  # the probability given to a reviewer's "same person" pair, above any model pair


def install(con: duckdb.DuckDBPyConnection) -> None:
    for statement in CONFLICT_MACROS:
        con.execute(statement)


def conflict_condition(a: str = "a", b: str = "b") -> str:
    """SQL that is true when feature rows ``a`` and ``b`` cannot be the same person.

    The same NHS number (or one mistyped by a digit or two) never conflicts. Otherwise
    dates of birth that cannot be the same date always conflict. Unrelated given names
    conflict unless both dates of birth are present and agree, the sexes do not differ and
    the names start alike: then the names are more likely a nickname the table does not
    know than twins. Different NHS numbers are left to the model's weights: agencies
    mistype them.
    """
    dob_conflict = f"oc_dob_conflict({a}.dob, {b}.dob, {a}.dob_s, {b}.dob_s)"
    return (
        f"(coalesce(levenshtein({a}.nhs, {b}.nhs) > 2, true) AND ({dob_conflict}"
        f" OR (oc_given_conflict({a}.given, {b}.given, {a}.given_groups, {b}.given_groups, {a}.family, {b}.family,"
        f" {a}.family_groups, {b}.family_groups)"
        f" AND (NOT ({a}.dob IS NOT NULL AND {b}.dob IS NOT NULL AND NOT {dob_conflict})"
        f" OR coalesce({a}.sex <> {b}.sex, false) OR left({a}.given, 1) <> left({b}.given, 1)))))"
    )


class Groups:
    """Union-find over nodes, keeping members and conflicts so joins can be refused."""

    def __init__(self, nodes: Iterable[int], locks: dict[int, int] | None = None):
        self.parent = {n: n for n in nodes}
        self.members = {n: [n] for n in self.parent}
        self.lock = {n: (locks or {}).get(n) for n in self.parent}
        self.hard: dict[int, set[int]] = defaultdict(set)
        self.soft: dict[int, set[int]] = defaultdict(set)

    def add_conflicts(self, pairs: Iterable[tuple[int, int]], hard: bool = False) -> None:
        target = self.hard if hard else self.soft
        for a, b in pairs:
            if a in self.parent and b in self.parent:
                target[a].add(b)
                target[b].add(a)

    def find(self, n: int) -> int:
        root = n
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[n] != root:
            self.parent[n], n = root, self.parent[n]
        return root

    def _clash(self, a: int, b: int, table: dict[int, set[int]]) -> bool:
        small, large = (a, b) if len(self.members[a]) <= len(self.members[b]) else (b, a)
        other = set(self.members[large])
        return any(table.get(x) and not table[x].isdisjoint(other) for x in self.members[small])

    def join(self, x: int, y: int, *, must: bool = False) -> bool:
        a, b = self.find(x), self.find(y)
        if a == b:
            return True
        if self.lock[a] is not None and self.lock[b] is not None and self.lock[a] != self.lock[b]:
            return False
        if self._clash(a, b, self.hard) or (not must and self._clash(a, b, self.soft)):
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
    locks: dict[int, int] | None = None,
) -> dict[int, int]:
    """Join nodes along ``edges`` (probability, a, b), most probable first, refusing conflicting joins.

    ``hard`` pairs (reviewers' decisions) are never joined; ``soft`` pairs (conflicting
    features) are not joined except along an edge of probability ``MUST``. Nodes with
    different ``locks`` (existing people) are never joined. Returns node -> group root.
    """
    groups = Groups(nodes, locks)
    groups.add_conflicts(hard, hard=True)
    groups.add_conflicts(soft)
    for p, a, b in sorted(edges, key=lambda e: (-e[0], min(e[1], e[2]), max(e[1], e[2]))):
        groups.join(a, b, must=p >= MUST)
    return groups.roots()
