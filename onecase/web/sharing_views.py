"""Stepping up disclosure: requests to the owning agency, break the glass, and the DPO's pages."""

from django import forms
from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp import match_token

from onecase.accounts.models import Role
from onecase.accounts.rules import (
    refuses_demo_device,
    sees_people,
    sees_whole_partnership,
)
from onecase.cases.selectors import caseload_people
from onecase.people.models import Person
from onecase.sharing.rules import may_break_glass, may_read_audit
from onecase.sharing.selectors import (
    agencies_to_ask,
    data_protection_read,
    disclosure_request_to_decide,
    disclosure_requests_made_by,
    disclosure_requests_to_decide,
    person_agency_ids,
    person_known_to,
    sar_subject_for,
)
from onecase.sharing.services import (
    break_glass,
    client_ip,
    disclosure_request_create,
    disclosure_request_decide,
    sar_export,
)
from onecase.web.subjects import openable


def _person(request, pk: int) -> Person:
    """A person the user may identify; any other answers as if they did not exist."""
    if not sees_people(request.user):
        raise PermissionDenied("Your role sees aggregate figures only.")
    return person_known_to(request.user, pk)


class AccessRequestForm(forms.Form):
    agency = forms.ModelChoiceField(queryset=None, label="Which agency's records do you need?",
                                    empty_label=None)
    purpose = forms.CharField(
        label="Why do you need them?", max_length=300, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The owning agency decides on this. For example: safety planning before a home visit",
        error_messages={"required": "Enter why you need the records"},
    )


@login_required
@require_http_methods(["GET", "POST"])
def access_request(request, pk: int):
    """Ask the owning agency for the full records about one person, for a stated purpose."""
    person = _person(request, pk)
    form = AccessRequestForm(request.POST or None)
    form.fields["agency"].queryset = agencies_to_ask(request.user, person)
    if request.method == "POST" and form.is_valid():
        try:
            disclosure_request_create(actor=request.user, person=person, owner_agency=form.cleaned_data["agency"],
                                      purpose=form.cleaned_data["purpose"], ip=client_ip(request))
        except ValidationError as exc:
            form.add_error("purpose", exc)
        else:
            messages.success(request, f"Your request has gone to {form.cleaned_data['agency'].name}.")
            return redirect("web:person", pk=pk)
    return render(request, "web/sharing/access_request.html", {"form": form, "person": person})


def _code_matches(user, code: str) -> bool:
    """Is ``code`` from one of the user's authenticators (never the published demo one in production)?"""
    device = match_token(user, code.strip())
    return device is not None and not refuses_demo_device(device)


class BreakGlassForm(forms.Form):
    reason = forms.CharField(
        label="What is the emergency?", max_length=500, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The data protection officer of each agency holding records is told, and reviews it",
        error_messages={"required": "Enter the emergency"},
    )
    password = forms.CharField(label="Your password", widget=forms.PasswordInput(render_value=False),
                               error_messages={"required": "Enter your password"})
    code = forms.RegexField(regex=r"^\s*\d{6}\s*$", label="Code from your authenticator app",
                            error_messages={"required": "Enter the 6-digit code", "invalid": "Enter the 6 digits"})


@login_required
@require_http_methods(["GET", "POST"])
def break_the_glass(request, pk: int):
    """Emergency full access for an hour, after signing in again, with a stated reason."""
    person = _person(request, pk)
    if not may_break_glass(request.user):
        raise PermissionDenied(
            "Your role at your agency may not break the glass. Ask the agency that holds the records for access."
        )
    form = BreakGlassForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = authenticate(request, username=request.user.get_username(), password=form.cleaned_data["password"])
        if user is None or user.pk != request.user.pk:
            form.add_error("password", "The password is not right")
        elif not _code_matches(request.user, form.cleaned_data["code"]):
            form.add_error("code", "The code is not right. Try the newest code")
        else:
            try:
                break_glass(actor=request.user, person=person, reason=form.cleaned_data["reason"],
                            owner_agency_ids=sorted(person_agency_ids(person.pk)), ip=client_ip(request))
            except ValidationError as exc:
                form.add_error("reason", exc)
            else:
                messages.success(request, "You have full access to this person's records for the next hour.")
                return redirect("web:person", pk=pk)
    return render(request, "web/sharing/break_glass.html", {"form": form, "person": person})


@login_required
@require_GET
def requests_list(request):
    """Requests waiting for the user's agency to decide, and the user's own requests."""
    deciding = list(disclosure_requests_to_decide(request.user)[:100])
    mine = list(disclosure_requests_made_by(request.user)[:50])
    links = openable(request.user, [("person", item.person_id) for item in deciding + mine])
    for item in deciding + mine:
        item.openable = ("person", item.person_id) in links
    return render(request, "web/sharing/requests.html", {"deciding": deciding, "mine": mine})


@login_required
@require_POST
def request_decide(request, pk: int):
    item = disclosure_request_to_decide(request.user, pk)
    approve = request.POST.get("decision") == "approve"
    try:
        disclosure_request_decide(actor=request.user, request=item, approve=approve,
                                  note=request.POST.get("note", ""), ip=client_ip(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Request approved for 30 days." if approve else "Request declined.")
    return redirect("web:requests")


@login_required
@require_GET
def dpo_dashboard(request):
    """Alerts for the DPO's agency (break the glass, unusual access) and the last 24 hours' unusual access."""
    if not may_read_audit(request.user):
        raise PermissionDenied("This page is for data protection officers and auditors.")
    context = {**data_protection_read(request.user, caseload=caseload_people, ip=client_ip(request)),
               "sees_all": sees_whole_partnership(request.user) or request.user.role == Role.AUDITOR}
    return render(request, "web/sharing/dpo.html", context)


@login_required
@require_GET
def subject_access_bundle(request, pk: int):
    person = sar_subject_for(request.user, pk)
    response = HttpResponse(sar_export(actor=request.user, person=person, ip=client_ip(request)),
                            content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="subject-access-person-{pk}.zip"'
    return response
