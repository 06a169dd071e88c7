"""Demand made visible: contacts ranked per household, person or address, across agencies.

Reads only, scoped to the user: a user counts the contacts of agencies whose records they may
see at summary level or above (their own agency, and others under an agreement in force);
analysts count every agency but see no names. The command line counts everything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Count, IntegerField, Max, Min, Q, QuerySet, Sum, Value, When
from django.utils import timezone

from onecase.accounts.models import Agency, Role
from onecase.accounts.rules import is_staff_member, sees_people
from onecase.audit.models import AuditEvent
from onecase.audit.services import audit_record, disclosures_record
from onecase.contacts.models import Contact, DemandClass, DemandCount, DemandDay, DemandTotal, NeedCategory
from onecase.costs.models import UnitCost
from onecase.costs.selectors import cost_by, unit_cost_map
from onecase.people.models import Address, Household
from onecase.sharing.models import DataCategory, Tier
from onecase.sharing.rules import disclosure_for
from onecase.sharing.selectors import identity_remembered, known_addresses, known_households, person_names

KEYS = {"household": "household_id", "person": "person_id", "address": "address_id"}
NOT_NAMED = {"household": "Address not recorded", "person": "Name not recorded", "address": "Address not recorded"}
ASB_WORDS = ("asb",)


@dataclass(frozen=True)
class DemandThresholds:
    """Flag thresholds, from settings ONECASE_DEMAND_FLAGS."""

    owner_agencies: int = 3
    owner_contacts: int = 5
    owner_days: int = 90
    asb_reports: int = 3
    asb_days: int = 30
    rising_days: int = 90
    rising_ratio: float = 1.5
    rising_minimum: int = 6


def thresholds() -> DemandThresholds:
    return DemandThresholds(**getattr(settings, "ONECASE_DEMAND_FLAGS", {}))


@dataclass(frozen=True)
class DemandScope:
    """Which agencies' contacts a user counts, and whether they see names."""

    agency_ids: frozenset[int] | None  # None: every agency
    names: bool


def demand_scope(user) -> DemandScope:
    """The command line (user None) and the partnership count everything, with names."""
    return _scope_and_disclosures(user)[0]


def _scope_and_disclosures(user) -> tuple[DemandScope, dict[int, object]]:
    """``demand_scope``, and the disclosure of each agency's contacts to ``user`` that decided it
    (empty where no agency's disclosure was asked)."""
    if user is None:
        return DemandScope(None, True), {}
    if not is_staff_member(user):
        return DemandScope(frozenset(), False), {}
    if user.role == Role.ANALYST:
        return DemandScope(None, False), {}
    if not sees_people(user):
        return DemandScope(frozenset(), False), {}
    disclosures = {
        agency_id: disclosure_for(user, agency_id, category=DataCategory.CONTACTS)
        for agency_id in Agency.objects.values_list("pk", flat=True)
    }
    counted = frozenset(agency_id for agency_id, found in disclosures.items() if found.tier >= Tier.SUMMARY)
    return DemandScope(counted, True), disclosures


def ledger_for(scope: DemandScope, *, subjects: bool = False) -> QuerySet[Contact]:
    """The contacts ``scope`` counts. With ``subjects`` (for reading a few households, people or
    addresses by their own index) the agencies are tested as an expression no index serves: given
    ``agency_id IN (...)``, SQLite's planner reads every contact of each counted agency instead."""
    contacts = Contact.objects.all()
    if scope.agency_ids is not None and subjects:
        counted = Case(When(agency_id__in=sorted(scope.agency_ids), then=Value(1)), default=Value(0),
                       output_field=IntegerField())
        contacts = contacts.alias(counted=counted).filter(counted=1)
    elif scope.agency_ids is not None:
        contacts = contacts.filter(agency_id__in=scope.agency_ids)
    return contacts


def demand_ranking(
    user,
    *,
    by: str = "household",
    top: int = 20,
    since: dt.date | None = None,
    until: dt.date | None = None,
    order: str = "contacts",
    now: dt.datetime | None = None,
) -> list[dict]:
    """The ``top`` households, people or addresses by contacts (or by cost), with their detail.

    ``since`` and ``until`` are inclusive dates (UK). Each row has the id that export_links
    uses, a label, counts per agency, first and last contact, cost, failure share, the cost of its
    failure-demand contacts and flags.
    Over the whole ledger the order comes from the demand counts; for a period, from the ledger.
    """
    return _demand_ranking(user, demand_scope(user), by=by, top=top, since=since, until=until, order=order,
                           now=now)


def _demand_ranking(
    user,
    scope: DemandScope,
    *,
    by: str = "household",
    top: int = 20,
    since: dt.date | None = None,
    until: dt.date | None = None,
    order: str = "contacts",
    now: dt.datetime | None = None,
) -> list[dict]:
    if by not in KEYS:
        raise ValueError(f"by must be one of {', '.join(KEYS)}")
    key = KEYS[by]
    bounded = bool(since) or bool(until and until < dt.date.max)
    contacts, of_subjects = (ledger_for(scope, subjects=by_subject).filter(**{f"{key}__isnull": False})
                             for by_subject in (False, True))
    if since:
        contacts, of_subjects = (c.filter(occurred_at__gte=_start_of(since)) for c in (contacts, of_subjects))
    if until and until < dt.date.max:
        contacts, of_subjects = (c.filter(occurred_at__lt=_start_of(until + dt.timedelta(days=1)))
                                 for c in (contacts, of_subjects))

    if bounded:
        ids = _ranked_in_ledger(contacts, key, top, order)
    else:
        ids = _ranked_by_counts(by, scope.agency_ids, top, order)
    # Flags look back from the end of the period asked for, or from now.
    as_at = now or timezone.now()
    if now is None and until and until < dt.date.max:
        as_at = min(_start_of(until + dt.timedelta(days=1)), as_at)
    # The detail of the ranked few, read from the ledger by their index.
    rows, by_agency, costs, failure_costs, flags = _ranked_detail(of_subjects, key, ids, as_at, thresholds())
    labels = subject_labels(user, by, ids, names=scope.names)
    key_workers = _key_workers(by, ids)
    for subject in key_workers:
        # A live case owns it: it no longer needs an owner.
        flags[subject] = [f for f in flags.get(subject, []) if f != "needs_owner"]
    return [
        {
            f"{by}_id": r[key],
            "label": labels.get(r[key], NOT_NAMED[by] if scope.names else f"{by.title()} {r[key]}"),
            "contacts_total": r["total"],
            "contacts_by_agency": dict(sorted(by_agency[r[key]].items())),
            "distinct_agencies": r["agencies"],
            "first_contact": timezone.localtime(r["first"]).isoformat(),
            "last_contact": timezone.localtime(r["last"]).isoformat(),
            "cost_gbp": str(costs.get(r[key], Decimal("0.00"))),
            "failure_demand_share": round(r["failures"] / r["total"], 4) if r["total"] else 0.0,
            "failure_cost_gbp": str(failure_costs.get(r[key], Decimal("0.00"))),
            "key_worker": key_workers.get(r[key]),
            "flags": flags.get(r[key], []),
        }
        for r in rows
    ]


@identity_remembered()
def demand_search(user, *, ip=None, export: bool = False, api: bool = False, **ranking) -> list[dict]:
    """``demand_ranking``, recording the search (or export) and, in the same transaction, each
    other agency's figures disclosed about each household, person or address ranked."""
    scope, disclosures = _scope_and_disclosures(user)
    rows = _demand_ranking(user, scope, **ranking)
    by = ranking.get("by", "household")
    codes = dict(Agency.objects.values_list("code", "pk"))
    shown = []
    if scope.names:
        for row in rows:
            for code in row["contacts_by_agency"]:
                agency_id = codes[code]
                if agency_id == getattr(user, "agency_id", None):
                    continue
                if agency_id not in disclosures:
                    disclosures[agency_id] = disclosure_for(user, agency_id, category=DataCategory.CONTACTS)
                shown.append((by, row[f"{by}_id"], agency_id, disclosures[agency_id]))
    with transaction.atomic():
        audit_record(user=user, action=AuditEvent.Action.EXPORT if export else AuditEvent.Action.SEARCH,
                     object_type="demand", ip=ip, detail={"by": by, "rows": len(rows), "api": api})
        disclosures_record(user=user, disclosures=shown, purpose="demand ranking", ip=ip)
    return rows


def _ranked_in_ledger(contacts: QuerySet[Contact], key: str, top: int, order: str) -> list[int]:
    """The ``top`` ids by contacts (or cost, then contacts), then id, counted in the ledger itself."""
    grouped = contacts.order_by().values(key).annotate(total=Count("pk"))
    if order == "cost":
        costs = cost_by(contacts, key)
        ranked = sorted(grouped, key=lambda r: (-costs.get(r[key], Decimal(0)), -r["total"], r[key]))[:top]
    else:
        ranked = grouped.order_by("-total", key)[:top]
    return [r[key] for r in ranked]


def _ranked_by_counts(by: str, agency_ids: frozenset[int] | None, top: int, order: str) -> list[int]:
    """``_ranked_in_ledger`` over the whole ledger, read from the demand counts (kept by triggers).

    Every agency: the totals, in index order. Some agencies: their counts, summed. By cost:
    Σ contacts × unit cost in whole pence, as ``cost_by`` sums it.
    """
    if agency_ids is not None and not agency_ids:
        return []
    if order != "cost" and agency_ids is None:
        totals = DemandTotal.objects.filter(kind=by).order_by("-contacts", "subject_id")
        return list(totals.values_list("subject_id", flat=True)[:top])
    if order != "cost":
        found = _ranked_from_totals(by, agency_ids, top)
        if found is not None:
            return found
    params: list = [by]
    where = ""
    if agency_ids is not None:
        where = f" AND d.agency_id IN ({', '.join(['%s'] * len(agency_ids))})"
        params += sorted(agency_ids)
    if order == "cost":
        pence = "COALESCE(SUM(d.contacts * CAST(ROUND(u.unit_cost_gbp * 100) AS BIGINT)), 0)"
        join = (f" LEFT JOIN {UnitCost._meta.db_table} u"
                " ON u.agency_id = d.agency_id AND u.contact_type = d.contact_type")
        ordering = "2 DESC, 3 DESC, 1"
    else:
        pence, join, ordering = "0", "", "3 DESC, 1"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT d.subject_id, {pence}, SUM(d.contacts) FROM {DemandCount._meta.db_table} d{join} "  # noqa: S608
            f"WHERE d.kind = %s{where} GROUP BY d.subject_id ORDER BY {ordering} LIMIT %s",
            [*params, top],
        )
        return [subject for subject, _, _ in cursor.fetchall()]


FIRST_READ = 100  # subjects whose totals are read first, doubling each time
MOST_READ = 6400  # subjects read before summing every count instead


def _ranked_from_totals(by: str, agency_ids: frozenset[int], top: int) -> list[int] | None:
    """The ``top`` subjects by their contacts at ``agency_ids`` (then id), found from the busiest down.

    A subject's contacts at some agencies are at most its total, so once the ``top``-th best sum
    found is more than the total of the last subject read, no subject not yet read can rank: the
    answer then costs a few hundred rows, however large the ledger. None when that takes more than
    ``MOST_READ`` subjects (agencies that hold little of the busiest subjects' demand).
    """
    totals = DemandTotal.objects.filter(kind=by).order_by("-contacts", "subject_id").values_list(
        "subject_id", "contacts")
    if top <= 0:
        return []
    counted: dict[int, int] = {}
    read, size = 0, FIRST_READ
    while read < MOST_READ:
        size = min(size, MOST_READ - read)
        batch = list(totals[read:read + size])
        if batch:
            counts = (DemandCount.objects.filter(kind=by, subject_id__in=[s for s, _ in batch],
                                                 agency_id__in=sorted(agency_ids))
                      .order_by().values("subject_id").annotate(n=Sum("contacts")).values_list("subject_id", "n"))
            counted.update((subject, n) for subject, n in counts if n > 0)
        ranked = sorted(counted.items(), key=lambda item: (-item[1], item[0]))[:top]
        if len(batch) < size or (len(ranked) == top and ranked[-1][1] > batch[-1][1]):
            return [subject for subject, _ in ranked]  # every subject read, or none left can rank
        read += size
        size *= 2
    return None


def _ranked_detail(contacts: QuerySet[Contact], key: str, ids: list[int], now: dt.datetime, t: DemandThresholds):
    """For the ranked ``ids``: their rows (total, first, last, failures, agencies), contacts per agency
    code, cost, failure cost and flags, as ``subject_flags`` and ``cost_by`` give them, from one query
    grouped by subject, agency and contact type (and one more for the ASB trigger's dates, if any)."""
    if not ids:
        return [], {}, {}, {}, {}
    owner_since = now - dt.timedelta(days=t.owner_days)
    span = dt.timedelta(days=t.rising_days)
    groups = (
        contacts.filter(**{f"{key}__in": ids})
        .order_by()
        .values(key, "agency_id", "contact_type")
        .annotate(
            n=Count("pk"),
            first=Min("occurred_at"),
            last=Max("occurred_at"),
            failures=Count("pk", filter=Q(demand_class=DemandClass.FAILURE)),
            owner=Count("pk", filter=Q(occurred_at__gte=owner_since, occurred_at__lte=now)),
            latest=Count("pk", filter=Q(occurred_at__gte=now - span, occurred_at__lte=now)),
            before=Count("pk", filter=Q(occurred_at__gte=now - 2 * span, occurred_at__lt=now - span)),
            asb=Count("pk", filter=_asb_q(by_subquery=True) & Q(occurred_at__lte=now)),
        )
    )
    prices = {(agency_id, contact_type): int((unit * 100).to_integral_value(ROUND_HALF_UP))
              for (agency_id, contact_type), unit in unit_cost_map().items()}
    codes = dict(Agency.objects.values_list("pk", "code"))
    detail = {i: {key: i, "total": 0, "first": None, "last": None, "failures": 0, "agencies": 0} for i in ids}
    by_agency: dict[int, dict[str, int]] = {i: {} for i in ids}
    pence: dict[int, int] = {}
    failure_pence: dict[int, int] = {}
    owner: dict[int, tuple[int, set[int]]] = {}
    asb: dict[int, int] = {}
    rising: dict[int, list[int]] = {}
    for g in groups:
        subject, agency_id = g[key], g["agency_id"]
        row = detail[subject]
        row["total"] += g["n"]
        row["failures"] += g["failures"]
        row["first"] = g["first"] if row["first"] is None else min(row["first"], g["first"])
        row["last"] = g["last"] if row["last"] is None else max(row["last"], g["last"])
        code = codes[agency_id]
        by_agency[subject][code] = by_agency[subject].get(code, 0) + g["n"]
        unit = prices.get((agency_id, g["contact_type"]))
        if unit is not None:  # as cost_by: a subject none of whose contacts has a unit cost is left out
            pence[subject] = pence.get(subject, 0) + g["n"] * unit
            if g["failures"]:
                failure_pence[subject] = failure_pence.get(subject, 0) + g["failures"] * unit
        if g["owner"]:
            n, agencies = owner.setdefault(subject, (0, set()))
            owner[subject] = (n + g["owner"], agencies | {agency_id})
        asb[subject] = asb.get(subject, 0) + g["asb"]
        if g["latest"] or g["before"]:
            counts = rising.setdefault(subject, [0, 0])
            counts[0] += g["latest"]
            counts[1] += g["before"]
    for subject, agencies in by_agency.items():
        detail[subject]["agencies"] = len(agencies)

    flags: dict[int, list[str]] = {i: [] for i in ids}
    for subject, (n, agencies) in owner.items():
        if len(agencies) >= t.owner_agencies and n >= t.owner_contacts:
            flags[subject].append("needs_owner")
    # Only a subject with enough ASB reports in all can have enough within the window.
    reported = [i for i in ids if asb.get(i, 0) >= t.asb_reports] if t.asb_reports >= 1 else ids
    _asb_flags(contacts, key, reported, now, t, flags)
    for subject, (latest, before) in rising.items():
        if latest >= t.rising_minimum and latest >= t.rising_ratio * max(before, 1):
            flags[subject].append("rising_demand")

    def money(found: dict[int, int]) -> dict[int, Decimal]:
        return {subject: (Decimal(p) / 100).quantize(Decimal("0.01")) for subject, p in found.items()}

    return [detail[i] for i in ids], by_agency, money(pence), money(failure_pence), flags


# Cases builds on contacts, not the reverse: on start it names here where key workers come from
# (cases.apps sets cases.selectors.key_workers_for).
_key_worker_source: Callable[[str, list[int]], dict[int, str]] | None = None


def key_workers_from(source: Callable[[str, list[int]], dict[int, str]] | None) -> None:
    """Take the ranking's key workers from ``source(by, ids)``: {subject id: username} for each owned
    subject, by the one rule of ownership (``cases.selectors.owning_cases``)."""
    global _key_worker_source
    _key_worker_source = source


def _key_workers(by: str, ids: list[int]) -> dict[int, str]:
    """{subject id: username} of the key worker of the live case owning each household, person or
    address: one on it, on its household or on one of its people."""
    return _key_worker_source(by, ids) if _key_worker_source is not None else {}


EARLIEST = dt.date(1900, 1, 1)  # nothing in the ledger is older; keeps time-zone arithmetic in range


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(max(day, EARLIEST), dt.time()))


def subject_labels(user, by: str, ids: list[int], *, names: bool = True) -> dict[int, str]:
    """{id: label} for the subjects among ``ids`` that ``user`` may identify (None: the command line):
    a household's or address's address, a person's best name. {} without names."""
    if not names or not ids:
        return {}
    if by == "household":
        households = Household.objects.filter(pk__in=known_households(user, ids)).select_related("address")
        return {h.pk: h.address.label for h in households}
    if by == "address":
        return {a.pk: a.label for a in Address.objects.filter(pk__in=known_addresses(user, ids))}
    return person_names(user, ids)


def subject_flags(contacts: QuerySet[Contact], key: str, ids: list[int], now: dt.datetime, t: DemandThresholds):
    """needs_owner, asb_trigger and rising_demand for each id (ownership is applied by the caller)."""
    if not ids:
        return {}
    recent = contacts.filter(**{f"{key}__in": ids})
    owner_since = now - dt.timedelta(days=t.owner_days)
    flags: dict[int, list[str]] = {i: [] for i in ids}
    for row in (
        recent.filter(occurred_at__gte=owner_since, occurred_at__lte=now)
        .order_by()
        .values(key)
        .annotate(n=Count("pk"), agencies=Count("agency_id", distinct=True))
    ):
        if row["agencies"] >= t.owner_agencies and row["n"] >= t.owner_contacts:
            flags[row[key]].append("needs_owner")
    _asb_flags(recent, key, ids, now, t, flags)
    span = dt.timedelta(days=t.rising_days)
    for row in (
        recent.filter(occurred_at__gte=now - 2 * span, occurred_at__lte=now)
        .order_by()
        .values(key)
        .annotate(
            latest=Count("pk", filter=Q(occurred_at__gte=now - span)),
            before=Count("pk", filter=Q(occurred_at__lt=now - span)),
        )
    ):
        if row["latest"] >= t.rising_minimum and row["latest"] >= t.rising_ratio * max(row["before"], 1):
            flags[row[key]].append("rising_demand")
    return flags


def _asb_q(*, by_subquery: bool = False) -> Q:
    """An ASB report: its type names ASB, or its need is crime and ASB. ``by_subquery`` tests the need
    without joining its category (for a grouped query)."""
    asb = Q()
    for word in ASB_WORDS:
        asb |= Q(contact_type__icontains=word)
    if by_subquery:
        return asb | Q(need_category_id__in=NeedCategory.objects.filter(code="crime_asb").values("pk"))
    return asb | Q(need_category__code="crime_asb")


def _asb_flags(contacts: QuerySet[Contact], key: str, ids: list[int], now: dt.datetime, t: DemandThresholds,
               flags: dict[int, list[str]]) -> None:
    """Adds asb_trigger to ``flags`` for each of ``ids`` with ``t.asb_reports`` ASB reports within
    ``t.asb_days``, up to ``now``."""
    if not ids:
        return
    times: dict[int, list[dt.datetime]] = {}
    for subject, at in contacts.filter(_asb_q(), **{f"{key}__in": ids}, occurred_at__lte=now).order_by(
        key, "occurred_at"
    ).values_list(key, "occurred_at"):
        times.setdefault(subject, []).append(at)
    window = dt.timedelta(days=t.asb_days)
    for subject, stamps in times.items():
        if any(stamps[i + t.asb_reports - 1] - stamps[i] <= window for i in range(len(stamps) - t.asb_reports + 1)):
            flags[subject].append("asb_trigger")


def month_list(end: dt.date, months: int) -> list[str]:
    """``months`` month labels "YYYY-MM" ending with ``end``'s month."""
    year, month = end.year, end.month
    out = []
    for _ in range(months):
        out.append(f"{year:04d}-{month:02d}")
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return out[::-1]


def monthly_counts(user, *, by: str, ids: list[int], months: list[str]) -> dict[int, list[int]]:
    """Contacts per month for each id, over ``months`` ("YYYY-MM"), counted as the ranking counts."""
    key = KEYS[by]
    if not ids or not months:
        return {i: [] for i in ids}
    starts = _month_starts(months)
    # Each contact's month by comparing with the months' starts: no time-zone conversion per row.
    month = Case(*(When(occurred_at__lt=end, then=Value(n)) for n, end in enumerate(starts[1:])),
                 default=Value(-1), output_field=IntegerField())
    rows = (
        ledger_for(demand_scope(user), subjects=True)
        .filter(**{f"{key}__in": ids}, occurred_at__gte=starts[0])
        .annotate(month=month)
        .order_by()
        .values(key, "month")
        .annotate(n=Count("pk"))
    )
    series = {i: [0] * len(months) for i in ids}
    for row in rows:
        if row["month"] >= 0:
            series[row[key]][row["month"]] = row["n"]
    return series


def _month_starts(months: list[str]) -> list[dt.datetime]:
    """The start (UK midnight) of each of ``months``, and of the month after the last."""
    starts = [_start_of(dt.date.fromisoformat(month + "-01")) for month in months]
    last = dt.date.fromisoformat(months[-1] + "-01")
    return [*starts, _start_of((last + dt.timedelta(days=31)).replace(day=1))]


def partnership_monthly(user, *, months: list[str]) -> list[tuple[str, int]]:
    """All counted contacts per month, for the dashboard's trend chart.

    Read from the contacts per agency and UTC day (``DemandDay``, kept by triggers), so its cost does
    not grow with the ledger: a month runs from local midnight to local midnight, so the few hours
    between each month's start and the nearest UTC midnight are counted in the ledger, by index.
    """
    if not months:
        return []
    scope = demand_scope(user)
    if scope.agency_ids is not None and not scope.agency_ids:
        return [(month, 0) for month in months]
    starts = _month_starts(months)
    days = DemandDay.objects.all()
    if scope.agency_ids is not None:
        days = days.filter(agency_id__in=sorted(scope.agency_ids))
    midnights = [_nearest_utc_midnight(start) for start in starts]
    per_day = dict(days.filter(day__gte=midnights[0].date(), day__lt=midnights[-1].date())
                   .order_by().values("day").annotate(n=Sum("contacts")).values_list("day", "n"))
    edges = _edges(scope, starts, midnights)
    counts = []
    for i, month in enumerate(months):
        first, after = midnights[i].date(), midnights[i + 1].date()
        n = sum(v for day, v in per_day.items() if first <= day < after)
        counts.append((month, n + edges[i] - edges[i + 1]))
    return counts


def _edges(scope: DemandScope, starts: list[dt.datetime], midnights: list[dt.datetime]) -> list[int]:
    """For each month's start, the counted contacts from it to its nearest UTC midnight: negative
    when the midnight comes first. One query, by the index on ``occurred_at``, over a few hours."""
    edges = [0] * len(starts)
    spans = [(i, min(a, b), max(a, b), 1 if a < b else -1)
             for i, (a, b) in enumerate(zip(starts, midnights, strict=True)) if a != b]
    if not spans:
        return edges
    within = Q()
    for _, low, high, _ in spans:
        within |= Q(occurred_at__gte=low, occurred_at__lt=high)
    # Agencies are checked here: with them in the query the planner reads every contact of each agency.
    for agency_id, at in Contact.objects.filter(within).values_list("agency_id", "occurred_at"):
        if scope.agency_ids is None or agency_id in scope.agency_ids:
            for i, low, high, sign in spans:
                if low <= at < high:
                    edges[i] += sign
    return edges


def _nearest_utc_midnight(at: dt.datetime) -> dt.datetime:
    midnight = at.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + dt.timedelta(days=1) if at - midnight > dt.timedelta(hours=12) else midnight

