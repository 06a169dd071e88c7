"""Demand reports (failure-demand share, demands in context) and correcting one contact's classification."""

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods

from onecase.audit.services import client_ip
from onecase.contacts.models import DemandClass
from onecase.contacts.rules import may_read_demand_reports, may_reclassify
from onecase.contacts.selectors import contact_for, contact_read, need_categories
from onecase.contacts.services import contact_set_demand_class, contact_set_need
from onecase.exports import csv_response
from onecase.reports.demand_reports import (
    MIN_PHRASE_COUNT,
    demands_in_context_read,
    failure_demand_export,
    failure_demand_read,
    repeat_history,
)
from onecase.web.charts import bar_chart, category_chart, incomplete_month
from onecase.web.forms import PeriodForm


def _period(request) -> tuple[PeriodForm, dict]:
    if not may_read_demand_reports(request.user):
        raise PermissionDenied("Auditors read the audit trail, not the demand ledger.")
    form = PeriodForm(request.GET or None)
    period = {"since": None, "until": None}
    if form.is_valid():
        period.update({k: v for k, v in form.cleaned_data.items() if v})
    return form, period


@login_required
@require_GET
def failure_demand(request):
    """Failure-demand share per agency and per month, with a chart, tables and CSV."""
    form, period = _period(request)
    report = failure_demand_read(request.user, ip=client_ip(request), **period)
    months = report.months
    today = timezone.localdate()
    partial, partial_note = incomplete_month(period["until"] or today, today)
    chart = bar_chart([(m.label, round(m.share * 100)) for m in months], chart_id="failure-per-month",
                      title="Failure demand as a percentage of contacts, per month", x_label="Month",
                      y_label="Failure demand (%)", unit="%", months=True, partial=partial,
                      partial_note=partial_note, less_history=[m.label for m in months if m.less_history])
    return render(request, "web/demand/failure.html", {
        "form": form, "report": report, "agencies": report.agencies, "months": months, "chart": chart,
        "cost_chart": bar_chart([(m.label, int(m.failure_cost)) for m in months], chart_id="failure-cost-per-month",
                                title="Cost of failure demand per month", x_label="Month", y_label="Cost (£)",
                                unit="£", months=True, partial=partial, partial_note=partial_note),
        "query": request.GET.urlencode(),
        "history": repeat_history(request.user), "partial": partial, "partial_note": partial_note,
    })


@login_required
@require_GET
def failure_demand_csv(request):
    form, period = _period(request)
    by = request.GET.get("by") if request.GET.get("by") in ("month", "agency-month") else "agency"
    rows = failure_demand_export(request.user, by=by, ip=client_ip(request), **period)
    response, writer = csv_response(f"failure-demand-by-{by}.csv")
    if by == "agency":
        writer.writerow([by, "contacts", "failure_demand", "failure_demand_share", "failure_demand_cost_gbp"])
        writer.writerows([r.label, r.contacts, r.failures, Decimal(f"{r.share:.4f}"), r.failure_cost] for r in rows)
        return response
    today = timezone.localdate()
    partial, _ = incomplete_month(period["until"] or today, today)
    if by == "agency-month":
        writer.writerow(["month", "agency", "failure_demand", "failure_demand_cost_gbp", "whole_month"])
        writer.writerows([r.month, r.agency, r.failures, r.cost, "no" if r.month == partial else "yes"] for r in rows)
        return response
    writer.writerow([by, "contacts", "failure_demand", "failure_demand_share", "failure_demand_cost_gbp",
                     "whole_month", "full_repeat_history"])
    writer.writerows([r.label, r.contacts, r.failures, Decimal(f"{r.share:.4f}"), r.failure_cost,
                      "no" if r.label == partial else "yes", "no" if r.less_history else "yes"] for r in rows)
    return response


@login_required
@require_GET
def demands_context(request):
    """The most frequent demands across the partnership, by need category and in people's own words."""
    form, period = _period(request)
    report = demands_in_context_read(request.user, ip=client_ip(request), **period)
    chart = category_chart([(r.label, r.total) for r in report.categories], chart_id="contacts-by-need",
                           title="Contacts by need category", category_label="Need category",
                           value_label="Contacts")
    return render(request, "web/demand/context.html", {
        "form": form, "report": report, "chart": chart, "minimum": MIN_PHRASE_COUNT,
        "query": request.GET.urlencode(),
    })


@login_required
@require_GET
def demands_context_csv(request):
    form, period = _period(request)
    report = demands_in_context_read(request.user, ip=client_ip(request), export=True, **period)
    response, writer = csv_response("demands-in-context.csv")
    # Need categories count contacts; phrases count different people, so each row says which.
    writer.writerow(["kind", "demand", "counted", "total", *report.agencies])
    for kind, counted, rows in (("need category", "contacts", report.categories),
                                ("in their words", "people", report.phrases)):
        for r in rows:
            writer.writerow([kind, r.label, counted, r.total, *(r.by_agency.get(a, 0) for a in report.agencies)])
    return response


class ClassifyForm(forms.Form):
    demand_class = forms.ChoiceField(label="Demand", choices=DemandClass.choices, widget=forms.RadioSelect,
                                     help_text="Failure demand is caused by a failure to do something, or to do "
                                     "it right, for the citizen")
    need_category = forms.ModelChoiceField(queryset=need_categories(), required=False,
                                           label="Need category", empty_label="Not categorised")


@login_required
@require_http_methods(["GET", "POST"])
def contact_classify(request, pk: int):
    """Correct one contact's demand class and need category; kept and audited, and later runs leave it alone."""
    contact = contact_read(request.user, pk, ip=client_ip(request)) if request.method == "GET" else \
        contact_for(request.user, pk)
    if not may_reclassify(request.user, contact):
        raise PermissionDenied("Only the contact's own agency may reclassify it.")
    back = request.GET.get("next") or request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=False):
        back = ""
    form = ClassifyForm(request.POST or None, initial={"demand_class": contact.demand_class,
                                                       "need_category": contact.need_category_id})
    ip = client_ip(request)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            # Saving pins the classification as staff's, even when it agrees with the rule.
            if form.cleaned_data["demand_class"] != contact.demand_class or not contact.demand_class_manual:
                contact_set_demand_class(actor=request.user, contact=contact,
                                         demand_class=form.cleaned_data["demand_class"], ip=ip)
            if form.cleaned_data["need_category"] != contact.need_category or not contact.need_category_manual:
                contact_set_need(actor=request.user, contact=contact, category=form.cleaned_data["need_category"],
                                 ip=ip)
        messages.success(request, "The contact's classification is saved.")
        return redirect(back or "web:demand")
    return render(request, "web/demand/classify.html", {"form": form, "contact": contact, "back": back})
