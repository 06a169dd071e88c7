"""Linkage review pages: the queue, one pair and its evidence, decisions and undo, and the
records and evidence behind a person or a household.

Only reviewers reach them (``onecase.linkage.rules.may_review_linkage``), and they see only
the records their selectors give them. Every page showing agency records writes an audit
event; decisions go through ``onecase.linkage.services``, which audit them in turn.
"""

import datetime as dt
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import F, Q
from django.db.models.functions import Abs
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import dateformat
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from onecase.accounts.selectors import agencies_visible_to
from onecase.audit.services import client_ip
from onecase.concurrency import CONFLICT_MESSAGE, Conflict, parse_version
from onecase.linkage.models import ReviewItem
from onecase.linkage.rules import may_review_linkage
from onecase.linkage.selectors import (
    decisions_for,
    household_detail_read,
    person_detail_read,
    review_item_for,
    review_queue_for,
    review_viewed,
)
from onecase.linkage.services import decision_undo, person_split, review_confirm, review_reject
from onecase.people.selectors import active_links_visible_to

ITEMS_PER_PAGE = 25
DECISIONS_PER_PAGE = 50
# Probability bands for the queue filter: (label, lowest included, highest excluded).
BANDS = {
    "below-60": ("Below 0.6 (least sure)", 0.0, 0.6),
    "60-80": ("0.6 to 0.8", 0.6, 0.8),
    "80-90": ("0.8 to 0.9", 0.8, 0.9),
    "90-up": ("0.9 and above", 0.9, 1.01),
}
# The agency record fields shown side by side, in order: (attribute, label).
RECORD_FIELDS = (
    ("given_name", "Given name"),
    ("family_name", "Family name"),
    ("date_of_birth", "Date of birth"),
    ("sex", "Sex"),
    ("address_line", "Address"),
    ("postcode", "Postcode"),
    ("uprn", "UPRN"),
    ("nhs_number", "NHS number"),
)


def _require_reviewer(user) -> None:
    if not may_review_linkage(user):
        raise PermissionDenied("Only partnership administrators, agency administrators and DPOs review linkage.")


class QueueFilterForm(forms.Form):
    agency = forms.ChoiceField(label="Agency", required=False,
                               error_messages={"invalid_choice": "Select an agency from the list"})
    band = forms.ChoiceField(
        label="Match probability", required=False,
        choices=[("", "Any")] + [(key, label) for key, (label, _, _) in BANDS.items()],
        error_messages={"invalid_choice": "Select a match probability from the list"},
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        agencies = agencies_visible_to(user).order_by("name")
        self.fields["agency"].choices = [("", "All agencies")] + [(a.code, a.name) for a in agencies]


def _filters(request) -> tuple[QueueFilterForm, dict, str]:
    """The queue filters from the query string: the form, the valid values, and the query to carry on."""
    data = {k: request.GET[k] for k in ("agency", "band") if request.GET.get(k)}
    form = QueueFilterForm(data or None, user=request.user)
    params = {"agency": "", "band": ""}
    if data and form.is_valid():
        params.update(form.cleaned_data)
    query = urlencode({k: v for k, v in params.items() if v})
    return form, params, query


def _queue(user, params: dict):
    """Open items ``user`` may decide, filtered, the most uncertain (probability nearest 0.5) first."""
    items = review_queue_for(user)
    if params.get("agency"):
        code = params["agency"]
        items = items.filter(Q(agency_person_a__agency__code=code) | Q(agency_person_b__agency__code=code))
    if params.get("band"):
        _, low, high = BANDS[params["band"]]
        items = items.filter(match_probability__gte=low, match_probability__lt=high)
    return items.annotate(uncertainty=Abs(F("match_probability") - 0.5)).order_by("uncertainty", "id")


def _with_query(url: str, query: str) -> str:
    return f"{url}?{query}" if query else url


@login_required
@require_GET
def review_queue(request):
    """Open review items, the most uncertain first, filtered by agency and probability band."""
    _require_reviewer(request.user)
    form, params, query = _filters(request)
    page = Paginator(_queue(request.user, params), ITEMS_PER_PAGE).get_page(request.GET.get("page"))
    review_viewed(request.user, "review_queue", ip=client_ip(request), items=len(page.object_list), page=page.number)
    return render(request, "web/review/queue.html", {"form": form, "page": page, "query": query})


class DecisionForm(forms.Form):
    version = forms.CharField(widget=forms.HiddenInput, required=False)
    decision = forms.ChoiceField(
        label="Are these two records about the same person?",
        choices=[("confirm", "Yes, the same person"), ("reject", "No, different people")],
        widget=forms.RadioSelect,
        error_messages={"required": "Select whether these records are about the same person",
                        "invalid_choice": "Select whether these records are about the same person"},
    )
    note = forms.CharField(
        label="Note (optional)", required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why you decided this, for other reviewers. Add no more personal details than you need.",
        error_messages={"max_length": "The note must be 500 characters or fewer"},
    )

    def clean(self):
        data = super().clean()
        if parse_version(data.get("version")) is None:
            raise forms.ValidationError("This page was out of date: open the pair again and decide")
        return data


def _latest_decision(item: ReviewItem) -> str:
    decision = item.decisions.select_related("decided_by").order_by("-decided_at", "-id").first()
    if decision is None:
        return "None yet"
    who = decision.decided_by.username if decision.decided_by else "the command line"
    return f"{decision.get_kind_display()}, by {who}, {dateformat.format(decision.decided_at, 'j M Y H:i')}"


def _decision_conflict(item: ReviewItem, form: DecisionForm, opened) -> tuple[dict, DecisionForm]:
    """The pair changed since the page was opened: its state now beside the reviewer's answer, and the
    form filled in again at the current version."""
    choices = dict(form.fields["decision"].choices)
    answer, note = form.data.get("decision", ""), form.data.get("note", "")
    conflict = {
        "message": CONFLICT_MESSAGE, "version": item.version, "opened": opened,
        "retry": item.status == ReviewItem.Status.OPEN,
        "theirs": [("Status", item.get_status_display()), ("Latest decision", _latest_decision(item))],
        "yours": [("Decision", choices.get(answer, "Not given")), ("Note", note or "Not given")],
    }
    return conflict, DecisionForm(initial={"version": item.version, "decision": answer, "note": note})


def _next_item(user, params: dict, after: ReviewItem) -> ReviewItem | None:
    """The item after ``after`` in the (filtered) queue, or else the first other one left."""
    items = _queue(user, params).exclude(pk=after.pk)
    uncertainty = abs(after.match_probability - 0.5)
    later = items.filter(Q(uncertainty__gt=uncertainty) | Q(uncertainty=uncertainty, pk__gt=after.pk))
    return later.first() or items.first()


def _side_by_side(a, b) -> list[dict]:
    rows = [{"label": "Agency", "a": a.agency.name, "b": b.agency.name},
            {"label": "Agency reference", "a": a.person_ref, "b": b.person_ref}]
    for attribute, label in RECORD_FIELDS:
        left, right = (_shown(getattr(record, attribute)) for record in (a, b))
        rows.append({"label": label, "a": left, "b": right})
    return rows


def _shown(value) -> str:
    return dateformat.format(value, "j M Y") if isinstance(value, dt.date) else (value or "")


@login_required
@require_http_methods(["GET", "POST"])
def review_item(request, pk: int):
    """Two agency records side by side with the evidence; confirm or reject, then the next item."""
    _require_reviewer(request.user)
    item = review_item_for(request.user, pk)
    if item is None:
        raise Http404("No such review item.")
    _, params, query = _filters(request)
    form = DecisionForm(request.POST if request.method == "POST" else None, initial={"version": item.version})
    conflict = None
    opened = parse_version(request.POST.get("version")) if request.method == "POST" else None
    if request.method == "POST" and opened is not None and opened != item.version:
        conflict, form = _decision_conflict(item, form, opened)
    elif request.method == "POST" and form.is_valid():
        decide = review_confirm if form.cleaned_data["decision"] == "confirm" else review_reject
        try:
            decide(actor=request.user, item=item, note=form.cleaned_data["note"], expected_version=opened)
        except Conflict:
            conflict, form = _decision_conflict(item, form, opened)  # ``item`` was re-read under the lock
        except ValidationError as exc:
            form.add_error("decision", exc)
        else:
            done = "the same person" if decide is review_confirm else "different people"
            messages.success(request, f"Pair {item.pk} recorded as {done}.")
            following = _next_item(request.user, params, item)
            if following is None:
                return redirect(_with_query(reverse("web:review_queue"), query))
            return redirect(_with_query(reverse("web:review_item", args=[following.pk]), query))
    a, b = item.agency_person_a, item.agency_person_b
    links = {link.agency_person_id: link for link in active_links_visible_to(request.user).filter(
        agency_person_id__in=[a.pk, b.pk])}
    comparisons = sum(e.get("weight", 0.0) for e in item.evidence)
    review_viewed(request.user, "review_item", item.pk, ip=client_ip(request), agency_people=[a.pk, b.pk])
    context = {
        "item": item,
        "form": form,
        "conflict": conflict,
        "query": query,
        "rows": _side_by_side(a, b),
        "links": [links.get(a.pk), links.get(b.pk)],
        "prior_weight": item.match_weight - comparisons,
        "is_open": item.status == ReviewItem.Status.OPEN,
        "skip": _next_item(request.user, params, item),
        "decisions": item.decisions.select_related("decided_by", "undone_by").order_by("-decided_at", "-id"),
    }
    return render(request, "web/review/item.html", context, status=409 if conflict else 200)


@login_required
@require_GET
def review_decisions(request):
    """Reviewers' decisions the user may see, newest first, each with an Undo button while it binds."""
    _require_reviewer(request.user)
    record = request.GET.get("record", "")
    record_id = int(record) if record.isdigit() else None
    decisions = decisions_for(request.user, agency_person_id=record_id)
    page = Paginator(decisions, DECISIONS_PER_PAGE).get_page(request.GET.get("page"))
    review_viewed(request.user, "link_decisions", ip=client_ip(request), decisions=len(page.object_list),
                  page=page.number)
    query = urlencode({"record": record_id}) if record_id else ""
    return render(request, "web/review/decisions.html", {"page": page, "query": query, "record": record_id})


@login_required
@require_POST
def review_undo(request, pk: int):
    """Undo a decision (it stops binding later link runs), then back to the decisions."""
    _require_reviewer(request.user)
    decision = decisions_for(request.user).filter(pk=pk).first()
    if decision is None:
        raise Http404("No such decision.")
    version = parse_version(request.POST.get("version"))
    if version is None:
        messages.error(request, "The page you used was out of date, so nothing was changed. Check and try again.")
        return redirect("web:review_decisions")
    try:
        restored = decision_undo(actor=request.user, decision=decision, note=request.POST.get("note", "")[:500],
                                 expected_version=version)
    except Conflict as error:
        current = error.current
        undone = current.undone_at
        state = f"Undone {dateformat.format(undone, 'j M Y H:i')}" if undone else "In force"
        return render(request, "web/conflict.html", {
            "title": f"Undo decision {current.pk}", "caption": "Linkage decisions",
            "back": reverse("web:review_decisions"), "back_text": "Back to the decisions",
            "action": request.path, "button": "Undo the decision",
            "conflict": {"message": CONFLICT_MESSAGE, "version": current.version, "opened": version,
                         "retry": undone is None,
                         "theirs": [("Decision", current.get_kind_display()), ("Status", state)],
                         "yours": [("Decision", current.get_kind_display()), ("Status", "Undone")]},
        }, status=409)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if restored:
            messages.success(request, f"Decision {decision.pk} undone. The records are linked as they were before it.")
        else:
            messages.success(request, f"Decision {decision.pk} undone. The next link run will place its records again.")
    return redirect("web:review_decisions")


class SplitForm(forms.Form):
    records = forms.MultipleChoiceField(
        label="Which records are not this person?",
        widget=forms.CheckboxSelectMultiple,
        help_text="They become a new person, and later link runs keep them apart from the records left here.",
        error_messages={"required": "Select the records to split out of this person",
                        "invalid_choice": "Select records from the list"},
    )
    note = forms.CharField(
        label="Note (optional)", required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why these records are someone else, for other reviewers.",
        error_messages={"max_length": "The note must be 500 characters or fewer"},
    )

    def __init__(self, *args, records, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["records"].choices = [
            (str(r.agency_person.pk), f"{r.agency_person.agency.name}, reference {r.agency_person.person_ref}")
            for r in records
        ]

    def clean_records(self):
        chosen = self.cleaned_data["records"]
        if len(chosen) == len(self.fields["records"].choices):
            raise forms.ValidationError("Leave at least one record with this person")
        return chosen


@login_required
@require_http_methods(["GET", "POST"])
def review_person(request, pk: int):
    """All the agency records behind a person that the user may see, with link and evidence; split one out."""
    _require_reviewer(request.user)
    detail = person_detail_read(request.user, pk, ip=client_ip(request))
    if detail is None:
        raise Http404("No such person.")
    may_split = len(detail.records) > 1 and detail.hidden_records == 0
    form = SplitForm(request.POST if request.method == "POST" else None, records=detail.records)
    if request.method == "POST":
        if not may_split:
            raise PermissionDenied("Only a reviewer who sees all of this person's records may split them.")
        if form.is_valid():
            by_id = {str(r.agency_person.pk): r.agency_person for r in detail.records}
            chosen = [by_id[value] for value in form.cleaned_data["records"]]
            try:
                decision = person_split(actor=request.user, agency_person=chosen[0], with_agency_people=chosen[1:],
                                        note=form.cleaned_data["note"])
            except ValidationError as exc:
                form.add_error("records", exc)
            else:
                person_id = decision.created_links.values_list("person_id", flat=True).first()
                messages.success(request, f"{len(chosen)} record{'s' if len(chosen) > 1 else ''} split out into "
                                          f"person {person_id}.")
                return redirect("web:review_person", pk=pk)
    context = {"detail": detail, "form": form, "may_split": may_split, "fields": RECORD_FIELDS}
    return render(request, "web/review/person.html", context)


@login_required
@require_GET
def review_household(request, pk: int):
    """The people at a household's address, each with the agency records behind them."""
    _require_reviewer(request.user)
    detail = household_detail_read(request.user, pk, ip=client_ip(request))
    if detail is None:
        raise Http404("No such household.")
    return render(request, "web/review/household.html", {"detail": detail})
