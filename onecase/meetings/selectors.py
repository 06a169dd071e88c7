"""Meetings, their agendas, costs and overlaps, scoped to the user.

Partnership administrators see every series; staff of member agencies see their series'
meetings; analysts and auditors see costs and overlap counts across every series, never the
households and people talked about. The command line (user None) sees everything.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from onecase.accounts.models import Agency, Role
from onecase.accounts.rules import is_staff_member, sees_people, sees_whole_partnership
from onecase.audit.models import AuditEvent
from onecase.audit.services import audit_record
from onecase.cases.rules import sections_visible
from onecase.cases.selectors import owning_cases
from onecase.contacts.demand import subject_labels as demand_labels
from onecase.meetings.models import (
    MEETING_PURPOSES,
    AgendaItem,
    Attendee,
    AttendeeRole,
    Meeting,
    MeetingType,
    Minutes,
    Series,
)
from onecase.meetings.rules import may_manage_meeting, may_read_minutes, member_agency_ids, sees_aggregates_only
from onecase.people.models import Household, Person
from onecase.people.selectors import household_members
from onecase.sharing.selectors import known_households, known_people

PENNY = Decimal("0.01")
ZERO = Decimal("0.00")


def series_visible_to(user) -> QuerySet[Series]:
    """Series whose meetings ``user`` may see: all for the partnership (and the command line)."""
    if user is None or sees_whole_partnership(user):
        return Series.objects.all()
    if not sees_people(user) or user.agency_id is None:
        return Series.objects.none()
    ids = Series.objects.filter(Q(chair_agency_id=user.agency_id) | Q(members__id=user.agency_id)).values("pk")
    return Series.objects.filter(pk__in=ids)


def meetings_visible_to(user) -> QuerySet[Meeting]:
    return Meeting.objects.filter(series__in=series_visible_to(user)).select_related("series__chair_agency")


def meetings_to_add_to(user, *, most: int = 8) -> list[Meeting]:
    """Scheduled meetings, today or later, whose agenda ``user`` may set: soonest first."""
    upcoming = meetings_visible_to(user).filter(status=Meeting.Status.SCHEDULED, held_on__gte=timezone.localdate())
    return [m for m in upcoming.order_by("held_on", "pk")[: most * 4] if may_manage_meeting(user, m)][:most]


def series_counted_for(user) -> QuerySet[Series]:
    """Series whose costs and overlaps ``user`` may count: every series for analysts and auditors."""
    if sees_aggregates_only(user):
        return Series.objects.all()
    return series_visible_to(user)


def shows_subjects(user) -> bool:
    """Whether ``user`` sees who was on the agenda (ids and names), not just counts."""
    return user is None or (is_staff_member(user) and not sees_aggregates_only(user))


def attendee_roles() -> QuerySet[AttendeeRole]:
    """The hourly rate table (reference data, not personal)."""
    return AttendeeRole.objects.all()


UNKNOWN_SUBJECT = {"household": "A household your agency holds no record of",
                   "person": "A person your agency holds no record of"}


def subject_labels(user, pairs) -> dict[tuple[str, int], str]:
    """Labels for (kind, id) pairs as ``user`` may identify them (None: the command line): a
    household's address, a person's best name; a subject they may not identify is not described."""
    by_kind: dict[str, list[int]] = defaultdict(list)
    for kind, pk in pairs:
        by_kind[kind].append(pk)
    labels = {}
    for kind, ids in by_kind.items():
        found = demand_labels(user, kind, sorted(set(ids)))
        known = (known_households if kind == "household" else known_people)(user, ids)
        for pk in ids:
            labels[(kind, pk)] = found.get(pk) or (
                ("Name not recorded" if kind == "person" else "Address not recorded") if pk in known
                else UNKNOWN_SUBJECT.get(kind, "Not known to your agency")
            )
    return labels


def meeting_detail(user, meeting: Meeting) -> dict:
    """Everything on the meeting page: agenda (labelled, with research and decisions) and attendees."""
    items = list(
        meeting.agenda.select_related("case", "person", "household")
        .prefetch_related("research__agency", "research__author", "decisions__actions__owner")
    )
    labels = subject_labels(user, [(i.subject_kind, i.subject_id) for i in items])
    for item in items:
        item.label = labels[(item.subject_kind, item.subject_id)]
    _with_owning_cases(items)
    attendees = list(meeting.attendees.select_related("agency", "role", "user"))
    minutes = Minutes.objects.filter(meeting=meeting).prefetch_related("recipients").first()
    return {
        "items": items,
        "attendees": attendees,
        "cost": meeting_cost(attendees),
        "hours": sum((a.hours for a in attendees), ZERO),
        "minutes": minutes,
        "may_read_minutes": minutes is not None and (user is None or may_read_minutes(user, minutes)),
    }


def _with_owning_cases(items: list[AgendaItem]) -> None:
    """Give each item without a live case the live case that owns its subject now
    (``cases.selectors.owning_cases``): on the household of a person listed, say, or opened since."""
    wanted: dict[str, list[int]] = defaultdict(list)
    for item in items:
        if item.case is None or not item.case.is_live:
            wanted[item.subject_kind].append(item.subject_id)
    owners = {kind: owning_cases(kind, ids) for kind, ids in wanted.items()}
    for item in items:
        owner = owners.get(item.subject_kind, {}).get(item.subject_id)
        if owner is not None and (item.case is None or not item.case.is_live):
            item.case = owner


def meeting_cost(attendees) -> Decimal:
    """Σ hours × the hourly rate of each attendee's role, in pounds to the penny."""
    total = sum((a.hours * a.role.hourly_rate_gbp for a in attendees), ZERO)
    return total.quantize(PENNY, rounding=ROUND_HALF_UP)


@dataclass
class MeetingCost:
    meeting: Meeting
    attendees: int
    hours: Decimal
    cost: Decimal
    items: int


@dataclass
class SeriesCost:
    series: Series
    meetings: int = 0
    hours: Decimal = ZERO
    cost: Decimal = ZERO


@dataclass
class SubjectCost:
    kind: str
    subject_id: int
    label: str = ""
    meetings: int = 0
    cost: Decimal = ZERO
    cases: set = field(default_factory=set)


@dataclass
class CostReport:
    meetings: list[MeetingCost]
    series: list[SeriesCost]
    subjects: list[SubjectCost]  # empty for analysts and auditors
    subjects_counted: int
    total: Decimal
    names: bool


def _period(meetings: QuerySet[Meeting], since: dt.date | None, until: dt.date | None) -> QuerySet[Meeting]:
    meetings = meetings.exclude(status=Meeting.Status.CANCELLED)
    if since:
        meetings = meetings.filter(held_on__gte=since)
    if until:
        meetings = meetings.filter(held_on__lte=until)
    return meetings


def meeting_costs(user, *, since: dt.date | None = None, until: dt.date | None = None) -> CostReport:
    """What the meetings cost: attendees × hours × hourly rate, per meeting, per series and per subject.

    A meeting's cost is shared equally between its agenda items, so a subject's cost is the sum of
    its shares. Cancelled meetings cost nothing. Amounts are Decimal pounds, rounded to the penny.
    """
    meetings = list(
        _period(Meeting.objects.filter(series__in=series_counted_for(user)), since, until)
        .select_related("series__chair_agency")
        .prefetch_related(
            Prefetch("attendees", queryset=Attendee.objects.select_related("role")),
            Prefetch("agenda", queryset=AgendaItem.objects.only("pk", "meeting_id", "household_id", "person_id",
                                                                "case_id")),
        )
        .order_by("held_on", "pk")
    )
    names = shows_subjects(user)
    rows, by_series, by_subject = [], {}, {}
    for meeting in meetings:
        attendees = list(meeting.attendees.all())
        items = list(meeting.agenda.all())
        exact = sum((a.hours * a.role.hourly_rate_gbp for a in attendees), Decimal(0))
        hours = sum((a.hours for a in attendees), ZERO)
        rows.append(MeetingCost(meeting, len(attendees), hours, exact.quantize(PENNY, ROUND_HALF_UP), len(items)))
        series = by_series.setdefault(meeting.series_id, SeriesCost(meeting.series))
        series.meetings += 1
        series.hours += hours
        series.cost += exact
        for item in items:
            subject = by_subject.setdefault(
                (item.subject_kind, item.subject_id), SubjectCost(item.subject_kind, item.subject_id)
            )
            subject.meetings += 1
            subject.cost += exact / len(items)
            if item.case_id:
                subject.cases.add(item.case_id)
    for series in by_series.values():
        series.cost = series.cost.quantize(PENNY, ROUND_HALF_UP)
    subjects = sorted(by_subject.values(), key=lambda s: (-s.cost, s.kind, s.subject_id))
    for subject in subjects:
        subject.cost = subject.cost.quantize(PENNY, ROUND_HALF_UP)
    if names:
        labels = subject_labels(user, [(s.kind, s.subject_id) for s in subjects])
        for subject in subjects:
            subject.label = labels[(subject.kind, subject.subject_id)]
    total = sum((r.cost for r in rows), ZERO)
    return CostReport(
        meetings=rows,
        series=sorted(by_series.values(), key=lambda s: (-s.cost, s.series.name)),
        subjects=subjects if names else [],
        subjects_counted=len(subjects),
        total=total,
        names=names,
    )


@dataclass
class Listing:
    meeting: Meeting
    item: AgendaItem
    via: str  # "" when the item names the subject itself, else e.g. "person 12"


@dataclass
class Overlap:
    """A household or person on the agendas of more than one series in the period."""

    kind: str
    subject_id: int
    listings: list[Listing]
    label: str = ""

    @property
    def series(self) -> list[Series]:
        seen: dict[int, Series] = {}
        for listing in self.listings:
            seen.setdefault(listing.meeting.series_id, listing.meeting.series)
        return sorted(seen.values(), key=lambda s: s.name)


def overlaps(user, *, since: dt.date | None = None, until: dt.date | None = None) -> list[Overlap]:
    """Households and people talked about by different series in the period, naming the meetings.

    An item about a person who lives in a household counts for that household, so a MARAC that
    lists the mother and a team around the family that lists the family are found together.
    Scoped as ``series_counted_for``; callers show analysts and auditors the count only.
    """
    items = (
        AgendaItem.objects.filter(meeting__in=_period(Meeting.objects.filter(series__in=series_counted_for(user)),
                                                      since, until))
        .select_related("meeting__series__chair_agency", "person")
        .order_by("meeting__held_on", "meeting_id", "pk")
    )
    grouped: dict[tuple[str, int], list[Listing]] = defaultdict(list)
    for item in items:
        if item.household_id:
            key, via = ("household", item.household_id), ""
        elif item.person.household_id:
            key, via = ("household", item.person.household_id), f"person {item.person_id}"
        else:
            key, via = ("person", item.person_id), ""
        grouped[key].append(Listing(item.meeting, item, via))
    found = [
        Overlap(kind, pk, listings)
        for (kind, pk), listings in grouped.items()
        if len({listing.meeting.series_id for listing in listings}) > 1
    ]
    found.sort(key=lambda o: (-len(o.series), -len(o.listings), o.kind, o.subject_id))
    if shows_subjects(user):
        labels = subject_labels(user, [(o.kind, o.subject_id) for o in found])
        for overlap in found:
            overlap.label = labels[(overlap.kind, overlap.subject_id)]
    return found


def minutes_for(user, meeting: Meeting) -> Minutes | None:
    """The meeting's minutes if ``user`` may read them (named recipients and administrators)."""
    minutes = Minutes.objects.filter(meeting=meeting).select_related("meeting__series").first()
    if minutes is None or not (user is None or may_read_minutes(user, minutes)):
        return None
    return minutes


def minutes_recipients_for(series: Series):
    """Staff who may be sent the series' minutes: person-level roles in its member agencies."""
    from django.contrib.auth import get_user_model

    return (
        get_user_model()
        .objects.filter(is_active=True, agency_id__in=member_agency_ids(series))
        .exclude(role__in=[Role.ANALYST, Role.AUDITOR])
        .select_related("agency")
        .order_by("agency__name", "last_name", "first_name", "username")
    )


def member_agencies(series: Series) -> QuerySet[Agency]:
    """The series' member agencies (the chair's among them), by name: who an attendee may come for."""
    return Agency.objects.filter(pk__in=member_agency_ids(series)).order_by("name")


def decision_owners_for(meeting: Meeting, item: AgendaItem):
    """Staff of the member agencies who are on the item's case (who may own its actions); nobody
    for an item without a case."""
    if item.case is None:
        return minutes_recipients_for(meeting.series).none()
    candidates = minutes_recipients_for(meeting.series).filter(
        Q(agency_id=item.case.agency_id) | Q(case_grants__case=item.case)
    ).distinct()
    return candidates.filter(pk__in=[u.pk for u in candidates if sections_visible(u, item.case)])


def agenda_subject_for(user, *, kind: str, pk: int) -> Household | Person | None:
    """The household or person ``pk`` for ``user`` to put on an agenda: None for one they may not
    identify, exactly as for one that does not exist."""
    if kind == "household":
        return Household.objects.filter(pk=pk).first() if known_households(user, [pk]) else None
    if kind == "person":
        return Person.objects.filter(pk=pk).first() if known_people(user, [pk]) else None
    return None


# Reads that record themselves: each returns what the page or API shows and writes its view event.


def _viewed(user, object_type: str, object_id="", *, ip=None, export: bool = False, **detail) -> None:
    audit_record(user=user, action=AuditEvent.Action.EXPORT if export else AuditEvent.Action.VIEW,
                 object_type=object_type, object_id=object_id, ip=ip, detail=detail)


def meeting_read(user, meeting: Meeting, *, ip=None, api: bool = False) -> dict:
    """``meeting_detail``, recording the view with the households and people on the agenda."""
    detail = meeting_detail(user, meeting)
    items = detail["items"]
    _viewed(user, "meeting", meeting.pk, ip=ip, items=len(items), api=api,
            households=[i.household_id for i in items if i.household_id],
            people=[i.person_id for i in items if i.person_id])
    return detail


def agenda_item_for(user, meeting: Meeting, item_pk: int) -> AgendaItem:
    """An item on a meeting the user may see, labelled as the user may identify its subject; 404 otherwise."""
    item = meeting.agenda.select_related("case", "meeting__series").filter(pk=item_pk).first()
    if item is None:
        raise Http404("No such agenda item.")
    key = (item.subject_kind, item.subject_id)
    item.label = subject_labels(user, [key])[key]
    _with_owning_cases([item])
    return item


def agenda_item_read(user, meeting: Meeting, item: AgendaItem, *, ip=None, form: str = "") -> None:
    """Record that the user opened a form about an agenda item (and so saw its subject)."""
    _viewed(user, "agenda_item", item.pk, ip=ip, meeting=meeting.pk, form=form)


def minutes_read(user, meeting: Meeting, *, ip=None, form: str = "") -> Minutes | None:
    """``minutes_for``, recording the view when there are minutes the user may read."""
    minutes = minutes_for(user, meeting)
    if minutes is not None:
        _viewed(user, "minutes", minutes.pk, ip=ip, meeting=meeting.pk, **({"form": form} if form else {}))
    return minutes


def overlaps_read(user, *, since: dt.date, until: dt.date, ip=None, api: bool = False) -> list[Overlap]:
    """``overlaps``, recording the view."""
    found = overlaps(user, since=since, until=until)
    _viewed(user, "meeting_overlaps", ip=ip, overlaps=len(found), since=since.isoformat() if since else None,
            until=until.isoformat() if until else None, api=api)
    return found


def meeting_costs_read(user, *, since: dt.date, until: dt.date, ip=None, export: bool = False) -> CostReport:
    """``meeting_costs``, recording the view or export."""
    report = meeting_costs(user, since=since, until=until)
    _viewed(user, "meeting_costs", ip=ip, export=export, meetings=len(report.meetings),
            subjects=report.subjects_counted, since=since.isoformat(), until=until.isoformat())
    return report


# How long after a meeting its purpose still covers the work on its agenda (actions, follow-up).
MEETING_WORK_DAYS = 90


def meeting_work_purposes(user, person_ids: list[int] | None = None) -> list[tuple[int, str, str]]:
    """(person id, purpose, where it comes from) for the people on the agenda of the meetings of
    ``user``'s series (its member agencies prepare, attend and follow up), from their preparation
    until ``MEETING_WORK_DAYS`` after: the purpose of the meeting's type (MARAC: safety planning).
    A ``sharing.purposes`` source."""
    if not sees_people(user):
        return []
    since = timezone.localdate() - dt.timedelta(days=MEETING_WORK_DAYS)
    items = AgendaItem.objects.filter(
        meeting__in=meetings_visible_to(user).filter(held_on__gte=since).exclude(status=Meeting.Status.CANCELLED)
    )
    if person_ids is not None:
        households = Person.objects.filter(pk__in=list(person_ids), household_id__isnull=False)
        items = items.filter(Q(person_id__in=list(person_ids)) | Q(household_id__in=households.values("household_id")))
    found = set(items.values_list("person_id", "household_id", "meeting__series__kind", "meeting__held_on"))
    members = household_members(household for _, household, _, _ in found)
    wanted = None if person_ids is None else set(person_ids)
    rows = []
    for person, household, kind, held_on in sorted(found, key=lambda row: row[3], reverse=True):
        where = f"{MeetingType(kind).label.split(' (')[0]} of {held_on.day} {held_on:%b %Y}"
        for person_id in [person] if person else members.get(household, []):
            if wanted is None or person_id in wanted:
                rows.append((person_id, MEETING_PURPOSES[kind], where))
    return rows
