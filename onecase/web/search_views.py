"""Finding a person (thin: ``linkage.search.person_search_read`` scopes, searches and records the search)."""

import datetime as dt

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.views.decorators.http import require_GET

from onecase.audit.services import client_ip
from onecase.linkage.rules import may_search_people
from onecase.linkage.search import DEFAULT_PURPOSE, PURPOSES, RESULTS, SearchInvalid, person_search_read
from onecase.sharing.selectors import identity_remembered

# Where each field's problem is shown: the date of birth's on its first box.
SHOWN_ON = {"date_of_birth": "dob_day", "": "name"}


class PersonSearchForm(forms.Form):
    """A GET form: a name alone is enough."""

    name = forms.CharField(label="Name", required=False, max_length=300,
                           help_text="Full name, or family name only. Spelling mistakes and nicknames are fine.")
    dob_day = forms.CharField(label="Day", required=False, max_length=10)
    dob_month = forms.CharField(label="Month", required=False, max_length=10)
    dob_year = forms.CharField(label="Year", required=False, max_length=10)
    postcode = forms.CharField(label="Postcode (optional)", required=False, max_length=30)
    nhs_number = forms.CharField(label="NHS number (optional)", required=False, max_length=30,
                                 help_text="10 digits, like 485 777 3456")
    reference = forms.CharField(label="Agency reference (optional)", required=False, max_length=200,
                                help_text="The person's reference in an agency's own system")
    purpose = forms.ChoiceField(label="Why are you searching?", required=False, choices=list(PURPOSES.items()),
                                error_messages={"invalid_choice": "Select why you are searching"})

    def clean(self):
        data = super().clean()
        parts = [(data.get(f"dob_{p}") or "").strip() for p in ("day", "month", "year")]
        data["date_of_birth"] = None
        if any(parts):
            missing = [name for name, part in zip(("a day", "a month", "a year"), parts, strict=True) if not part]
            if missing:
                self.add_error("dob_day", f"Date of birth must include {' and '.join(missing)}")
            elif not all(p.isdigit() for p in parts):
                self.add_error("dob_day", "Date of birth must be a real date")
            elif len(parts[2]) != 4:
                self.add_error("dob_day", "Year must include 4 numbers")
            else:
                try:
                    data["date_of_birth"] = dt.date(int(parts[2]), int(parts[1]), int(parts[0]))
                except ValueError:
                    self.add_error("dob_day", "Date of birth must be a real date")
        data["purpose"] = data.get("purpose") or DEFAULT_PURPOSE
        return data

    def terms(self) -> dict:
        data = self.cleaned_data
        return {name: data.get(name) for name in ("name", "date_of_birth", "postcode", "nhs_number", "reference")}


@login_required
@require_GET
@identity_remembered()
def person_search(request):
    """Search for a person; any of the fields is enough. Results follow the identity rule (ADR 13)."""
    if not may_search_people(request.user):
        raise PermissionDenied("Searching for people is for staff who work with people's records.")
    searched = bool(request.GET)
    form = PersonSearchForm(request.GET if searched else None, initial={"purpose": DEFAULT_PURPOSE})
    results = None
    if searched and form.is_valid():
        try:
            results = person_search_read(request.user, **form.terms(), purpose=form.cleaned_data["purpose"],
                                         ip=client_ip(request))
        except SearchInvalid as invalid:
            for name, message in invalid.problems.items():
                form.add_error(SHOWN_ON.get(name, name), message)
    date_parts = [(form["dob_day"], 2), (form["dob_month"], 2), (form["dob_year"], 4)]
    return render(request, "web/people/search.html",
                  {"form": form, "results": results, "date_parts": date_parts, "limit": RESULTS})
