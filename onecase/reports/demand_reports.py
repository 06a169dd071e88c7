"""Partnership demand reports: failure-demand share per agency and per month, and the most
frequent demands in context. Aggregates over the contacts a user may count (``demand_scope``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.db.models import Count, Q
from django.db.models.functions import TruncMonth
from django.utils import timezone

from onecase.accounts.models import Agency
from onecase.contacts.demand import demand_scope, ledger_for
from onecase.contacts.models import DemandClass, NeedCategory

# A presenting need is listed in the citizen's words only when this many contacts use them,
# so a phrase that could identify someone never appears.
MIN_PHRASE_COUNT = 5


@dataclass
class ShareRow:
    label: str
    contacts: int
    failures: int

    @property
    def share(self) -> float:
        return self.failures / self.contacts if self.contacts else 0.0


def _counted(user, since: dt.date | None, until: dt.date | None):
    contacts = ledger_for(demand_scope(user))
    if since:
        contacts = contacts.filter(occurred_at__gte=_start(since))
    if until:
        contacts = contacts.filter(occurred_at__lt=_start(until + dt.timedelta(days=1)))
    return contacts.order_by()


def _start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time()))


def failure_share_by_agency(user, *, since=None, until=None) -> list[ShareRow]:
    """Contacts, failure-demand contacts and their share, per agency the user may count."""
    rows = (
        _counted(user, since, until)
        .values("agency_id")
        .annotate(n=Count("pk"), failures=Count("pk", filter=Q(demand_class=DemandClass.FAILURE)))
    )
    names = dict(Agency.objects.values_list("pk", "name"))
    result = [ShareRow(names[r["agency_id"]], r["n"], r["failures"]) for r in rows]
    return sorted(result, key=lambda r: (-r.share, r.label))


def failure_share_by_month(user, *, since=None, until=None) -> list[ShareRow]:
    """The same per calendar month (UK time), oldest first."""
    rows = (
        _counted(user, since, until)
        .annotate(month=TruncMonth("occurred_at", tzinfo=timezone.get_current_timezone()))
        .values("month")
        .annotate(n=Count("pk"), failures=Count("pk", filter=Q(demand_class=DemandClass.FAILURE)))
        .order_by("month")
    )
    return [ShareRow(f"{r['month']:%Y-%m}", r["n"], r["failures"]) for r in rows]


@dataclass
class ContextRow:
    label: str
    total: int
    by_agency: dict[str, int]


@dataclass
class DemandsInContext:
    agencies: list[str]
    categories: list[ContextRow]
    phrases: list[ContextRow]


def _phrase(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower().replace("’", "'")).rstrip(".!")


def demands_in_context(user, *, since=None, until=None, top: int = 25) -> DemandsInContext:
    """What people ask for, by need category and in their own most frequent words, per agency."""
    contacts = _counted(user, since, until)
    codes = dict(Agency.objects.values_list("pk", "code"))
    names = dict(NeedCategory.objects.values_list("pk", "name"))
    categories: dict[str, Counter] = defaultdict(Counter)
    for row in contacts.values("need_category_id", "agency_id").annotate(n=Count("pk")):
        label = names.get(row["need_category_id"], "Not yet categorised")
        categories[label][codes[row["agency_id"]]] += row["n"]
    phrases: dict[str, Counter] = defaultdict(Counter)
    for text, agency_id, n in (
        contacts.exclude(presenting_need="").values("presenting_need", "agency_id").annotate(n=Count("pk"))
        .values_list("presenting_need", "agency_id", "n").iterator()
    ):
        phrases[_phrase(text)][codes[agency_id]] += n

    def rows(counters: dict[str, Counter], minimum: int = 0) -> list[ContextRow]:
        found = [ContextRow(k, sum(c.values()), dict(sorted(c.items()))) for k, c in counters.items()]
        found = [r for r in found if r.total >= minimum]
        return sorted(found, key=lambda r: (-r.total, r.label))[:top]

    category_rows = rows(categories)
    phrase_rows = rows(phrases, MIN_PHRASE_COUNT)
    agencies = sorted({code for r in category_rows + phrase_rows for code in r.by_agency})
    return DemandsInContext(agencies=agencies, categories=category_rows, phrases=phrase_rows)
