"""Multi-agency meetings: series, the meeting page and its forms, overlaps and costs.

Thin: reads come from ``meetings.selectors``, writes go through ``meetings.services``, and every
page that shows who is on an agenda is audited.
"""

import datetime as dt
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from onecase.exports import csv_response
from onecase.meetings.models import AgendaItem, Meeting, MeetingType
from onecase.meetings.rules import (
    may_add_research,
    may_manage_meeting,
    may_run_series,
    may_write_minutes,
    sees_aggregates_only,
)
from onecase.meetings.selectors import (
    agenda_item_for,
    agenda_item_read,
    agenda_subject_for,
    attendee_roles,
    decision_owners_for,
    meeting_costs_read,
    meeting_read,
    meetings_visible_to,
    member_agencies,
    minutes_read,
    minutes_recipients_for,
    overlaps_read,
    series_visible_to,
)
from onecase.meetings.services import (
    agenda_item_add,
    agenda_propose,
    attendee_add,
    decision_record,
    meeting_create,
    minutes_write,
    research_note_add,
)
from onecase.sharing.services import client_ip
from onecase.web.charts import bar_chart
from onecase.web.forms import PeriodForm
from onecase.web.subjects import openable, visible_case_ids

ACTION_ROWS = (1, 2)


def _meeting(request, pk: int) -> Meeting:
    """A meeting the user may see; 404 whether it is hidden or missing."""
    return get_object_or_404(meetings_visible_to(request.user), pk=pk)


def _item(request, meeting: Meeting, item_pk: int) -> AgendaItem:
    return agenda_item_for(request.user, meeting, item_pk)


def _posted(request):
    """The submitted data on a POST (even if empty, so a blank form shows its errors), else None."""
    return request.POST if request.method == "POST" else None


# --- series and meetings ----------------------------------------------------------------


@login_required
@require_GET
def series_list(request):
    """The series the user sits on, each with its meetings, newest first."""
    series = list(series_visible_to(request.user).select_related("chair_agency").prefetch_related("members"))
    meetings = meetings_visible_to(request.user).order_by("-held_on", "-pk")
    by_series: dict[int, list[Meeting]] = {}
    for meeting in meetings:
        by_series.setdefault(meeting.series_id, []).append(meeting)
    rows = [{"series": s, "meetings": by_series.get(s.pk, [])[:12], "may_run": may_run_series(request.user, s)}
            for s in series]
    context = {"rows": rows, "aggregates_only": sees_aggregates_only(request.user)}
    return render(request, "web/meetings/series_list.html", context)


class MeetingForm(forms.Form):
    held_on = forms.DateField(label="Date", help_text="For example, 2026-12-01",
                              error_messages={"required": "Enter the date of the meeting",
                                              "invalid": "Enter the date as year-month-day, for example 2026-12-01"})
    status = forms.ChoiceField(label="Status", choices=Meeting.Status.choices, initial=Meeting.Status.SCHEDULED)


@login_required
@require_http_methods(["GET", "POST"])
def meeting_new(request, pk: int):
    """Schedule a meeting of a series (the chair's agency, or the partnership)."""
    series = get_object_or_404(series_visible_to(request.user), pk=pk)
    if not may_run_series(request.user, series):
        raise PermissionDenied("Only the chair's agency arranges this series' meetings.")
    form = MeetingForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        meeting = meeting_create(actor=request.user, series=series, **form.cleaned_data)
        messages.success(request, f"{meeting.title} is arranged.")
        return redirect("web:meeting_detail", pk=meeting.pk)
    return render(request, "web/meetings/meeting_new.html", {"form": form, "series": series})


@login_required
@require_GET
def meeting_page(request, pk: int):
    """Agenda, attendees, cost, research notes, decisions and (for its readers) the minutes."""
    meeting = _meeting(request, pk)
    detail = meeting_detail_context(request, meeting)
    return render(request, "web/meetings/meeting_detail.html", detail)


def meeting_detail_context(request, meeting: Meeting) -> dict:
    detail = meeting_read(request.user, meeting, ip=client_ip(request))
    user = request.user
    links = openable(user, [(item.subject_kind, item.subject_id) for item in detail["items"]])
    cases = visible_case_ids(user, {item.case.pk for item in detail["items"] if item.case})
    for item in detail["items"]:
        item.openable = (item.subject_kind, item.subject_id) in links
        item.case_openable = item.case is not None and item.case.pk in cases
    detail.update(
        meeting=meeting,
        may_manage=may_manage_meeting(user, meeting),
        may_research=bool(detail["items"]) and may_add_research(user, detail["items"][0]),
        may_write_minutes=may_write_minutes(user, meeting),
        proposes=meeting.series.kind in (MeetingType.MARAC, MeetingType.ASB_CASE_REVIEW),
    )
    return detail


# --- forms on the meeting page ----------------------------------------------------------


class AttendeeForm(forms.Form):
    user = forms.ModelChoiceField(label="Member of staff (optional)", queryset=None,
                                  required=False, empty_label="Not a OneCase user",
                                  help_text="Choose them if they use OneCase, or type their name below")
    name = forms.CharField(label="Name", max_length=200, required=False)
    agency = forms.ModelChoiceField(label="Agency", queryset=None, empty_label="Choose an agency",
                                    error_messages={"required": "Choose the agency they came for",
                                                    "invalid_choice": "Choose the agency they came for"})
    role = forms.ModelChoiceField(label="Role", queryset=attendee_roles(), empty_label="Choose a role",
                                  help_text="Each role is costed at its hourly rate",
                                  error_messages={"required": "Choose their role",
                                                  "invalid_choice": "Choose their role"})
    hours = forms.DecimalField(label="Hours", min_value=Decimal("0.25"), max_value=Decimal("24"), decimal_places=2,
                               help_text="Including preparation, for example 1.5",
                               error_messages={"required": "Enter the hours", "invalid": "Enter the hours as a number",
                                               "min_value": "Hours must be 0.25 or more",
                                               "max_value": "Hours must be 24 or fewer",
                                               "max_decimal_places": "Enter the hours to 2 decimal places at most"})

    def __init__(self, *args, meeting: Meeting, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agency"].queryset = member_agencies(meeting.series)
        self.fields["user"].queryset = minutes_recipients_for(meeting.series)
        self.fields["user"].label_from_instance = lambda u: f"{u.get_full_name() or u.username} ({u.agency.name})"

    def clean(self):
        data = super().clean()
        if not data.get("user") and not (data.get("name") or "").strip():
            self.add_error("name", "Enter the attendee's name, or choose them from the staff list")
        return data


@login_required
@require_http_methods(["GET", "POST"])
def attendee_new(request, pk: int):
    meeting = _meeting(request, pk)
    if not may_manage_meeting(request.user, meeting):
        raise PermissionDenied("Only the chair's agency records attendance.")
    form = AttendeeForm(_posted(request), meeting=meeting)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            attendee_add(actor=request.user, meeting=meeting, name=data["name"], agency=data["agency"],
                         role=data["role"], hours=data["hours"], user=data["user"], ip=client_ip(request))
        except ValidationError as exc:
            form.add_error("hours", exc)
        else:
            messages.success(request, "Attendee added.")
            return redirect("web:meeting_detail", pk=meeting.pk)
    return render(request, "web/meetings/attendee_new.html", {"form": form, "meeting": meeting})


class AgendaItemForm(forms.Form):
    kind = forms.ChoiceField(label="Household or person", choices=[("household", "Household"), ("person", "Person")])
    subject = forms.IntegerField(label="Their number in OneCase", min_value=1,
                                 help_text="Opening this from their page (“Add to a meeting’s agenda”) fills "
                                           "it in. Otherwise find them with Find a person: the number ends the address "
                                           "of their page, for example 1234 in /people/1234/",
                                 error_messages={"required": "Enter their number in OneCase",
                                                 "invalid": "Enter the number, for example 1234",
                                                 "min_value": "Enter the number, for example 1234"})
    reason = forms.CharField(label="Why should the meeting discuss them?", max_length=2000, widget=forms.Textarea,
                             error_messages={"required": "Enter why the meeting should discuss them"})

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self):
        data = super().clean()
        if data.get("kind") and data.get("subject"):
            # One the user may not identify answers exactly as one that does not exist.
            data["found"] = agenda_subject_for(self.user, kind=data["kind"], pk=data["subject"])
            if data["found"] is None:
                self.add_error("subject", f"There is no {data['kind']} with that number")
        return data


def _agenda_subject(request) -> dict:
    """The household or person a profile page's link names (?household= or ?person=), to fill the form in."""
    for kind in ("household", "person"):
        value = request.GET.get(kind, "")
        if value.isdigit():
            return {"kind": kind, "subject": int(value)}
    return {}


@login_required
@require_http_methods(["GET", "POST"])
def agenda_item_new(request, pk: int):
    meeting = _meeting(request, pk)
    if not may_manage_meeting(request.user, meeting):
        raise PermissionDenied("Only the chair's agency sets the agenda.")
    form = AgendaItemForm(_posted(request), user=request.user, initial=_agenda_subject(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            agenda_item_add(actor=request.user, meeting=meeting, reason=data["reason"], ip=client_ip(request),
                            **{data["kind"]: data["found"]})
        except ValidationError as exc:
            form.add_error("subject", exc)
        else:
            messages.success(request, "Added to the agenda.")
            return redirect("web:meeting_detail", pk=meeting.pk)
    return render(request, "web/meetings/agenda_item_new.html", {"form": form, "meeting": meeting})


@login_required
@require_POST
def agenda_propose_view(request, pk: int):
    """Add everyone the series' thresholds put forward to the agenda."""
    meeting = _meeting(request, pk)
    if not may_manage_meeting(request.user, meeting):
        raise PermissionDenied("Only the chair's agency sets the agenda.")
    try:
        items = agenda_propose(actor=request.user, meeting=meeting, ip=client_ip(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        n = len(items)
        messages.success(request, f"{n} proposed for the agenda." if n else "Nobody new meets the thresholds.")
    return redirect("web:meeting_detail", pk=meeting.pk)


class ResearchForm(forms.Form):
    text = forms.CharField(label="What do your agency's records say?", max_length=5000, widget=forms.Textarea,
                           help_text="Facts the meeting needs: risks, recent contacts, what is already in place",
                           error_messages={"required": "Enter what your agency's records say"})


@login_required
@require_http_methods(["GET", "POST"])
def research_new(request, pk: int, item: int):
    meeting = _meeting(request, pk)
    agenda_item = _item(request, meeting, item)
    if not may_add_research(request.user, agenda_item):
        raise PermissionDenied("Only member agencies add research for this meeting.")
    form = ResearchForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        research_note_add(actor=request.user, item=agenda_item, text=form.cleaned_data["text"], ip=client_ip(request))
        messages.success(request, "Research added.")
        return redirect("web:meeting_detail", pk=meeting.pk)
    agenda_item_read(request.user, meeting, agenda_item, ip=client_ip(request), form="research")
    return render(request, "web/meetings/research_new.html", {"form": form, "meeting": meeting, "item": agenda_item})


class DecisionForm(forms.Form):
    text = forms.CharField(label="What did the meeting decide?", max_length=5000, widget=forms.Textarea,
                           error_messages={"required": "Enter what the meeting decided"})

    def __init__(self, *args, item: AgendaItem, owners, **kwargs):
        super().__init__(*args, **kwargs)
        self.with_actions = item.case_id is not None
        if not self.with_actions:
            return
        for n in ACTION_ROWS:
            self.fields[f"action{n}_title"] = forms.CharField(
                label=f"Action {n}: what needs to be done", required=False, max_length=300
            )
            self.fields[f"action{n}_owner"] = forms.ModelChoiceField(
                label=f"Action {n}: owner", queryset=owners, required=False, empty_label="Choose an owner",
                help_text="Someone on the case",
            )
            self.fields[f"action{n}_owner"].label_from_instance = (
                lambda u: f"{u.get_full_name() or u.username} ({u.agency.name})"
            )
            self.fields[f"action{n}_due"] = forms.DateField(
                label=f"Action {n}: due", required=False, help_text="For example, 2026-12-01",
                error_messages={"invalid": "Enter the date as year-month-day, for example 2026-12-01"},
            )

    def clean(self):
        data = super().clean()
        self.actions = []
        for n in ACTION_ROWS if self.with_actions else ():
            title, owner, due = (data.get(f"action{n}_{f}") for f in ("title", "owner", "due"))
            if not (title or owner or due):
                continue
            if not title:
                self.add_error(f"action{n}_title", f"Enter what action {n} is")
            if not owner:
                self.add_error(f"action{n}_owner", f"Choose who owns action {n}")
            if not due and f"action{n}_due" not in self.errors:
                self.add_error(f"action{n}_due", f"Enter when action {n} is due")
            if title and owner and due:
                self.actions.append({"title": title, "owner": owner, "due_on": due})
        return data

    def action_rows(self):
        """Bound fields for the template, one row per action."""
        return [[self[f"action{n}_{f}"] for f in ("title", "owner", "due")] for n in ACTION_ROWS]


@login_required
@require_http_methods(["GET", "POST"])
def decision_new(request, pk: int, item: int):
    meeting = _meeting(request, pk)
    agenda_item = _item(request, meeting, item)
    if not may_manage_meeting(request.user, meeting):
        raise PermissionDenied("Only the chair's agency records decisions.")
    form = DecisionForm(_posted(request), item=agenda_item, owners=decision_owners_for(meeting, agenda_item))
    if request.method == "POST" and form.is_valid():
        try:
            decision_record(actor=request.user, item=agenda_item, text=form.cleaned_data["text"],
                            actions=form.actions, ip=client_ip(request))
        except PermissionDenied:
            form.add_error("action1_title" if form.with_actions else "text",
                           "You may not add actions to this case. Ask its key worker to pull you in")
        except ValidationError as exc:
            form.add_error("action1_title" if form.with_actions else "text", exc)
        else:
            n = len(form.actions)
            messages.success(request, "Decision recorded" + (f", {n} action{'s' if n != 1 else ''} added to "
                                                             f"{agenda_item.case.reference}." if n else "."))
            return redirect("web:meeting_detail", pk=meeting.pk)
    agenda_item_read(request.user, meeting, agenda_item, ip=client_ip(request), form="decision")
    return render(request, "web/meetings/decision_new.html", {"form": form, "meeting": meeting, "item": agenda_item})


# --- minutes ----------------------------------------------------------------------------


@login_required
@require_GET
def minutes_view(request, pk: int):
    """The minutes, for their named recipients (and the chair's agency and partnership administrators)."""
    meeting = _meeting(request, pk)
    minutes = minutes_read(request.user, meeting, ip=client_ip(request))
    if minutes is None:
        raise PermissionDenied("The minutes go to named recipients only.")
    return render(request, "web/meetings/minutes.html", {"meeting": meeting, "minutes": minutes,
                                                         "may_write": may_write_minutes(request.user, meeting)})


class MinutesForm(forms.Form):
    text = forms.CharField(label="Minutes", max_length=50000, widget=forms.Textarea,
                           error_messages={"required": "Enter the minutes"})
    recipients = forms.ModelMultipleChoiceField(
        label="Who receives them?", queryset=None,
        help_text="Only the people you choose (and administrators of the chair's agency) can read the minutes",
        error_messages={"required": "Choose who receives the minutes"},
    )

    def __init__(self, *args, meeting: Meeting, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["recipients"].queryset = minutes_recipients_for(meeting.series)
        self.fields["recipients"].label_from_instance = (
            lambda u: f"{u.get_full_name() or u.username}, {u.agency.name}"
        )


@login_required
@require_http_methods(["GET", "POST"])
def minutes_edit(request, pk: int):
    meeting = _meeting(request, pk)
    if not may_write_minutes(request.user, meeting):
        raise PermissionDenied("Only the chair's agency administrators write the minutes.")
    existing = minutes_read(request.user, meeting, ip=client_ip(request), form="edit")
    initial = {"text": existing.text, "recipients": list(existing.recipients.all())} if existing else None
    form = MinutesForm(_posted(request), initial=initial, meeting=meeting)
    if request.method == "POST" and form.is_valid():
        try:
            minutes_write(actor=request.user, meeting=meeting, text=form.cleaned_data["text"],
                          recipients=list(form.cleaned_data["recipients"]), ip=client_ip(request))
        except ValidationError as exc:
            form.add_error("recipients", exc)
        else:
            messages.success(request, "Minutes saved and sent to their recipients.")
            return redirect("web:meeting_minutes", pk=meeting.pk)
    return render(request, "web/meetings/minutes_edit.html", {"form": form, "meeting": meeting})


# --- overlaps and costs -----------------------------------------------------------------


class MeetingPeriodForm(PeriodForm):
    since = forms.DateField(label="From", required=False, help_text="For example, 2026-01-01",
                            error_messages={"invalid": "Enter the date as year-month-day, for example 2026-01-01"})
    until = forms.DateField(label="To", required=False, help_text="For example, 2026-12-31",
                            error_messages={"invalid": "Enter the date as year-month-day, for example 2026-12-31"})


def _period(request) -> tuple[MeetingPeriodForm, dt.date, dt.date]:
    """The period asked for; by default the 12 months to today."""
    today = timezone.localdate()
    since, until = today - dt.timedelta(days=365), today
    form = MeetingPeriodForm(request.GET or None)
    if form.is_valid():
        since = form.cleaned_data.get("since") or since
        until = form.cleaned_data.get("until") or until
    return form, since, until


@login_required
@require_GET
def overlap_list(request):
    """Households and people on the agendas of more than one series: the same family talked about twice."""
    form, since, until = _period(request)
    found = overlaps_read(request.user, since=since, until=until, ip=client_ip(request))
    aggregates_only = sees_aggregates_only(request.user)
    links = openable(request.user, [(overlap.kind, overlap.subject_id) for overlap in found])
    for overlap in found:
        overlap.openable = (overlap.kind, overlap.subject_id) in links
    context = {"form": form, "since": since, "until": until, "overlaps": [] if aggregates_only else found,
               "count": len(found), "aggregates_only": aggregates_only}
    return render(request, "web/meetings/overlaps.html", context)


@login_required
@require_GET
def cost_report(request):
    """What the meetings cost: per meeting, per series and per household or person discussed."""
    form, since, until = _period(request)
    report = meeting_costs_read(request.user, since=since, until=until, ip=client_ip(request))
    links = openable(request.user, [(row.kind, row.subject_id) for row in report.subjects])
    for row in report.subjects:
        row.openable = (row.kind, row.subject_id) in links
    series = [(f"{row.meeting.held_on.day} {row.meeting.held_on:%b %Y}", int(row.cost)) for row in report.meetings]
    context = {
        "form": form, "since": since, "until": until, "report": report, "query": request.GET.urlencode(),
        "chart": bar_chart(series, chart_id="meeting-costs", title="Cost of each meeting in pounds",
                           x_label="Meeting date", y_label="Cost (£)", unit="£"),
    }
    return render(request, "web/meetings/costs.html", context)


@login_required
@require_GET
def cost_csv(request):
    """The cost tables as CSV: one row per meeting, per series and (for those who may see them) per subject."""
    _, since, until = _period(request)
    report = meeting_costs_read(request.user, since=since, until=until, ip=client_ip(request), export=True)
    response, writer = csv_response(f"meeting-costs-{since}-to-{until}.csv")
    writer.writerow(["level", "series", "meeting_id", "date", "subject", "subject_id", "meetings", "attendees",
                     "hours", "cost_gbp"])
    for row in report.meetings:
        writer.writerow(["meeting", row.meeting.series.name, row.meeting.pk, row.meeting.held_on.isoformat(), "", "",
                         1, row.attendees, row.hours, row.cost])
    for row in report.series:
        writer.writerow(["series", row.series.name, "", "", "", "", row.meetings, "", row.hours, row.cost])
    for row in report.subjects:
        writer.writerow(["subject", "", "", "", row.kind, row.subject_id, row.meetings, "", "", row.cost])
    writer.writerow(["total", "", "", "", "", "", len(report.meetings), "", "", report.total])
    return response
