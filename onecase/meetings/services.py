"""Meeting writes. Each checks permission (``meetings.rules``) and writes its audit event in the
same transaction. ``actor=None`` is a trusted operator at the command line.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from onecase.accounts.models import Agency, User
from onecase.cases.models import Case
from onecase.cases.services import action_add, live_case_on
from onecase.meetings.models import (
    AgendaItem,
    Attendee,
    AttendeeRole,
    Decision,
    Meeting,
    MeetingType,
    Minutes,
    ResearchNote,
    Series,
)
from onecase.meetings.proposals import proposals_for
from onecase.meetings.rules import (
    may_add_research,
    may_create_series,
    may_manage_meeting,
    may_receive_minutes,
    may_run_series,
    may_write_minutes,
)
from onecase.people.models import Household, Person
from onecase.sharing.models import AuditEvent
from onecase.sharing.services import audit_record


def _require(actor, allowed: bool, message: str) -> None:
    if actor is not None and not allowed:
        raise PermissionDenied(message)


def _audit(actor, object_type: str, pk, what: str, ip=None, **detail) -> None:
    audit_record(user=actor, action=AuditEvent.Action.CHANGE, object_type=object_type, object_id=pk,
                 purpose=what, ip=ip, detail=detail)


@transaction.atomic
def series_create(*, actor, kind: str, name: str, chair_agency: Agency, members: list[Agency] = ()) -> Series:
    """Set up a standing meeting: its type, chair's agency and member agencies."""
    _require(actor, may_create_series(actor), "Only partnership administrators may set up meeting series.")
    if kind not in MeetingType.values:
        raise ValidationError(f"Unknown meeting type {kind!r}; choose one of {', '.join(MeetingType.values)}.")
    if not name.strip():
        raise ValidationError("Name the series.")
    if Series.objects.filter(name=name.strip()).exists():
        raise ValidationError(f"A series called {name.strip()!r} already exists.")
    series = Series.objects.create(kind=kind, name=name.strip(), chair_agency=chair_agency)
    series.members.set({chair_agency, *members})
    _audit(actor, "meeting_series", series.pk, "series created", kind=kind, members=len(series.members.all()))
    return series


@transaction.atomic
def meeting_create(*, actor, series: Series, held_on: dt.date, status: str = Meeting.Status.SCHEDULED) -> Meeting:
    """Schedule (or record) a meeting of ``series``."""
    _require(actor, may_run_series(actor, series), "Only the chair's agency may arrange this series' meetings.")
    if status not in Meeting.Status.values:
        raise ValidationError(f"Unknown status {status!r}.")
    meeting = Meeting.objects.create(series=series, held_on=held_on, status=status, created_by=actor)
    _audit(actor, "meeting", meeting.pk, "meeting created", series=series.pk)
    return meeting


@transaction.atomic
def attendee_role_set(*, actor, code: str, name: str, hourly_rate_gbp: Decimal | str, order: int = 0) -> AttendeeRole:
    """Add a role to the hourly rate table, or change its name and rate."""
    _require(actor, may_create_series(actor), "Only partnership administrators may change hourly rates.")
    try:
        rate = Decimal(str(hourly_rate_gbp)).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise ValidationError("Give the hourly rate in pounds, for example 38.50.") from None
    if rate < 0:
        raise ValidationError("An hourly rate cannot be negative.")
    role, created = AttendeeRole.objects.update_or_create(
        code=code, defaults={"name": name, "hourly_rate_gbp": rate, "order": order}
    )
    _audit(actor, "attendee_role", role.pk, "hourly rate set", code=code, rate=str(rate), created=created)
    return role


@transaction.atomic
def attendee_add(
    *, actor, meeting: Meeting, name: str, agency: Agency, role: AttendeeRole, hours: Decimal | str,
    user: User | None = None, ip=None,
) -> Attendee:
    """Record who came, for which agency, in what role, and for how many hours."""
    _require(actor, may_manage_meeting(actor, meeting), "Only the chair's agency may record attendance.")
    name = (name or (user.get_full_name() or user.username if user else "")).strip()
    if not name:
        raise ValidationError("Enter the attendee's name.")
    try:
        hours = Decimal(str(hours)).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise ValidationError("Enter the hours as a number, for example 1.5.") from None
    if not Decimal("0.25") <= hours <= Decimal("24"):
        raise ValidationError("Hours must be between 0.25 and 24.")
    attendee = Attendee.objects.create(meeting=meeting, user=user, name=name[:200], agency=agency, role=role,
                                       hours=hours)
    _audit(actor, "meeting", meeting.pk, "attendee added", ip, attendee=attendee.pk, agency=agency.code)
    return attendee


def _subject(household: Household | None, person: Person | None) -> None:
    if (household is None) == (person is None):
        raise ValidationError("Put one household or one person on the agenda.")


@transaction.atomic
def agenda_item_add(
    *, actor, meeting: Meeting, reason: str, household: Household | None = None, person: Person | None = None,
    case: Case | None = None, proposed_automatically: bool = False, rule: str = AgendaItem.Rule.MANUAL, ip=None,
) -> AgendaItem:
    """Put a household or person on the agenda, linked to its live case (if there is one)."""
    _require(actor, may_manage_meeting(actor, meeting), "Only the chair's agency may set the agenda.")
    _subject(household, person)
    if not reason.strip():
        raise ValidationError("Say why they should be discussed.")
    subject = {"household": household} if household else {"person": person}
    if meeting.agenda.filter(**subject).exists():
        raise ValidationError("They are already on this meeting's agenda.")
    if case is None:
        case = live_case_on(household_id=household.pk if household else None, person_id=person.pk if person else None)
    elif (case.household_id, case.person_id) != (getattr(household, "pk", None), getattr(person, "pk", None)):
        raise ValidationError(f"{case.reference} is about someone else.")
    item = AgendaItem.objects.create(
        meeting=meeting, household=household, person=person, case=case, reason=reason.strip(),
        proposed_automatically=proposed_automatically, rule=rule, added_by=actor,
    )
    _audit(actor, "meeting", meeting.pk, "agenda item added", ip, item=item.pk, automatic=proposed_automatically,
           rule=rule, case=case.pk if case else None)
    return item


@transaction.atomic
def agenda_propose(*, actor, meeting: Meeting, now: dt.datetime | None = None, ip=None) -> list[AgendaItem]:
    """Add the subjects the series' thresholds put forward (``meetings.proposals``) to the agenda.

    MARAC: repeats and domestic-abuse contacts; ASB case review: the ASB trigger. Other series
    are set by hand. Returns the new items (none if nothing new meets a threshold).
    """
    _require(actor, may_manage_meeting(actor, meeting), "Only the chair's agency may set the agenda.")
    if meeting.status == Meeting.Status.CANCELLED:
        raise ValidationError("This meeting is cancelled.")
    proposals = proposals_for(meeting, now=now)
    households = Household.objects.in_bulk([p.subject_id for p in proposals if p.kind == "household"])
    people = Person.objects.in_bulk([p.subject_id for p in proposals if p.kind == "person"])
    items = []
    for proposal in proposals:
        household = households.get(proposal.subject_id) if proposal.kind == "household" else None
        person = people.get(proposal.subject_id) if proposal.kind == "person" else None
        if household is None and person is None:
            continue
        case = live_case_on(household_id=household.pk if household else None,
                            person_id=person.pk if person else None)
        items.append(AgendaItem.objects.create(
            meeting=meeting, household=household, person=person, case=case, reason=proposal.reason,
            proposed_automatically=True, rule=proposal.rule, added_by=actor,
        ))
    _audit(actor, "meeting", meeting.pk, "agenda proposed", ip, proposed=len(items),
           rules=sorted({i.rule for i in items}))
    return items


@transaction.atomic
def research_note_add(*, actor, item: AgendaItem, text: str, agency: Agency | None = None, ip=None) -> ResearchNote:
    """What the actor's agency found in its own records about an agenda item."""
    _require(actor, may_add_research(actor, item), "Only member agencies add research for this meeting.")
    agency = agency if actor is None else actor.agency  # staff write for their own agency
    if agency is None:
        raise ValidationError("Research notes are written for an agency.")
    if not text.strip():
        raise ValidationError("Write what your agency's records say.")
    note = ResearchNote.objects.create(item=item, agency=agency, author=actor, text=text.strip())
    _audit(actor, "meeting", item.meeting_id, "research added", ip, item=item.pk, note=note.pk, agency=agency.code)
    return note


def meeting_source(meeting: Meeting) -> str:
    """How actions name where they came from: the meeting."""
    return f"{meeting.series.name}, {meeting.held_on.day} {meeting.held_on:%B %Y}"


@transaction.atomic
def decision_record(*, actor, item: AgendaItem, text: str, actions: list[dict] = (), ip=None) -> Decision:
    """Record what the meeting decided, and write its actions (title, owner, due_on) to the case.

    The actions go through ``cases.services.action_add`` with the meeting as their source, so the
    case's rules apply: whoever records them must be able to add actions to the case, and each
    owner must be on it. If one action is refused, nothing is recorded.
    """
    _require(actor, may_manage_meeting(actor, item.meeting), "Only the chair's agency records decisions.")
    if not text.strip():
        raise ValidationError("Write what was decided.")
    if actions and item.case is None:
        raise ValidationError("This agenda item has no case to write actions to; open a case first.")
    decision = Decision.objects.create(item=item, text=text.strip(), recorded_by=actor, recorded_at=timezone.now())
    source = meeting_source(item.meeting)
    written = [
        action_add(actor=actor, case=item.case, title=a["title"], owner=a["owner"], due_on=a["due_on"], source=source)
        for a in actions
    ]
    decision.actions.set(written)
    _audit(actor, "meeting", item.meeting_id, "decision recorded", ip, item=item.pk, decision=decision.pk,
           actions=[a.pk for a in written], case=item.case_id)
    return decision


@transaction.atomic
def minutes_write(*, actor, meeting: Meeting, text: str, recipients: list[User], ip=None) -> Minutes:
    """Write (or rewrite) the minutes and name who receives them; nobody else in the member agencies reads them."""
    _require(actor, may_write_minutes(actor, meeting), "Only the chair's agency administrators write the minutes.")
    if not text.strip():
        raise ValidationError("Write the minutes.")
    if not recipients:
        raise ValidationError("Choose who receives the minutes.")
    outside = [u for u in recipients if not may_receive_minutes(u, meeting.series)]
    if outside:
        raise ValidationError("Minutes go to staff of the member agencies only.")
    minutes, created = Minutes.objects.update_or_create(
        meeting=meeting, defaults={"text": text.strip(), "written_by": actor, "updated_at": timezone.now()}
    )
    minutes.recipients.set(recipients)
    _audit(actor, "minutes", minutes.pk, "minutes written" if created else "minutes rewritten", ip,
           meeting=meeting.pk, recipients=len(recipients))
    return minutes
