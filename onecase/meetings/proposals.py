"""Who should be on the agenda: thresholds that propose households and people automatically.

MARAC: a repeat (a domestic-abuse contact since the subject's last MARAC, when that was within
the last 12 months) or at least two domestic-abuse contacts in 12 months. ASB case review: the
ASB trigger of the demand dashboard (``contacts.demand``: 3 reports in 30 days), not a copy of it.
Contacts are counted from the series' member agencies only: what the table may share.
Thresholds come from settings ``ONECASE_MEETING_AGENDA`` (and ``ONECASE_DEMAND_FLAGS`` for ASB).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Max
from django.utils import timezone

from onecase.contacts.demand import subject_flags as demand_flags
from onecase.contacts.demand import thresholds as demand_thresholds
from onecase.contacts.models import Contact
from onecase.meetings.models import AgendaItem, Meeting, MeetingType
from onecase.meetings.rules import member_agency_ids

CHUNK = 5000


@dataclass(frozen=True)
class AgendaThresholds:
    """Settings ONECASE_MEETING_AGENDA over these defaults."""

    marac_category: str = "domestic_abuse"  # NeedCategory code of a domestic-abuse contact
    marac_contacts: int = 2  # domestic-abuse contacts ...
    marac_days: int = 365  # ... within this many days
    marac_repeat_days: int = 365  # a repeat: abuse again within this many days of the last MARAC
    marac_by: str = "person"  # MARACs discuss the person at risk
    asb_by: str = "household"  # ASB reports come from anyone at the address
    asb_lookback_days: int = 90  # the trigger must have been met this recently
    most: int = 20  # at most this many proposals at a time, the most contacts first


def agenda_thresholds() -> AgendaThresholds:
    values = getattr(settings, "ONECASE_MEETING_AGENDA", {})
    thresholds = AgendaThresholds(**values)
    if thresholds.marac_by not in ("person", "household") or thresholds.asb_by not in ("person", "household"):
        raise ValueError("ONECASE_MEETING_AGENDA: marac_by and asb_by are 'person' or 'household'")
    return thresholds


@dataclass(frozen=True)
class Proposal:
    kind: str  # "household" or "person"
    subject_id: int
    rule: str  # AgendaItem.Rule
    reason: str
    weight: int  # qualifying contacts, for ordering


def as_at_for(meeting: Meeting, now: dt.datetime | None = None) -> dt.datetime:
    """The end of the meeting's day, or now if that is still to come."""
    now = now or timezone.now()
    end_of_day = timezone.make_aware(dt.datetime.combine(meeting.held_on + dt.timedelta(days=1), dt.time()))
    return min(now, end_of_day)


def proposals_for(meeting: Meeting, *, now: dt.datetime | None = None) -> list[Proposal]:
    """The subjects the thresholds put forward for ``meeting``, not already on its agenda."""
    kind = meeting.series.kind
    as_at = as_at_for(meeting, now)
    ledger = Contact.objects.filter(agency_id__in=member_agency_ids(meeting.series), occurred_at__lte=as_at)
    t = agenda_thresholds()
    if kind == MeetingType.MARAC:
        found = _marac(meeting, ledger, as_at, t)
    elif kind == MeetingType.ASB_CASE_REVIEW:
        found = _asb(ledger, as_at, t)
    else:
        return []
    listed = {(item.subject_kind, item.subject_id) for item in meeting.agenda.all()}
    fresh = [p for p in found if (p.kind, p.subject_id) not in listed]
    return sorted(fresh, key=lambda p: (-p.weight, p.subject_id))[: t.most]


def _marac(meeting: Meeting, ledger, as_at: dt.datetime, t: AgendaThresholds) -> list[Proposal]:
    key = f"{t.marac_by}_id"
    abuse = ledger.filter(need_category__code=t.marac_category, **{f"{key}__isnull": False})
    # Repeats: the last MARAC each subject was listed at, within marac_repeat_days, before this one.
    since_repeat = as_at.date() - dt.timedelta(days=t.marac_repeat_days)
    earlier = (
        AgendaItem.objects.filter(
            meeting__series__kind=MeetingType.MARAC,
            meeting__held_on__gte=since_repeat,
            meeting__held_on__lt=meeting.held_on,
            **{f"{t.marac_by}__isnull": False},
        )
        .exclude(meeting__status=Meeting.Status.CANCELLED)
        .order_by()
        .values(t.marac_by)
        .annotate(last=Max("meeting__held_on"))
    )
    last_listed = {row[t.marac_by]: row["last"] for row in earlier}
    found: dict[int, Proposal] = {}
    since_listed: dict[int, int] = {}
    if last_listed:
        rows = abuse.filter(**{f"{key}__in": sorted(last_listed)}).values_list(key, "occurred_at")
        for subject, at in rows:
            if at >= _start_of(last_listed[subject] + dt.timedelta(days=1)):
                since_listed[subject] = since_listed.get(subject, 0) + 1
        for subject, n in since_listed.items():
            last = last_listed[subject]
            if n:
                found[subject] = Proposal(
                    t.marac_by, subject, AgendaItem.Rule.MARAC_REPEAT,
                    f"Repeat: {n} domestic-abuse contact{'s' if n != 1 else ''} since the MARAC of "
                    f"{last.day} {last:%B %Y}.", 1000 + n,
                )
    counts = (
        abuse.filter(occurred_at__gte=as_at - dt.timedelta(days=t.marac_days))
        .order_by()
        .values(key)
        .annotate(n=Count("pk"))
        .filter(n__gte=t.marac_contacts)
    )
    for row in counts:
        subject = row[key]
        if subject in found or subject in last_listed:
            continue  # once listed, only a repeat brings them back
        found[subject] = Proposal(
            t.marac_by, subject, AgendaItem.Rule.MARAC_CONTACTS,
            f"{row['n']} domestic-abuse contacts in the last {t.marac_days} days.", row["n"],
        )
    return list(found.values())


def _asb(ledger, as_at: dt.datetime, t: AgendaThresholds) -> list[Proposal]:
    key = f"{t.asb_by}_id"
    flags = demand_thresholds()
    recent = ledger.filter(occurred_at__gte=as_at - dt.timedelta(days=t.asb_lookback_days),
                           **{f"{key}__isnull": False})
    # Anyone with fewer contacts than the trigger needs cannot meet it; the flag decides the rest.
    counts = {
        row[key]: row["n"]
        for row in recent.order_by().values(key).annotate(n=Count("pk")).filter(n__gte=flags.asb_reports)
    }
    if not counts:
        return []
    ids = sorted(counts)
    flagged: dict[int, list[str]] = {}
    for start in range(0, len(ids), CHUNK):  # keeps each IN (...) list short on SQLite
        flagged.update(demand_flags(recent, key, ids[start : start + CHUNK], as_at, flags))
    return [
        Proposal(
            t.asb_by, subject, AgendaItem.Rule.ASB_TRIGGER,
            f"ASB case review trigger: {flags.asb_reports} or more reports of anti-social behaviour within "
            f"{flags.asb_days} days, in the last {t.asb_lookback_days} days.", counts[subject],
        )
        for subject, found in flagged.items()
        if "asb_trigger" in found
    ]


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time()))

