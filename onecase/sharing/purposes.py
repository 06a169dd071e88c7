"""Why a user is looking at a person's records: the purposes a disclosure may rely on.

An agreement raises a tier only for a purpose it lists. Everyone who sees people works for the
partnership's everyday purpose: finding the people and families who need a key worker. Work
recorded above this app carries more: a case its key work, a pull-in grant its own purpose, a
meeting the purpose of its type. Those apps register a source here (in their ``ready``), so
``sharing`` never imports them.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable

from onecase.sharing.models import Purpose

EVERYDAY = {Purpose.FINDING_FAMILIES.value: "everyday work"}

# Each source: (user, person ids or None for all) -> (person id, purpose code, where it comes from).
PurposeSource = Callable[[object, list[int] | None], Iterable[tuple[int, str, str]]]
_sources: list[PurposeSource] = []


def purpose_source(source: PurposeSource) -> PurposeSource:
    """Register a source of the purposes ``user``'s recorded work carries for people."""
    if source not in _sources:
        _sources.append(source)
    return source


def work_purposes(user, person_ids: list[int] | None = None) -> dict[int, dict[str, str]]:
    """{person id: {purpose: where it comes from}} for the people ``user``'s cases, pull-ins and
    meetings are about (among ``person_ids``, or all of them)."""
    found: dict[int, dict[str, str]] = defaultdict(dict)
    if user is None or not getattr(user, "is_authenticated", False):
        return {}
    for source in _sources:
        for person_id, purpose, where in source(user, person_ids):
            found[person_id].setdefault(purpose, where)
    return dict(found)


def purposes_for(user, person_ids: list[int]) -> dict[str, str]:
    """{purpose: where it comes from} for work on any of ``person_ids``, the everyday purpose included."""
    purposes = dict(EVERYDAY)
    for found in work_purposes(user, list(person_ids)).values():
        for purpose, where in found.items():
            purposes.setdefault(purpose, where)
    return purposes


def purpose_label(code: str) -> str:
    return Purpose(code).label if code in Purpose.values else code
