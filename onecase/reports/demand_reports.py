"""Partnership demand reports: failure-demand share per agency and per month, and the most
frequent demands in context. Aggregates over the contacts a user may count (``demand_scope``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Min, Q
from django.db.models.functions import TruncMonth
from django.utils import timezone

from onecase.accounts.models import Agency
from onecase.audit.models import AuditEvent
from onecase.audit.services import audit_record
from onecase.contacts.demand import demand_scope, ledger_for
from onecase.contacts.models import DemandClass, NeedCategory
from onecase.contacts.services import failure_window
from onecase.costs.selectors import cost_of_counts, unit_cost_map

# A presenting need is listed in the citizen's words only when this many different people used
# them (small-number suppression), so a phrase that could identify someone never appears, however
# often one person said it.
MIN_PHRASE_COUNT = 5
ZERO = Decimal("0.00")


@dataclass
class ShareRow:
    label: str
    contacts: int
    failures: int
    less_history: bool = False  # a month with less than a whole repeat window of ledger before it
    failure_cost: Decimal = ZERO  # Σ failure-demand contacts × unit cost
    code: str = ""  # the agency's code, for a row per agency

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


def _failure_counts(user, since, until, by_month: bool = False) -> list[tuple]:
    """([month,] agency id, contact_type, failure-demand contacts), for costing."""
    failures = _counted(user, since, until).filter(demand_class=DemandClass.FAILURE)
    if by_month:
        failures = failures.annotate(month=TruncMonth("occurred_at", tzinfo=timezone.get_current_timezone()))
    groups = ("month",) if by_month else ()
    return list(failures.values_list(*groups, "agency_id", "contact_type").annotate(n=Count("pk")).order_by())


def _month(value) -> str:
    return f"{value:%Y-%m}"


def failure_share_by_agency(user, *, since=None, until=None) -> list[ShareRow]:
    """Contacts, failure-demand contacts, their share and their cost, per agency the user may count."""
    rows = (
        _counted(user, since, until)
        .values("agency_id")
        .annotate(n=Count("pk"), failures=Count("pk", filter=Q(demand_class=DemandClass.FAILURE)))
    )
    costs = cost_of_counts((a, a, t, n) for a, t, n in _failure_counts(user, since, until))
    agencies = {a.pk: a for a in Agency.objects.all()}
    result = [ShareRow(agencies[r["agency_id"]].name, r["n"], r["failures"],
                       failure_cost=costs.get(r["agency_id"], ZERO), code=agencies[r["agency_id"]].code)
              for r in rows]
    return sorted(result, key=lambda r: (-r.share, r.label))


@dataclass(frozen=True)
class FailureCostRow:
    """One agency in one month: failure-demand contacts and their cost."""

    month: str
    agency: str
    code: str
    failures: int
    cost: Decimal


def failure_cost_by_agency_and_month(user, *, since=None, until=None) -> list[FailureCostRow]:
    """Failure-demand contacts and their cost (contacts × unit cost) per agency and calendar month (UK),
    oldest month first, agencies by name."""
    counts = _failure_counts(user, since, until, by_month=True)
    costs = cost_of_counts(((_month(m), a), a, t, n) for m, a, t, n in counts)
    failures: Counter = Counter()
    for month, agency_id, _, n in counts:
        failures[(_month(month), agency_id)] += n
    agencies = {a.pk: a for a in Agency.objects.all()}
    rows = [FailureCostRow(month, agencies[a].name, agencies[a].code, n, costs[(month, a)])
            for (month, a), n in failures.items()]
    return sorted(rows, key=lambda r: (r.month, r.agency))


def unpriced_failures(user, *, since=None, until=None) -> int:
    """Failure-demand contacts of a type with no unit cost: they add nothing to the cost."""
    prices = unit_cost_map()
    return sum(n for agency_id, contact_type, n in _failure_counts(user, since, until)
               if (agency_id, contact_type) not in prices)


@dataclass(frozen=True)
class RepeatHistory:
    """How far back a repeat can be found: the repeat window, and the day of the first contact counted
    (None when there is none)."""

    window_days: int
    first: dt.date | None

    @property
    def full_from(self) -> dt.date | None:
        """The first day with a whole repeat window of the ledger before it."""
        return self.first + dt.timedelta(days=self.window_days) if self.first else None

    def short(self, month: str) -> bool:
        """Whether the month "YYYY-MM" starts before a whole window of history, so its share is understated."""
        return self.full_from is not None and dt.date.fromisoformat(f"{month}-01") < self.full_from


def repeat_history(user) -> RepeatHistory:
    """The repeat window, and when the contacts ``user`` counts first have a whole window before them."""
    window = failure_window()
    first = ledger_for(demand_scope(user)).aggregate(first=Min("occurred_at"))["first"]
    return RepeatHistory(window.days, timezone.localdate(first) if first else None)


def failure_share_by_month(user, *, since=None, until=None) -> list[ShareRow]:
    """The same (with the cost) per calendar month (UK time), oldest first, each marked when it has less history
    than a whole repeat window (its share is then understated)."""
    history = repeat_history(user)
    rows = (
        _counted(user, since, until)
        .annotate(month=TruncMonth("occurred_at", tzinfo=timezone.get_current_timezone()))
        .values("month")
        .annotate(n=Count("pk"), failures=Count("pk", filter=Q(demand_class=DemandClass.FAILURE)))
        .order_by("month")
    )
    costs = cost_of_counts((_month(m), a, t, n) for m, a, t, n in _failure_counts(user, since, until, by_month=True))
    return [ShareRow(_month(r["month"]), r["n"], r["failures"], history.short(_month(r["month"])),
                     failure_cost=costs.get(_month(r["month"]), ZERO))
            for r in rows]


@dataclass
class ContextRow:
    label: str
    total: int
    by_agency: dict[str, int]


@dataclass
class DemandsInContext:
    """Need categories count contacts; phrases count different people (small numbers left out)."""

    agencies: list[str]
    categories: list[ContextRow]
    phrases: list[ContextRow]


def _phrase(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower().replace("’", "'")).rstrip(".!")


def _phrase_rows(contacts, codes: dict[int, str]) -> list[ContextRow]:
    """The phrases used by at least MIN_PHRASE_COUNT different people, with people per agency.

    A person is the linked person, or the agency's own record where linkage has not found one;
    however many contacts one person made, they count once. A phrase with fewer contacts than
    the minimum cannot reach it, so only the people behind the others are read.
    """
    used = contacts.exclude(presenting_need="")
    wording: dict[str, str] = {}
    contacts_per_phrase: Counter = Counter()
    for text, n in used.values_list("presenting_need").annotate(n=Count("pk")).iterator():
        wording[text] = _phrase(text)
        contacts_per_phrase[wording[text]] += n
    frequent = {phrase for phrase, n in contacts_per_phrase.items() if n >= MIN_PHRASE_COUNT}
    people: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    for text, agency_id, person_id, agency_person_id in (
        used.values_list("presenting_need", "agency_id", "person_id", "agency_person_id").distinct().iterator()
    ):
        if wording.get(text) in frequent:
            who = ("person", person_id) if person_id is not None else ("agency person", agency_person_id)
            people[wording[text]][codes[agency_id]].add(who)
    rows = []
    for phrase, by_agency in people.items():
        total = len(set().union(*by_agency.values()))
        if total >= MIN_PHRASE_COUNT:
            # An agency's own figure is left out below the minimum too, so it cannot single anyone out.
            rows.append(ContextRow(phrase, total, {code: len(who) for code, who in sorted(by_agency.items())
                                                   if len(who) >= MIN_PHRASE_COUNT}))
    return rows


def demands_in_context(user, *, since=None, until=None, top: int = 25) -> DemandsInContext:
    """What people ask for, per agency: contacts by need category, and the most frequent presenting
    needs in people's own words counted as different people, each used by at least MIN_PHRASE_COUNT."""
    contacts = _counted(user, since, until)
    codes = dict(Agency.objects.values_list("pk", "code"))
    names = dict(NeedCategory.objects.values_list("pk", "name"))
    categories: dict[str, Counter] = defaultdict(Counter)
    for row in contacts.values("need_category_id", "agency_id").annotate(n=Count("pk")):
        label = names.get(row["need_category_id"], "Not yet categorised")
        categories[label][codes[row["agency_id"]]] += row["n"]
    category_rows = [ContextRow(k, sum(c.values()), dict(sorted(c.items()))) for k, c in categories.items()]
    phrase_rows = _phrase_rows(contacts, codes)

    def top_rows(found: list[ContextRow]) -> list[ContextRow]:
        return sorted(found, key=lambda r: (-r.total, r.label))[:top]

    category_rows, phrase_rows = top_rows(category_rows), top_rows(phrase_rows)
    agencies = sorted({code for r in category_rows + phrase_rows for code in r.by_agency})
    return DemandsInContext(agencies=agencies, categories=category_rows, phrases=phrase_rows)


# Reads that record themselves (aggregates: counts only in the audit detail).


@dataclass
class FailureDemandReport:
    """Failure demand per agency, per month and per agency and month, with its cost."""

    agencies: list[ShareRow]
    months: list[ShareRow]
    agency_months: list[FailureCostRow]
    unpriced: int  # failure-demand contacts of a type with no unit cost

    @property
    def cost(self) -> Decimal:
        return sum((r.failure_cost for r in self.agencies), ZERO)


def failure_demand_read(user, *, ip=None, since=None, until=None, api: bool = False) -> FailureDemandReport:
    """Failure-demand share and cost per agency, per month and per agency and month, recording the search."""
    report = FailureDemandReport(
        failure_share_by_agency(user, since=since, until=until),
        failure_share_by_month(user, since=since, until=until),
        failure_cost_by_agency_and_month(user, since=since, until=until),
        unpriced_failures(user, since=since, until=until),
    )
    audit_record(user=user, action=AuditEvent.Action.SEARCH, object_type="failure_demand", ip=ip,
                 detail={"agencies": len(report.agencies), "months": len(report.months), "api": api})
    return report


EXPORTS = {"agency": failure_share_by_agency, "month": failure_share_by_month,
           "agency-month": failure_cost_by_agency_and_month}


def failure_demand_export(user, *, by: str, ip=None, since=None, until=None) -> list:
    """Failure demand per agency, per month or per agency and month (``EXPORTS``), recording the export."""
    rows = EXPORTS[by](user, since=since, until=until)
    audit_record(user=user, action=AuditEvent.Action.EXPORT, object_type="failure_demand", ip=ip,
                 detail={"by": by, "rows": len(rows)})
    return rows


def demands_in_context_read(user, *, ip=None, export: bool = False, since=None, until=None) -> DemandsInContext:
    """``demands_in_context``, recording the search or export."""
    report = demands_in_context(user, since=since, until=until)
    audit_record(user=user, action=AuditEvent.Action.EXPORT if export else AuditEvent.Action.SEARCH,
                 object_type="demands_in_context", ip=ip,
                 detail={"categories": len(report.categories), "phrases": len(report.phrases)})
    return report
