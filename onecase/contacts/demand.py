"""Demand made visible: contacts ranked per household, person or address, across agencies.

Reads only, scoped to the user: a user counts the contacts of agencies whose records they may
see at summary level or above (their own agency, and others under an agreement in force);
analysts count every agency but see no names. The command line counts everything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max, Min, Q, QuerySet
from django.utils import timezone

from onecase.accounts.models import Agency, Role
from onecase.accounts.rules import is_staff_member, sees_people
from onecase.audit.models import AuditEvent
from onecase.audit.services import audit_record, disclosures_record
from onecase.contacts.models import Contact, DemandClass, DemandCount, DemandTotal
from onecase.costs.models import UnitCost
from onecase.costs.selectors import cost_by
from onecase.people.models import Address, Household
from onecase.sharing.models import DataCategory, Tier
from onecase.sharing.rules import disclosure_for
from onecase.sharing.selectors import known_addresses, known_households, person_names

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
    if user is None:
        return DemandScope(None, True)
    if not is_staff_member(user):
        return DemandScope(frozenset(), False)
    if user.role == Role.ANALYST:
        return DemandScope(None, False)
    if not sees_people(user):
        return DemandScope(frozenset(), False)
    counted = frozenset(
        agency.pk for agency in Agency.objects.all()
        if disclosure_for(user, agency.pk, category=DataCategory.CONTACTS).tier >= Tier.SUMMARY
    )
    return DemandScope(counted, True)


def ledger_for(scope: DemandScope) -> QuerySet[Contact]:
    contacts = Contact.objects.all()
    if scope.agency_ids is not None:
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
    uses, a label, counts per agency, first and last contact, cost, failure share and flags.
    Over the whole ledger the order comes from the demand counts; for a period, from the ledger.
    """
    if by not in KEYS:
        raise ValueError(f"by must be one of {', '.join(KEYS)}")
    key = KEYS[by]
    scope = demand_scope(user)
    contacts = ledger_for(scope).filter(**{f"{key}__isnull": False})
    bounded = bool(since) or bool(until and until < dt.date.max)
    if since:
        contacts = contacts.filter(occurred_at__gte=_start_of(since))
    if until and until < dt.date.max:
        contacts = contacts.filter(occurred_at__lt=_start_of(until + dt.timedelta(days=1)))

    if bounded:
        ids = _ranked_in_ledger(contacts, key, top, order)
    else:
        ids = _ranked_by_counts(by, scope.agency_ids, top, order)
    # The detail of the ranked few, read from the ledger by index.
    ranked = contacts.filter(**{f"{key}__in": ids})
    detail = {
        row[key]: row
        for row in ranked.order_by().values(key).annotate(
            total=Count("pk"),
            first=Min("occurred_at"),
            last=Max("occurred_at"),
            failures=Count("pk", filter=Q(demand_class=DemandClass.FAILURE)),
            agencies=Count("agency_id", distinct=True),
        )
    }
    rows = [detail[i] for i in ids]
    costs = cost_by(ranked, key) if ids else {}
    by_agency: dict[int, dict[str, int]] = {i: {} for i in ids}
    for row in ranked.order_by().values(key, "agency__code").annotate(n=Count("pk")):
        by_agency[row[key]][row["agency__code"]] = row["n"]
    labels = subject_labels(user, by, ids, names=scope.names)
    key_workers = _key_workers(by, ids)
    # Flags look back from the end of the period asked for, or from now.
    as_at = now or timezone.now()
    if now is None and until and until < dt.date.max:
        as_at = min(_start_of(until + dt.timedelta(days=1)), as_at)
    flags = subject_flags(contacts, key, ids, as_at, thresholds())
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
            "key_worker": key_workers.get(r[key]),
            "flags": flags.get(r[key], []),
        }
        for r in rows
    ]


def demand_search(user, *, ip=None, export: bool = False, api: bool = False, **ranking) -> list[dict]:
    """``demand_ranking``, recording the search (or export) and, in the same transaction, each
    other agency's figures disclosed about each household, person or address ranked."""
    rows = demand_ranking(user, **ranking)
    by = ranking.get("by", "household")
    scope = demand_scope(user)
    codes = dict(Agency.objects.values_list("code", "pk"))
    disclosures: dict[int, object] = {}
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


# Cases builds on contacts, not the reverse: on start it names here where key workers come from
# (cases.apps sets cases.selectors.key_workers_for).
_key_worker_source: Callable[[str, list[int]], dict[int, str]] | None = None


def key_workers_from(source: Callable[[str, list[int]], dict[int, str]] | None) -> None:
    """Take the ranking's key workers from ``source(by, ids)``: {subject id: username} per live case."""
    global _key_worker_source
    _key_worker_source = source


def _key_workers(by: str, ids: list[int]) -> dict[int, str]:
    """{subject id: username} of the key worker of each household or person with a live case."""
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
    asb = Q()
    for word in ASB_WORDS:
        asb |= Q(contact_type__icontains=word)
    asb |= Q(need_category__code="crime_asb")
    times: dict[int, list[dt.datetime]] = {}
    for subject, at in recent.filter(asb, occurred_at__lte=now).order_by(key, "occurred_at").values_list(
        key, "occurred_at"
    ):
        times.setdefault(subject, []).append(at)
    window = dt.timedelta(days=t.asb_days)
    for subject, stamps in times.items():
        if any(stamps[i + t.asb_reports - 1] - stamps[i] <= window for i in range(len(stamps) - t.asb_reports + 1)):
            flags[subject].append("asb_trigger")
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
    from django.db.models.functions import TruncMonth

    key = KEYS[by]
    series = {i: dict.fromkeys(months, 0) for i in ids}
    if not ids or not months:
        return {i: [] for i in ids}
    start = _start_of(dt.date.fromisoformat(months[0] + "-01"))
    rows = (
        ledger_for(demand_scope(user))
        .filter(**{f"{key}__in": ids}, occurred_at__gte=start)
        .annotate(month=TruncMonth("occurred_at"))
        .order_by()
        .values(key, "month")
        .annotate(n=Count("pk"))
    )
    for row in rows:
        label = f"{row['month']:%Y-%m}"
        if label in series[row[key]]:
            series[row[key]][label] = row["n"]
    return {i: list(series[i].values()) for i in ids}


def partnership_monthly(user, *, months: list[str]) -> list[tuple[str, int]]:
    """All counted contacts per month, for the dashboard's trend chart."""
    from django.db.models.functions import TruncMonth

    if not months:
        return []
    start = _start_of(dt.date.fromisoformat(months[0] + "-01"))
    counts = dict.fromkeys(months, 0)
    rows = (
        ledger_for(demand_scope(user))
        .filter(occurred_at__gte=start)
        .annotate(month=TruncMonth("occurred_at"))
        .order_by()
        .values("month")
        .annotate(n=Count("pk"))
    )
    for row in rows:
        label = f"{row['month']:%Y-%m}"
        if label in counts:
            counts[label] = row["n"]
    return list(counts.items())
