"""The demand dashboard and the household and person profiles."""

import datetime as dt
from decimal import Decimal

from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from onecase.audit.services import client_ip
from onecase.cases.rules import may_open_cases
from onecase.contacts.demand import demand_search, month_list, monthly_counts, partnership_monthly
from onecase.contacts.rules import may_view_profiles
from onecase.exports import csv_response
from onecase.sharing.selectors import identity_remembered
from onecase.web.charts import bar_chart, incomplete_month, sparkline
from onecase.web.forms import PeriodForm
from onecase.web.subjects import openable

MONTHS = 24
SUBJECT_ONE = {"household": "Household", "person": "Person", "address": "Address"}
NOT_IDENTIFIED = {"household": "A household not named to your role", "person": "A person not named to your role",
                  "address": "An address not shown to your role"}
NOT_KNOWN = {"household": "A household your agency may not identify",
             "person": "A person your agency may not identify"}


class DemandFilterForm(PeriodForm):
    field_order = ["by", "order", "top", "since", "until"]

    by = forms.ChoiceField(
        label="Rank", choices=[("household", "Households"), ("person", "People"), ("address", "Addresses")],
        initial="household", required=False,
    )
    order = forms.ChoiceField(
        label="Order by", choices=[("contacts", "Contacts"), ("cost", "Cost")], initial="contacts", required=False
    )
    top = forms.TypedChoiceField(
        label="Show", choices=[(n, f"Top {n}") for n in (10, 20, 50, 100)], coerce=int, initial=20, required=False
    )


def _filters(request) -> tuple[DemandFilterForm, dict]:
    form = DemandFilterForm(request.GET or None)
    params = {"by": "household", "order": "contacts", "top": 20, "since": None, "until": None}
    if form.is_valid():
        params.update({k: v for k, v in form.cleaned_data.items() if v not in (None, "")})
    return form, params


def _ranking(request, params, *, export: bool = False):
    rows = demand_search(
        request.user, ip=client_ip(request), export=export, by=params["by"], top=params["top"],
        since=params["since"], until=params["until"], order=params["order"],
    )
    end = params["until"] or timezone.localdate()
    months = month_list(end, MONTHS)
    series = monthly_counts(request.user, by=params["by"], ids=[r[f"{params['by']}_id"] for r in rows], months=months)
    return rows, months, series


@login_required
@require_GET
@identity_remembered()
def demand_dashboard(request):
    """Households, people or addresses ranked by their demand across the agencies the user may count."""
    form, params = _filters(request)
    rows, months, series = _ranking(request, params)
    today = timezone.localdate()
    partial, partial_note = incomplete_month(params["until"] or today, today)
    key = f"{params['by']}_id"
    profiles = may_view_profiles(request.user)
    links = openable(request.user, [(params["by"], row[key]) for row in rows])
    for row in rows:
        values = series.get(row[key], [])
        row["sparkline"] = sparkline(values, months=months, chart_id=f"spark-{params['by']}-{row[key]}",
                                     partial=partial, partial_note=partial_note)
        if not profiles:
            # Figures without identities: say what the row is, never its id, and link nowhere.
            row["label"] = NOT_IDENTIFIED[params["by"]]
        elif params["by"] != "address" and (params["by"], row[key]) not in links:
            row["label"] = NOT_KNOWN[params["by"]]
        row["profile"] = "" if (params["by"], row[key]) not in links else (
            f"/households/{row[key]}/" if params["by"] == "household" else f"/people/{row[key]}/"
        )
        if row["profile"] and "needs_owner" in row["flags"] and may_open_cases(request.user):
            row["open_case"] = f"/cases/open/?{params['by']}={row[key]}"
    trend = partnership_monthly(request.user, months=months)
    agencies: dict[str, int] = {}
    for row in rows:
        for code, n in row["contacts_by_agency"].items():
            agencies[code] = agencies.get(code, 0) + n
    context = {
        "form": form,
        "params": params,
        "rows": rows,
        "trend": trend,
        "trend_chart": bar_chart(trend, chart_id="contacts-per-month", title="Contacts per month", x_label="Month",
                                 y_label="Contacts", months=True, partial=partial, partial_note=partial_note),
        "partial": partial,
        "partial_note": partial_note,
        "agency_totals": sorted(agencies.items(), key=lambda item: -item[1]),
        "query": request.GET.urlencode(),
        "subject": dict(DemandFilterForm.base_fields["by"].choices)[params["by"]],
        "subject_one": SUBJECT_ONE[params["by"]],
        "names": profiles,
    }
    return render(request, "web/demand/dashboard.html", context)


@login_required
@require_GET
def demand_csv(request):
    """The ranked table, with monthly counts, as CSV."""
    _, params = _filters(request)
    rows, months, series = _ranking(request, params, export=True)
    key = f"{params['by']}_id"
    response, writer = csv_response(f"demand-{params['by']}-{dt.date.today()}.csv")
    writer.writerow([key, "label", "contacts_total", "distinct_agencies", "cost_gbp", "failure_demand_share",
                     "failure_demand_cost_gbp", "first_contact", "last_contact", "flags", "contacts_by_agency",
                     *months])
    for row in rows:
        # The cost goes out as a number, so a spreadsheet adds it up (only text is neutralised).
        writer.writerow([row[key], row["label"], row["contacts_total"], row["distinct_agencies"],
                         Decimal(row["cost_gbp"]), row["failure_demand_share"], Decimal(row["failure_cost_gbp"]),
                         row["first_contact"],
                         row["last_contact"], " ".join(row["flags"]),
                         " ".join(f"{c}={n}" for c, n in row["contacts_by_agency"].items()),
                         *series.get(row[key], [])])
    return response


@login_required
@require_GET
def demand_trend_csv(request):
    """The partnership's contacts per month, as CSV (the data behind the trend chart)."""
    today = timezone.localdate()
    months = month_list(today, MONTHS)
    partial, _ = incomplete_month(today, today)
    response, writer = csv_response("contacts-per-month.csv")
    writer.writerow(["month", "contacts", "whole_month"])
    writer.writerows([month, n, "no" if month == partial else "yes"]
                     for month, n in partnership_monthly(request.user, months=months))
    return response


