"""Which household, person and case pages a viewer may open, so that no page links to a refusal."""

from collections import defaultdict

from onecase.cases.selectors import cases_visible_to
from onecase.contacts.rules import may_view_profiles
from onecase.sharing.selectors import known_households, known_people


def openable(user, pairs) -> set[tuple[str, int]]:
    """The ("household" | "person", id) pairs among ``pairs`` whose profile ``user`` may open: a role
    that sees profiles, and a subject the identity rule lets them identify (others answer 404)."""
    if not may_view_profiles(user):
        return set()
    by_kind: dict[str, set[int]] = defaultdict(set)
    for kind, pk in pairs:
        if kind in ("household", "person") and pk is not None:
            by_kind[kind].add(pk)
    found = set()
    for kind, ids in by_kind.items():
        known = known_households(user, ids) if kind == "household" else known_people(user, ids)
        found |= {(kind, pk) for pk in known}
    return found


def visible_case_ids(user, ids) -> set[int]:
    """The cases among ``ids`` that ``user`` may open (``cases.selectors.case_for`` answers 404 to the rest)."""
    if not ids:
        return set()
    return set(cases_visible_to(user).filter(pk__in=sorted(ids)).values_list("pk", flat=True))
