"""Logging one contact or concern from a person's or a household's page (thin: the service checks and writes)."""

import datetime as dt
import re

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from onecase.audit.services import client_ip
from onecase.contacts.profiles import profile_read
from onecase.contacts.rules import may_log_contacts
from onecase.contacts.selectors import log_contact_types
from onecase.contacts.services import LOGGED_PREFIX, contact_log, new_reference
from onecase.sharing.selectors import person_known_to

PURPOSE = "logging a contact"
SOURCE_SYSTEM = "OneCase"
RECORD = re.compile(rf"^{re.escape(LOGGED_PREFIX)}[0-9a-f]{{32}}$")
TIME = re.compile(r"^(\d{1,2})[:.](\d{2})$")
# The canonical field a problem names -> (the form field it is shown on, how the message names it).
FIELDS = {
    "occurred_at": ("day", "The date and time"),
    "contact_type": ("contact_type", "The type of contact"),
    "presenting_need": ("presenting_need", "What they asked for"),
    "outcome": ("outcome", "What happened"),
}


class ContactLogForm(forms.Form):
    person = forms.TypedChoiceField(
        label="Who is it about?", coerce=int, widget=forms.RadioSelect,
        error_messages={"required": "Select who it is about", "invalid_choice": "Select who it is about"},
    )
    contact_type = forms.ChoiceField(
        label="Type of contact",
        error_messages={"required": "Select the type of contact",
                        "invalid_choice": "Select the type of contact from the list"},
    )
    day = forms.CharField(label="Day", required=False)
    month = forms.CharField(label="Month", required=False)
    year = forms.CharField(label="Year", required=False)
    time = forms.CharField(label="Time", required=False, help_text="On the 24-hour clock, for example 14:30")
    presenting_need = forms.CharField(
        label="What did they ask for?", widget=forms.Textarea(attrs={"rows": 4}),
        help_text="In their own words, as they said it. For example: I can't afford food until my money comes in",
        error_messages={"required": "Enter what they asked for, in their own words"},
    )
    outcome = forms.CharField(label="What happened (optional)", required=False,
                              help_text="For example: gave a food parcel and referred to the council's money advice")
    record = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, contact_types, people=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contact_type"].choices = [("", "Choose a type"), *contact_types]
        if people is None:
            del self.fields["person"]
        else:
            self.fields["person"].choices = people
        for field in self.fields.values():
            # A NUL is reported by the same checks as a file's, naming the field.
            field.validators = [v for v in field.validators if not isinstance(v, ProhibitNullCharactersValidator)]

    def clean_record(self) -> str:
        """The record id this form was shown with, so that sending it twice saves one contact."""
        value = self.cleaned_data.get("record") or ""
        return value if RECORD.match(value) else new_reference()

    def clean(self):
        data = super().clean()
        parts = [(data.get(name) or "").strip() for name in ("day", "month", "year")]
        if not any(parts):
            self.add_error("day", "Enter the date it happened")
        elif not all(parts):
            missing = " and ".join(n for n, p in zip(("day", "month", "year"), parts, strict=True) if not p)
            self.add_error("day", f"The date must include a {missing}")
        else:
            try:
                day, month, year = (int(p) for p in parts)
                when = dt.date(year, month, day)
            except ValueError:
                self.add_error("day", "The date must be a real date, for example 27 3 2026")
            else:
                found = TIME.match((data.get("time") or "").strip())
                if not found or int(found[1]) > 23 or int(found[2]) > 59:
                    self.add_error("time", "Enter the time as hours and minutes on the 24-hour clock, for "
                                           "example 14:30")
                else:
                    # UK local time, as the contact format reads a time without an offset.
                    data["occurred_at"] = f"{when.isoformat()}T{int(found[1]):02d}:{found[2]}"
        return data

    def record_fields(self, user) -> dict[str, str]:
        """The contact in the canonical format (docs/contact-format.md); the service adds the person."""
        data = self.cleaned_data
        return {
            "record_id": data["record"],
            "occurred_at": data["occurred_at"],
            "contact_type": data["contact_type"],
            "presenting_need": data["presenting_need"],
            "outcome": data.get("outcome") or "",
            "staff_role": user.get_role_display(),
            "source_system": SOURCE_SYSTEM,
        }

    def show_problems(self, error: ValidationError) -> None:
        """The service's problems, each on its field and naming it."""
        for column, reasons in error.message_dict.items():
            field, label = FIELDS.get(column, (None, column.replace("_", " ").capitalize()))
            reason = " and ".join(reasons)  # one message a field, so that each has one error id
            self.add_error(field if column != NON_FIELD_ERRORS else None,
                           reason if column == NON_FIELD_ERRORS else f"{label} {reason}")


def _now_fields() -> dict[str, str]:
    now = timezone.localtime()
    return {"day": str(now.day), "month": str(now.month), "year": str(now.year), "time": now.strftime("%H:%M"),
            "record": new_reference()}


def _log(request, kind: str, pk: int):
    if not may_log_contacts(request.user):
        raise PermissionDenied("Your role does not log contacts.")
    ip = client_ip(request)
    # Who the form is about, as the user may see them (404 for anyone they may not identify); recorded.
    profile = profile_read(request.user, kind=kind, pk=pk, ip=ip, search=True, purpose=PURPOSE)
    people = [(p["id"], p["name"]) for p in profile.people] if kind == "household" else None
    form = ContactLogForm(request.POST if request.method == "POST" else None,
                          initial=_now_fields(), contact_types=log_contact_types(request.user), people=people)
    if request.method == "POST" and form.is_valid():
        person_id = form.cleaned_data["person"] if kind == "household" else pk
        person = person_known_to(request.user, person_id)
        try:
            contact_log(actor=request.user, record=form.record_fields(request.user), person=person, via="web", ip=ip)
        except ValidationError as error:
            form.show_problems(error)
        else:
            messages.success(request, "Contact saved. It is in the chronology below.")
            return redirect(reverse(f"web:{kind}", args=[pk]) + "#chronology")
    date_parts = [(form["day"], 2), (form["month"], 2), (form["year"], 4)]
    return render(request, "web/contacts/log.html",
                  {"form": form, "profile": profile, "kind": kind, "date_parts": date_parts})


@login_required
@require_http_methods(["GET", "POST"])
def person_contact_new(request, pk: int):
    return _log(request, "person", pk)


@login_required
@require_http_methods(["GET", "POST"])
def household_contact_new(request, pk: int):
    return _log(request, "household", pk)
