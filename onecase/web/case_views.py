"""Case pages: my cases, opening a case (search before create), the case, and its forms.

Each form has a page of its own, so everything works without JavaScript; services write,
selectors read, and every view of a case is audited with the disclosures it made.
"""

import datetime as dt
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from onecase.accounts.rules import sees_whole_partnership
from onecase.audit.services import client_ip
from onecase.cases import services
from onecase.cases.impact import followup_due_on
from onecase.cases.models import Case, FlagKind, Outcome, Section, Status
from onecase.cases.rules import (
    CASE_WORKING_ROLES,
    followup_open,
    is_case_team,
    may_manage_case,
    may_open_cases,
    may_record_followup,
    sections_addable,
    sections_visible,
)
from onecase.cases.selectors import (
    action_owners_for,
    case_costs_read,
    case_for,
    case_holders_for,
    case_impact_read,
    cases_on_subject,
    chronology_read,
    drift_alerts,
    duplicate_message,
    grant_for,
    grant_invitees_for,
    invitation_for,
    my_cases_read,
    new_key_workers_for,
    subject_label,
)
from onecase.concurrency import CONFLICT_MESSAGE, Conflict, parse_version
from onecase.contacts.profiles import profile_read
from onecase.contacts.selectors import need_categories
from onecase.exports import csv_response
from onecase.sharing.models import Purpose, Tier
from onecase.sharing.selectors import identity_remembered
from onecase.web.charts import category_chart
from onecase.web.impact_views import case_impact_context
from onecase.web.subjects import openable

DATE_HINT = "For example, 2027-01-31"
PENNY = Decimal("0.01")


class UserChoiceField(forms.ModelChoiceField):
    """A member of staff; the view gives the choices from a scoped selector."""

    def __init__(self, **kwargs):
        super().__init__(queryset=None, **kwargs)

    def label_from_instance(self, user):
        return f"{user.get_full_name() or user.username} ({user.get_role_display()}, {user.agency.name})"


class CaseOpenForm(forms.Form):
    key_worker = UserChoiceField(label="Key worker", empty_label=None,
                                 help_text="The one person who owns the case")
    summary = forms.CharField(
        label="The real problems to solve", required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 4}),
        help_text="As you understand them so far; record each need in the citizen's own words next",
    )


class NeedForm(forms.Form):
    words = forms.CharField(label="The need, in the citizen's own words", max_length=2000, widget=forms.Textarea,
                            help_text="For example: help me find a job",
                            error_messages={"required": "Enter the need in the citizen's own words"})
    category = forms.ModelChoiceField(queryset=need_categories(), required=False,
                                      label="Need category", empty_label="Suggest one from the words",
                                      help_text="Leave it to the keyword table, or choose")
    goal = forms.CharField(label="Goal", required=False, max_length=2000, widget=forms.Textarea,
                           help_text="What would be different if this were solved")


class NoteForm(forms.Form):
    text = forms.CharField(label="Note", max_length=10000, widget=forms.Textarea,
                           error_messages={"required": "Enter the note"})


class ActionForm(forms.Form):
    title = forms.CharField(label="What needs to be done", max_length=300,
                            error_messages={"required": "Enter what needs to be done"})
    owner = UserChoiceField(label="Owner", empty_label=None)
    due_on = forms.DateField(label="Due date", help_text=DATE_HINT,
                             error_messages={"required": "Enter the due date", "invalid": "Enter a real date"})


class FlagForm(forms.Form):
    kind = forms.ChoiceField(label="Kind of risk or vulnerability", choices=FlagKind.choices)
    description = forms.CharField(label="Describe it", max_length=500, widget=forms.Textarea,
                                  help_text="Everyone who opens the case sees this as a warning",
                                  error_messages={"required": "Describe the risk or vulnerability"})


class GrantForm(forms.Form):
    invitee = UserChoiceField(label="Who to pull in", empty_label="Choose someone",
                              error_messages={"required": "Choose who to pull in"})
    purpose_code = forms.ChoiceField(
        label="What the work is for", choices=Purpose.choices, initial=Purpose.KEY_WORK, widget=forms.RadioSelect,
        required=False,
        help_text="Another agency's records are shared with them only under an agreement for this purpose")
    purpose = forms.CharField(label="Purpose", max_length=500, widget=forms.Textarea,
                              help_text="What you need their expertise for",
                              error_messages={"required": "Enter the purpose"})
    ends_on = forms.DateField(label="Until", help_text=DATE_HINT,
                              error_messages={"required": "Enter the end date", "invalid": "Enter a real date"})
    may_see = forms.MultipleChoiceField(label="They may see", choices=Section.choices,
                                        widget=forms.CheckboxSelectMultiple,
                                        error_messages={"required": "Choose at least one part they may see"})
    may_add = forms.MultipleChoiceField(label="They may add to", choices=Section.choices, required=False,
                                        widget=forms.CheckboxSelectMultiple)


class VersionedForm(forms.Form):
    """A form changing one saved row: it carries the version the row had when the page was opened."""

    version = forms.CharField(widget=forms.HiddenInput, required=False)

    def clean(self):
        data = super().clean()
        data["version"] = parse_version(data.get("version"))
        if data["version"] is None:
            raise forms.ValidationError("This page was out of date: open it again from the case")
        return data


class StatusForm(VersionedForm):
    status = forms.ChoiceField(label="New status", choices=())
    labels = dict(Status.choices)  # a stale answer may not be a choice any more


class TransferForm(VersionedForm):
    to = UserChoiceField(label="New key worker", empty_label="Choose someone",
                         error_messages={"required": "Choose the new key worker"})
    reason = forms.CharField(label="Why", max_length=300, widget=forms.Textarea,
                             error_messages={"required": "Enter why the case is moving"})


class OutcomeForm(VersionedForm):
    outcome = forms.ChoiceField(label="Outcome", choices=Outcome.choices, widget=forms.RadioSelect,
                                error_messages={"required": "Choose better, the same or worse"})
    evidence = forms.CharField(label="Evidence", max_length=2000, widget=forms.Textarea,
                               error_messages={"required": "Enter the evidence"})


class FollowupForm(OutcomeForm):
    outcome = forms.ChoiceField(label="Six months after closure", choices=Outcome.choices, widget=forms.RadioSelect,
                                error_messages={"required": "Choose better, the same or worse"})


def _subject(request):
    """(kind, pk) from ?household= or ?person=."""
    for kind in ("household", "person"):
        value = request.GET.get(kind) or request.POST.get(kind)
        if value:
            if not value.isdigit():
                raise Http404
            return kind, int(value)
    raise Http404("Choose a household or a person to open a case on.")


@login_required
@require_GET
def my_cases_page(request):
    """The key worker's dashboard: cases, overdue actions, expiring pull-ins and invitations."""
    if not (request.user.role in CASE_WORKING_ROLES or sees_whole_partnership(request.user)):
        raise PermissionDenied("Your role does not work cases.")
    mine = my_cases_read(request.user, ip=client_ip(request))
    for case in mine.owned:
        case.label = subject_label(request.user, case)
    return render(request, "web/cases/mine.html", {"mine": mine, "today": timezone.localdate()})


@login_required
@require_http_methods(["GET", "POST"])
def case_open(request):
    """Search before create: the subject's existing cases and linked records, then the form."""
    if not may_open_cases(request.user):
        raise PermissionDenied("Your role does not open cases.")
    kind, pk = _subject(request)
    ip = client_ip(request)
    profile = profile_read(request.user, kind=kind, pk=pk, ip=ip, search=True, purpose="search before opening a case")
    existing = cases_on_subject(request.user, **{f"{kind}_id": pk})
    form = CaseOpenForm(request.POST or None, initial={"key_worker": request.user.pk})
    form.fields["key_worker"].queryset = case_holders_for(request.user)
    if request.method == "POST" and form.is_valid():
        try:
            case = services.case_open(actor=request.user, key_worker=form.cleaned_data["key_worker"],
                                      summary=form.cleaned_data["summary"], ip=ip, **{kind: profile.subject})
        except services.DuplicateCase as error:
            form.add_error("key_worker", duplicate_message(request.user, error.case))
        except ValidationError as error:
            form.add_error("key_worker", error)
        else:
            messages.success(request, f"{case.reference} is open. Record what matters, in the citizen's words.")
            return redirect("web:case", pk=case.pk)
    return render(request, "web/cases/open.html", {
        "form": form, "profile": profile, "kind": kind, "pk": pk, "existing": existing, "Tier": Tier,
    })


@login_required
@require_GET
@identity_remembered()
def case_detail(request, pk: int):
    """The case: warnings first, then what matters, actions, notes, pull-ins and the chronology."""
    case = case_for(request.user, pk)
    user = request.user
    sections = sections_visible(user, case)
    chronology = chronology_read(user, case, ip=client_ip(request))
    team = is_case_team(user, case)
    grants = case.grants.select_related("invitee", "agency")
    context = {
        "case": case,
        "label": subject_label(request.user, case),
        "may_view_profile": bool(openable(user, [("household", case.household_id) if case.household_id
                                                 else ("person", case.person_id)])),
        "sections": sections,
        "addable": sections_addable(user, case),
        "may_manage": may_manage_case(user, case),
        "team": team,
        "flags": case.flags.filter(removed_at__isnull=True) if Section.FLAGS in sections else [],
        "needs": case.needs.select_related("category") if Section.NEEDS in sections else [],
        "actions": case.actions.select_related("owner", "agency") if Section.ACTIONS in sections else [],
        "notes": case.notes.select_related("author", "agency") if Section.NOTES in sections else [],
        "grants": grants if team else grants.filter(invitee=user),
        "chronology": chronology,
        "drift": drift_alerts(case),
        "spells": case.key_worker_spells.select_related("key_worker", "assigned_by"),
        "Section": Section,
        "outcomes_not_recorded": case.outcomes_not_recorded,
        "impact": (case_impact_context(case_impact_read(user, case, ip=client_ip(request)).figures)
                   if sections else None),
        "followup_due_on": followup_due_on(case),
        "followup_open": followup_open(case),
        "may_followup": may_record_followup(user, case),
    }
    return render(request, "web/cases/detail.html", context)


@login_required
@require_GET
def case_costs(request, pk: int):
    """Pre-intervention cost: the subject's demand in the 12 months before the case opened."""
    case = case_for(request.user, pk)
    costs = case_costs_read(request.user, case, ip=client_ip(request))
    series = [(r["agency"].name, int(r["cost"])) for r in costs.rows]
    chart = category_chart(series, chart_id="case-cost-by-agency", unit="£", category_label="Agency",
                           title="Cost by agency in the 12 months before the case opened", value_label="Cost (£)")
    return render(request, "web/cases/costs.html", {"case": case, "label": subject_label(request.user, case),
                                                     "costs": costs, "chart": chart})


@login_required
@require_GET
def case_costs_csv(request, pk: int):
    case = case_for(request.user, pk)
    costs = case_costs_read(request.user, case, ip=client_ip(request), export=True)
    response, writer = csv_response(f"{case.reference}-costs.csv")
    writer.writerow(["agency", "contacts", "cost_gbp", "since", "until"])
    for r in costs.rows:
        writer.writerow([r["agency"].code, r["contacts"], r["cost"].quantize(PENNY), costs.since, costs.until])
    if costs.other_contacts:
        writer.writerow(["other agencies", costs.other_contacts, costs.other_cost.quantize(PENNY), costs.since,
                         costs.until])
    return response


def _submitted(form) -> tuple[dict, list[tuple[str, str]]]:
    """What was posted, as raw values (to fill the form again) and as labelled answers (to show)."""
    raw, shown = {}, []
    for name, field in form.fields.items():
        if name == "version":
            continue
        value = field.widget.value_from_datadict(form.data, form.files, form.add_prefix(name))
        raw[name] = value
        values = value if isinstance(value, list) else [value]
        labels = {**getattr(form, "labels", {}), **{str(k): str(v) for k, v in getattr(field, "choices", ())}}
        text = ", ".join(labels.get(str(v), str(v)) for v in values if v not in (None, ""))
        shown.append((str(field.label), text or "Not given"))
    return raw, shown


def conflict_context(current, opened, theirs, yours, retry: bool = True) -> dict:
    """What a conflict page shows: the saved version (theirs) beside what was submitted (yours)."""
    return {"message": CONFLICT_MESSAGE, "version": current.version, "opened": opened, "theirs": theirs,
            "yours": yours, "retry": retry}


def _form_page(request, case: Case, form, *, title: str, button: str, save, done: str, row=None, theirs=None,
               make=None):
    """Render a one-question form page for ``case``; on a valid POST call ``save(data)`` and go back.

    A form about a saved ``row`` carries its version: when the row changed since the page was
    opened, nothing is saved; the page shows ``theirs(current)`` beside what was submitted, and
    ``make(initial)`` builds the form again, filled in, at the current version (status 409).
    """
    conflict = None
    if request.method == "POST":
        opened = parse_version(form.data.get("version"))
        current = None
        if row is not None and opened is not None and opened != row.version:
            current = row
        elif form.is_valid():
            try:
                save(form.cleaned_data)
            except Conflict as error:
                current = error.current
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, done)
                return redirect("web:case", pk=case.pk)
        if current is not None:
            raw, yours = _submitted(form)
            conflict = conflict_context(current, opened, theirs(current), yours)
            form = make({**raw, "version": current.version})
    return render(request, "web/cases/form.html", {
        "case": case, "label": subject_label(request.user, case), "form": form, "title": title, "button": button,
        "conflict": conflict,
    }, status=409 if conflict else 200)


def _require(allowed: bool, message: str = "You may not do this on this case.") -> None:
    if not allowed:
        raise PermissionDenied(message)


@login_required
@require_http_methods(["GET", "POST"])
def case_need_add(request, pk: int):
    case = case_for(request.user, pk)
    _require(Section.NEEDS in sections_addable(request.user, case))
    form = NeedForm(request.POST or None)
    return _form_page(request, case, form, title="Record what matters", button="Save the need", done="Need recorded.",
                      save=lambda d: services.need_add(actor=request.user, case=case, words=d["words"],
                                                       category=d["category"], goal=d["goal"], ip=client_ip(request)))


@login_required
@require_http_methods(["GET", "POST"])
def case_need_outcome(request, pk: int, need_pk: int):
    case = case_for(request.user, pk)
    _require(may_manage_case(request.user, case))
    need = get_object_or_404(case.needs, pk=need_pk)
    form = OutcomeForm(request.POST or None, initial={"version": need.version, "outcome": need.outcome,
                                                      "evidence": need.outcome_evidence})
    return _form_page(request, case, form, title=f"Outcome: “{need.words}”", button="Save the outcome",
                      done="Outcome recorded.", row=need, make=lambda initial: OutcomeForm(initial=initial),
                      theirs=lambda n: [("Outcome", n.get_outcome_display() or "Not recorded"),
                                        ("Evidence", n.outcome_evidence or "Not recorded")],
                      save=lambda d: services.need_outcome(actor=request.user, need=need, outcome=d["outcome"],
                                                           evidence=d["evidence"], expected_version=d["version"],
                                                           ip=client_ip(request)))


@login_required
@require_http_methods(["GET", "POST"])
def case_need_followup(request, pk: int, need_pk: int):
    """The six-month follow-up of one need on a closed case: does the outcome hold?"""
    case = case_for(request.user, pk)
    _require(may_record_followup(request.user, case),
             "The six-month follow-up is recorded by the key worker once six months have passed since closure.")
    need = get_object_or_404(case.needs, pk=need_pk)
    form = FollowupForm(request.POST or None, initial={"version": need.version, "outcome": need.followup_outcome,
                                                       "evidence": need.followup_evidence})
    return _form_page(request, case, form, title=f"Six months on: “{need.words}”", button="Save the follow-up",
                      done="Six-month follow-up recorded.", row=need,
                      make=lambda initial: FollowupForm(initial=initial),
                      theirs=lambda n: [("Six months after closure",
                                         n.get_followup_outcome_display() or "Not recorded"),
                                        ("Evidence", n.followup_evidence or "Not recorded")],
                      save=lambda d: services.need_followup(actor=request.user, need=need, outcome=d["outcome"],
                                                            evidence=d["evidence"], expected_version=d["version"],
                                                            ip=client_ip(request)))


@login_required
@require_http_methods(["GET", "POST"])
def case_note_add(request, pk: int):
    case = case_for(request.user, pk)
    _require(Section.NOTES in sections_addable(request.user, case))
    form = NoteForm(request.POST or None)
    return _form_page(request, case, form, title="Add a note", button="Save the note", done="Note added.",
                      save=lambda d: services.note_add(actor=request.user, case=case, text=d["text"],
                                                       ip=client_ip(request)))


@login_required
@require_http_methods(["GET", "POST"])
def case_action_add(request, pk: int):
    case = case_for(request.user, pk)
    _require(Section.ACTIONS in sections_addable(request.user, case))
    form = ActionForm(request.POST or None, initial={
        "owner": request.user.pk, "due_on": timezone.localdate() + dt.timedelta(days=14),
    })
    form.fields["owner"].queryset = action_owners_for(request.user, case)
    return _form_page(request, case, form, title="Add an action", button="Save the action", done="Action added.",
                      save=lambda d: services.action_add(actor=request.user, case=case, title=d["title"],
                                                         owner=d["owner"], due_on=d["due_on"], ip=client_ip(request)))


def _conflict_page(request, case: Case, error: Conflict, *, title: str, theirs, yours, button: str,
                   retry: bool):
    """A button on the case page was pressed on a stale page: show both versions, and the button again."""
    return render(request, "web/conflict.html", {
        "title": title, "caption": case.reference, "back": reverse("web:case", args=[case.pk]),
        "back_text": "Back to the case", "action": request.path, "button": button,
        "conflict": conflict_context(error.current, error.expected_version, theirs, yours, retry=retry),
    }, status=409)


def _version_missing(request, case: Case):
    messages.error(request, "The page you used was out of date, so nothing was changed. Check the case and try again.")
    return redirect("web:case", pk=case.pk)


@login_required
@require_POST
def case_action_done(request, pk: int, action_pk: int):
    case = case_for(request.user, pk)
    action = get_object_or_404(case.actions, pk=action_pk)
    version = parse_version(request.POST.get("version"))
    if version is None:
        return _version_missing(request, case)
    try:
        services.action_done(actor=request.user, action=action, expected_version=version, ip=client_ip(request))
    except Conflict as error:
        done, due = error.current.done_at, error.current.due_on
        return _conflict_page(
            request, case, error, title="Mark the action as done", button="Mark as done", retry=done is None,
            theirs=[("Action", error.current.title),
                    ("Status", f"Done {done:%d %B %Y %H:%M}" if done else f"To do, due {due:%d %B %Y}")],
            yours=[("Action", error.current.title), ("Status", "Done")],
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Action marked as done.")
    return redirect("web:case", pk=case.pk)


@login_required
@require_http_methods(["GET", "POST"])
def case_flag_add(request, pk: int):
    case = case_for(request.user, pk)
    _require(Section.FLAGS in sections_addable(request.user, case))
    form = FlagForm(request.POST or None)
    return _form_page(request, case, form, title="Raise a risk or vulnerability flag", button="Raise the flag",
                      done="Flag raised.",
                      save=lambda d: services.flag_raise(actor=request.user, case=case, kind=d["kind"],
                                                         description=d["description"], ip=client_ip(request)))


@login_required
@require_POST
def case_flag_remove(request, pk: int, flag_pk: int):
    case = case_for(request.user, pk)
    _require(Section.FLAGS in sections_visible(request.user, case))
    flag = get_object_or_404(case.flags, pk=flag_pk)
    version = parse_version(request.POST.get("version"))
    if version is None:
        return _version_missing(request, case)
    try:
        services.flag_remove(actor=request.user, flag=flag, expected_version=version, ip=client_ip(request))
    except Conflict as error:
        removed = error.current.removed_at
        return _conflict_page(
            request, case, error, title="Remove the flag", button="Remove the flag", retry=removed is None,
            theirs=[("Flag", error.current.get_kind_display()),
                    ("Status", f"Removed {removed:%d %B %Y %H:%M}" if removed else "Shown as a warning")],
            yours=[("Flag", error.current.get_kind_display()), ("Status", "Removed")],
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Flag removed.")
    return redirect("web:case", pk=case.pk)


@login_required
@require_http_methods(["GET", "POST"])
def case_grant_add(request, pk: int):
    """Pull someone in: a purpose, the sections they may see and add to, and an end date."""
    case = case_for(request.user, pk)
    _require(request.user.pk == case.key_worker_id or may_manage_case(request.user, case),
             "Only the key worker may pull people into this case.")
    form = GrantForm(request.POST or None, initial={
        "ends_on": timezone.localdate() + dt.timedelta(days=30),
        "may_see": [Section.NEEDS, Section.CHRONOLOGY, Section.NOTES, Section.ACTIONS, Section.FLAGS],
        "may_add": [Section.NOTES, Section.ACTIONS],
    })
    form.fields["invitee"].queryset = grant_invitees_for(request.user, case)
    return _form_page(request, case, form, title="Pull someone in", button="Send the invitation",
                      done="Invitation sent. They see the case once they accept.",
                      save=lambda d: services.grant_invite(
                          actor=request.user, case=case, invitee=d["invitee"], purpose=d["purpose"],
                          purpose_code=d["purpose_code"] or Purpose.KEY_WORK, ends_on=d["ends_on"],
                          may_see=d["may_see"], may_add=d["may_add"], ip=client_ip(request)))


@login_required
@require_POST
def case_grant_answer(request, pk: int, grant_pk: int, answer: str):
    grant = invitation_for(request.user, pk, grant_pk)
    service = services.grant_accept if answer == "accept" else services.grant_decline
    version = parse_version(request.POST.get("version"))
    if version is None:
        messages.error(request, "The page you used was out of date, so nothing was changed. Try again.")
        return redirect("web:my_cases")
    try:
        service(actor=request.user, grant=grant, expected_version=version, ip=client_ip(request))
    except Conflict:
        messages.error(request, f"{CONFLICT_MESSAGE} Check the invitation and answer again.")
        return redirect("web:my_cases")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("web:my_cases")
    if answer == "accept":
        messages.success(request, "You have joined the case.")
        return redirect("web:case", pk=pk)
    messages.success(request, "You have declined the invitation.")
    return redirect("web:my_cases")


@login_required
@require_POST
def case_grant_revoke(request, pk: int, grant_pk: int):
    case = case_for(request.user, pk)
    grant = grant_for(request.user, case, grant_pk)
    version = parse_version(request.POST.get("version"))
    if version is None:
        return _version_missing(request, case)
    try:
        services.grant_revoke(actor=request.user, grant=grant, expected_version=version, ip=client_ip(request))
    except Conflict as error:
        current = error.current
        who = f"{current.invitee.username if current.invitee else 'Any case worker'} ({current.agency.name})"
        return _conflict_page(
            request, case, error, title="Revoke the pull-in", button="Revoke the pull-in",
            retry=current.state in (current.State.INVITED, current.State.ACCEPTED),
            theirs=[("Pull-in", who), ("Status", current.status_label)],
            yours=[("Pull-in", who), ("Status", "Revoked")],
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Pull-in revoked. What they added stays on the case.")
    return redirect("web:case", pk=case.pk)


@login_required
@require_http_methods(["GET", "POST"])
def case_status(request, pk: int):
    case = case_for(request.user, pk)
    _require(may_manage_case(request.user, case))

    def make(data=None, initial=None):
        form = StatusForm(data, initial=initial or {"version": case.version})
        # ``case`` is re-read when a change is refused, so the choices follow the status saved now.
        form.fields["status"].choices = [(s.value, s.label) for s in sorted(services.TRANSITIONS[case.status])]
        return form

    return _form_page(request, case, make(request.POST or None), title="Change the status",
                      button="Change the status", done="Status changed.", row=case,
                      make=lambda initial: make(initial=initial),
                      theirs=lambda c: [("Status", c.get_status_display())],
                      save=lambda d: services.case_set_status(actor=request.user, case=case, status=d["status"],
                                                              expected_version=d["version"], ip=client_ip(request)))


@login_required
@require_http_methods(["GET", "POST"])
def case_transfer(request, pk: int):
    case = case_for(request.user, pk)
    _require(may_manage_case(request.user, case))

    def make(data=None, initial=None):
        form = TransferForm(data, initial=initial or {"version": case.version})
        form.fields["to"].queryset = new_key_workers_for(request.user, case)
        return form

    return _form_page(request, case, make(request.POST or None), title="Transfer the case", button="Transfer",
                      done="The case has a new key worker.", row=case, make=lambda initial: make(initial=initial),
                      theirs=lambda c: [("Key worker", f"{c.key_worker.username} ({c.key_worker.agency.name})"),
                                        ("Status", c.get_status_display())],
                      save=lambda d: services.case_transfer(actor=request.user, case=case, to=d["to"],
                                                            reason=d["reason"], expected_version=d["version"],
                                                            ip=client_ip(request)))
