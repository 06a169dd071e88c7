"""Household and person profiles. Every view is audited, with each disclosure and its basis."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from onecase.accounts.rules import sees_whole_partnership
from onecase.audit.services import client_ip
from onecase.cases.rules import may_open_cases
from onecase.cases.selectors import cases_on_subject
from onecase.contacts.profiles import ChronologyFilter, ChronologyOptions, profile_read
from onecase.contacts.rules import RECLASSIFY_ROLES, may_log_contacts
from onecase.exports import csv_response
from onecase.linkage.rules import may_review_linkage
from onecase.meetings.selectors import meetings_to_add_to
from onecase.sharing.models import Tier
from onecase.sharing.rules import may_break_glass, may_export_sar, may_see_access_history
from onecase.sharing.selectors import access_history_for, identity_remembered
from onecase.web.forms import PeriodForm


class ChronologyFilterForm(PeriodForm):
    """The chronology's filters (a GET form). Without ``options`` it only checks each value's form,
    so the filters can be read before the profile says which people, agencies and types there are."""

    field_order = ["person", "agency", "type", "since", "until"]

    person = forms.TypedChoiceField(label="Person", coerce=int, empty_value=None, required=False,
                                    error_messages={"invalid_choice": "Select a person from the list"})
    agency = forms.TypedChoiceField(label="Agency", coerce=int, empty_value=None, required=False,
                                    error_messages={"invalid_choice": "Select an agency from the list"})
    type = forms.ChoiceField(label="Contact type", required=False,
                             error_messages={"invalid_choice": "Select a contact type from the list"})

    def __init__(self, *args, options: ChronologyOptions | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("since", "until"):
            self.fields[name].error_messages["invalid"] = "Enter the date as year-month-day, for example 2025-04-01"
        if options is None:
            for name in ("person", "agency", "type"):
                self.fields[name].valid_value = lambda value: True
            return
        self.fields["person"].choices = [("", "Everyone"), *options.people]
        self.fields["agency"].choices = [("", "All agencies"), *options.agencies]
        self.fields["type"].choices = [("", "All contact types"), *options.contact_types]
        if not options.people:
            del self.fields["person"]

    def filters(self) -> ChronologyFilter:
        """The filters given in a valid form (those with errors are left out)."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return ChronologyFilter(person_id=data.get("person"), agency_id=data.get("agency"),
                                contact_type=data.get("type") or "", since=data.get("since"), until=data.get("until"))


def _chronology_query(request) -> str:
    """The filters as a query string, without the page or the download."""
    query = request.GET.copy()
    for name in ("page", "download"):
        query.pop(name, None)
    return query.urlencode()


def _chronology_csv(request, kind: str, pk: int, filters: ChronologyFilter):
    """The filtered chronology as CSV (every matching row, not one page): recorded as an export."""
    profile = profile_read(request.user, kind=kind, pk=pk, ip=client_ip(request), filters=filters, export=True)
    response, writer = csv_response(f"{kind}-{pk}-chronology-{timezone.localdate()}.csv")
    writer.writerow(["When", "Who", "Agency", "Contact type", "In their words", "Need", "Demand"])
    for contact in profile.chronology:
        writer.writerow([
            timezone.localtime(contact.occurred_at).strftime("%Y-%m-%d %H:%M"),
            contact.who, contact.agency.name, contact.type_label,
            contact.presenting_need if contact.words_shared else "Not shared under the agreement",
            contact.need_category.name if contact.need_category else "", contact.get_demand_class_display(),
        ])
    return response


def _render(request, kind: str, pk: int):
    filtering = bool(request.GET)
    filters = ChronologyFilterForm(request.GET if filtering else None).filters()
    if request.GET.get("download") == "csv":
        return _chronology_csv(request, kind, pk, filters)
    profile = profile_read(request.user, kind=kind, pk=pk, ip=client_ip(request), filters=filters,
                           page=request.GET.get("page") or 1)
    form = ChronologyFilterForm(request.GET if filtering else None, options=profile.chronology_options)
    if filtering:
        form.is_valid()  # the errors, shown with the form
    history = []
    if kind == "person" and may_see_access_history(request.user, pk):
        history = [
            {"event": e, "basis": e.detail.get("agreement") or e.detail.get("basis") or e.purpose}
            for e in access_history_for(request.user, person_id=pk)[:50]
        ]
    context = {
        "profile": profile,
        "Tier": Tier,
        "history": history,
        "kind": kind,
        "may_request": kind == "person" and any(v.tier < Tier.FULL for v in profile.agencies),
        "may_sar": kind == "person" and may_export_sar(request.user, pk),
        "may_break_glass": kind == "person" and may_break_glass(request.user),
        "may_open_case": may_open_cases(request.user),
        "agenda_meetings": meetings_to_add_to(request.user),
        "reclassify_agencies": _reclassify_agencies(request.user),
        "cases": cases_on_subject(request.user, **{f"{kind}_id": pk}),
        "may_review": may_review_linkage(request.user),
        "may_log_contact": may_log_contacts(request.user),
        "chronology_form": form,
        "chronology_query": _chronology_query(request),
    }
    return render(request, "web/profiles/profile.html", context)


def _reclassify_agencies(user):
    """"all", or the agency ids whose contacts ``user`` may reclassify (empty: none)."""
    if sees_whole_partnership(user):
        return "all"
    return {user.agency_id} if user.agency_id and user.role in RECLASSIFY_ROLES else set()


@login_required
@require_GET
@identity_remembered()
def household_profile(request, pk: int):
    return _render(request, "household", pk)


@login_required
@require_GET
@identity_remembered()
def person_profile(request, pk: int):
    return _render(request, "person", pk)
