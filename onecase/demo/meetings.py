"""The demo partnership's multi-agency meetings.

Four series (MARAC, ASB case review, complex case panel, team around the family) with a few
meetings each, realistic attendees and hourly rates. The top-demand household (the planted
revolving-door family that no agency owns) is put on the agendas of three series, and the ASB case
review, whose agenda is proposed from its trigger, finds it too: four series discuss one family, which
is what the overlap page is for.
All names are synthetic.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from onecase.accounts.models import Agency
from onecase.contacts.demand import demand_ranking
from onecase.meetings.models import AttendeeRole, Meeting, MeetingType, Series
from onecase.meetings.services import (
    agenda_item_add,
    agenda_propose,
    attendee_add,
    attendee_role_set,
    decision_record,
    meeting_create,
    research_note_add,
    series_create,
)
from onecase.people.models import Household

# code, name, hourly rate in pounds (salary and on-costs; illustrative, edit in the admin pages)
ROLES = (
    ("chair", "Chair", "58.00"),
    ("coordinator", "Meeting coordinator", "27.50"),
    ("police_officer", "Police officer", "42.00"),
    ("idva", "Independent domestic violence adviser", "28.00"),
    ("social_worker", "Social worker", "39.00"),
    ("housing_officer", "Housing officer", "31.00"),
    ("asb_officer", "ASB officer", "29.50"),
    ("health_practitioner", "Health practitioner", "46.00"),
    ("education_welfare_officer", "Education welfare officer", "32.00"),
    ("probation_officer", "Probation officer", "36.50"),
    ("fire_safety_advocate", "Community fire safety advocate", "30.00"),
    ("voluntary_worker", "Voluntary sector worker", "22.00"),
)

# name, type, chair's agency, member agencies, meetings (days before the window's end; negative: after),
# attendees (name, agency, role, hours)
SERIES = (
    (
        "Kilnbury MARAC", MeetingType.MARAC, "POLICE",
        ("POLICE", "CSC", "HOUSING", "ED", "AMBULANCE", "ASC", "PROBATION"),
        (91, 63, 35, 7, -21),
        (
            ("DI Ruth Caldwell", "POLICE", "chair", "3.5"),
            ("Sam Okafor", "POLICE", "coordinator", "5"),
            ("PC Liam Hardacre", "POLICE", "police_officer", "2.5"),
            ("Nadia Brennan", "CSC", "idva", "3"),
            ("Joanne Pickering", "CSC", "social_worker", "2.5"),
            ("Gareth Lowndes", "HOUSING", "housing_officer", "2"),
            ("Dr Priya Sethi", "ED", "health_practitioner", "2"),
            ("Colin Maddox", "PROBATION", "probation_officer", "2"),
        ),
    ),
    (
        "Kilnbury ASB case review", MeetingType.ASB_CASE_REVIEW, "HOUSING",
        ("HOUSING", "POLICE", "FIRE", "ASC"),
        (56, 14),
        (
            ("Helen Stubbs", "HOUSING", "chair", "2"),
            ("Tariq Mahmood", "HOUSING", "asb_officer", "3"),
            ("PCSO Dawn Ellis", "POLICE", "police_officer", "1.5"),
            ("Mark Tunstall", "FIRE", "fire_safety_advocate", "1.5"),
            ("Lorraine Fenton", "ASC", "social_worker", "1"),
        ),
    ),
    (
        "Kilnbury complex case panel", MeetingType.COMPLEX_CASE_PANEL, "ASC",
        ("ASC", "HOUSING", "POLICE", "ED", "AMBULANCE", "REVBEN", "PROBATION", "CAB"),
        (70, 42, 10),
        (
            ("Angela Whitmore", "ASC", "chair", "3"),
            ("Paul Dykes", "ASC", "social_worker", "2.5"),
            ("Gareth Lowndes", "HOUSING", "housing_officer", "2"),
            ("Sgt Emma Boote", "POLICE", "police_officer", "2"),
            ("Kerry Alcock", "ED", "health_practitioner", "2"),
            ("Simon Leese", "REVBEN", "coordinator", "1.5"),
            ("Beverley Cope", "CAB", "voluntary_worker", "2"),
        ),
    ),
    (
        "Kilnbury team around the family", MeetingType.TEAM_AROUND_FAMILY, "CSC",
        ("CSC", "EWS", "HOUSING", "POLICE", "REVBEN", "FOODBANK"),
        (49, 28, 5),
        (
            ("Rachel Beardmore", "CSC", "chair", "2"),
            ("Joanne Pickering", "CSC", "social_worker", "2"),
            ("Craig Salt", "EWS", "education_welfare_officer", "1.5"),
            ("Gareth Lowndes", "HOUSING", "housing_officer", "1.5"),
            ("Wendy Moss", "FOODBANK", "voluntary_worker", "1.5"),
        ),
    ),
)

# Why each series talks about the planted family, and what each agency brings.
FAMILY_AGENDA = {
    MeetingType.MARAC: (
        "Repeat domestic abuse incidents at the address; the mother is assessed at high risk on the DASH.",
        {
            "POLICE": "Domestic abuse incidents at the address in each of the last three months; two arrests.",
            "CSC": "All three children known; the youngest was present at the last two incidents.",
            "HOUSING": "Rent arrears and a notice of seeking possession; the tenancy is in both parents' names.",
        },
    ),
    MeetingType.COMPLEX_CASE_PANEL: (
        "Hundreds of contacts across eleven agencies in two years, and no agency owns the case.",
        {
            "ASC": "Father's drinking affects his health; ambulance and ED attendances most months.",
            "REVBEN": "Council tax arrears with a summons; benefit claim suspended for evidence.",
        },
    ),
    MeetingType.TEAM_AROUND_FAMILY: (
        "School attendance below 80% for two children, money trouble and police call-outs at home.",
        {
            "EWS": "Attendance concerns for the two older children; a parenting contract was not kept.",
            "FOODBANK": "Food parcels most months; the family was signposted to Citizens Advice.",
        },
    ),
}
DECISIONS = {
    MeetingType.MARAC: ("Safety plan agreed; one key worker to coordinate across agencies.", "Safety plan review"),
    MeetingType.COMPLEX_CASE_PANEL: ("A single key worker from children's social care to own the case.",
                                     "Agree one plan with the family"),
    MeetingType.TEAM_AROUND_FAMILY: ("Attendance plan and a referral for debt advice.", "Debt advice appointment"),
}


@dataclass(frozen=True)
class Loaded:
    series: int
    meetings: int
    attendees: int
    agenda_items: int
    family_household_id: int | None


def top_households(*, as_at: dt.datetime | None = None, top: int = 12) -> list[dict]:
    """Households by demand. The first is the planted revolving-door family that no agency owns."""
    return demand_ranking(None, by="household", top=top, now=as_at)


@transaction.atomic
def load_demo_meetings(*, end_date: dt.date) -> Loaded:
    """Create the demo series, meetings, attendees and agendas (once; nothing if they exist)."""
    if Series.objects.filter(name=SERIES[0][0]).exists():
        return Loaded(0, 0, 0, 0, None)
    agencies = {a.code: a for a in Agency.objects.all()}
    roles = {code: attendee_role_set(actor=None, code=code, name=name, hourly_rate_gbp=rate, order=i)
             for i, (code, name, rate) in enumerate(ROLES)}
    roles.update({r.code: r for r in AttendeeRole.objects.all()})
    as_at = timezone.make_aware(dt.datetime.combine(end_date + dt.timedelta(days=1), dt.time()))
    ranked = top_households(as_at=as_at)
    household_id = ranked[0]["household_id"] if ranked else None
    household = Household.objects.filter(pk=household_id).first() if household_id else None
    others = ranked[1:]
    today = timezone.localdate()
    counts = {"series": 0, "meetings": 0, "attendees": 0, "items": 0}
    for number, (name, kind, chair, members, offsets, attendees) in enumerate(SERIES):
        if chair not in agencies:
            continue
        series = series_create(actor=None, kind=kind, name=name, chair_agency=agencies[chair],
                               members=[agencies[c] for c in members if c in agencies])
        counts["series"] += 1
        meetings = []
        for days in offsets:
            held_on = end_date - dt.timedelta(days=days)
            if days < 0:  # the next meeting is still to come
                held_on = max(held_on, today + dt.timedelta(days=7))
            status = Meeting.Status.HELD if held_on <= today and days >= 0 else Meeting.Status.SCHEDULED
            meeting = meeting_create(actor=None, series=series, held_on=held_on, status=status)
            meetings.append(meeting)
            counts["meetings"] += 1
            if status != Meeting.Status.HELD:
                continue
            for index, (person, code, role, hours) in enumerate(attendees):
                if code in agencies and (index < 4 or (days + index) % 3):  # not everyone comes every time
                    attendee_add(actor=None, meeting=meeting, name=person, agency=agencies[code], role=roles[role],
                                 hours=hours)
                    counts["attendees"] += 1
        held = [m for m in meetings if m.status == Meeting.Status.HELD]
        if not held:
            continue
        latest = held[-1]
        if kind == MeetingType.ASB_CASE_REVIEW:
            for meeting in held:  # proposed from the ASB trigger as at each meeting
                when = min(as_at, timezone.make_aware(dt.datetime.combine(meeting.held_on, dt.time(9))))
                counts["items"] += len(agenda_propose(actor=None, meeting=meeting, now=when))
            continue
        for index, meeting in enumerate(held[:-1]):  # earlier meetings: other high-demand households
            for row in others[(3 * number + 2 * index) % max(len(others), 1):][:2]:
                agenda_item_add(actor=None, meeting=meeting, household=Household.objects.get(pk=row["household_id"]),
                                reason=f"{row['contacts_total']} contacts with {row['distinct_agencies']} agencies "
                                "in two years, and no agency leads.")
                counts["items"] += 1
        if kind in FAMILY_AGENDA and household is not None:
            counts["items"] += _family_item(latest, household, agencies)
    return Loaded(counts["series"], counts["meetings"], counts["attendees"], counts["items"], household_id)


def _family_item(meeting: Meeting, household: Household, agencies: dict[str, Agency]) -> int:
    reason, research = FAMILY_AGENDA[meeting.series.kind]
    item = agenda_item_add(actor=None, meeting=meeting, household=household, reason=reason)
    for code, text in research.items():
        if code in agencies:
            research_note_add(actor=None, item=item, text=text, agency=agencies[code])
    decided, action = DECISIONS[meeting.series.kind]
    actions = []
    if item.case is not None and item.case.key_worker.is_active:
        actions = [{"title": action, "owner": item.case.key_worker, "due_on": meeting.held_on + dt.timedelta(days=14)}]
    decision_record(actor=None, item=item, text=decided, actions=actions)
    return 1
