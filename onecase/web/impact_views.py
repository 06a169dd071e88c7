"""The partnership Impact page (cohort before and after, against a comparison group, and the savings
report with every input editable), its CSV, XLSX and PDF, and the tables of a case's "Cost and impact".
"""

from __future__ import annotations

import io
from decimal import Decimal

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from onecase.audit.services import client_ip
from onecase.cases.impact import WINDOW_MONTHS
from onecase.contacts.labels import contact_type_label
from onecase.contacts.selectors import need_categories
from onecase.exports import csv_response, neutralise
from onecase.reports.impact_reports import (
    GROUPINGS,
    SAVINGS_INPUTS,
    Cohort,
    CohortError,
    parse_savings_inputs,
    shown_default,
)
from onecase.reports.outcomes import AT_CLOSURE, LABELS, SIX_MONTHS, outcomes_for
from onecase.reports.rules import may_see_cohort_impact
from onecase.reports.selectors import aggregate_agencies_for, impact_cohort_read, savings_read
from onecase.web.charts import category_chart

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
WINDOW_WORDS = {"before": "Before the case", "during": "During the case", "after": "After the case"}
VALUE_WORDS = {"fiscal_gbp": "Fiscal (cost to public budgets)", "economic_gbp": "Economic",
               "social_gbp": "Social", "transfer_payments_gbp": "Transfer payments (not public value)",
               "public_value_gbp": "Public value"}
PV_WORDS = {"fiscal": "Fiscal", "economic": "Economic", "social": "Social",
            "transfer_payments": "Transfer payments (in fiscal, not in public value)", "public_value": "Public value",
            "cashable": "Cashable (fiscal)", "non_cashable": "Non-cashable (fiscal)"}


# A case's figures as tables -------------------------------------------------------------------------


def window_rows(figures: dict) -> list[dict]:
    """One row per window: its words, dates, contacts, cost, values and whether it is over."""
    return [{"name": name, "label": WINDOW_WORDS[name], **figures[name]}
            for name in ("before", "during", "after") if name in figures]


def agency_rows(figures: dict) -> list[dict]:
    """One row per agency (or "Other agencies"): contacts and cost in each window."""
    rows: dict[str, dict] = {}
    for name in ("before", "during", "after"):
        for code, row in figures.get(name, {}).get("by_agency", {}).items():
            entry = rows.setdefault(code, {"name": row["name"], "before": None, "during": None, "after": None})
            entry[name] = row
    for entry in rows.values():
        entry["windows"] = [entry["before"], entry["during"], entry["after"]]
    return sorted(rows.values(), key=lambda r: r["name"])


def unit_cost_rows(figures: dict) -> list[dict]:
    """The unit costs used in any window, each once, with its agency's name and price year."""
    names = {code: row["name"] for name in ("before", "during", "after")
             for code, row in figures.get(name, {}).get("by_agency", {}).items()}
    seen: dict[tuple[str, str], dict] = {}
    for name in ("before", "during", "after"):
        for used in figures.get(name, {}).get("unit_costs", []):
            seen.setdefault((used["agency"], used["contact_type"]), {
                **used, "agency_name": names.get(used["agency"], used["agency"]),
                "contact_type_words": contact_type_label(used["contact_type"])})
    return sorted(seen.values(), key=lambda r: (r["agency_name"], r["contact_type_words"]))


def case_impact_context(figures: dict) -> dict:
    projection = figures["projection"]
    return {"windows": window_rows(figures), "agencies": agency_rows(figures), "unit_costs": unit_cost_rows(figures),
            "projection": projection, "months": figures["months"],
            "ways": [(projection["old_way"], "Old way (from the trend before the case)"),
                     (projection["new_way"], "New way (from the trend after the case)")]}


# The Impact page ------------------------------------------------------------------------------------


class ImpactForm(forms.Form):
    opened_from = forms.DateField(label="Opened on or after", required=False, help_text="For example, 2025-01-31")
    opened_to = forms.DateField(label="Opened on or before", required=False, help_text="For example, 2025-12-31")
    agency = forms.ChoiceField(label="Key worker's agency", required=False)
    need = forms.ChoiceField(label="Need category", required=False)
    imported = forms.ChoiceField(label="Where the case was opened", required=False, choices=[
        ("", "Anywhere"), ("yes", "Imported from the old system"), ("no", "Opened in OneCase")])
    by = forms.ChoiceField(label="Group the cases by", required=False, choices=list(GROUPINGS.items()))
    months = forms.IntegerField(label="Months before and after", required=False, min_value=1, max_value=60,
                                help_text=f"The length of the before and after windows (default {WINDOW_MONTHS})")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agency"].choices = [("", "Any agency")] + [
            (a.code, a.name) for a in aggregate_agencies_for(user).order_by("name")]
        self.fields["need"].choices = [("", "Any need")] + [(c.code, c.name) for c in need_categories()]
        for item in SAVINGS_INPUTS:
            self.fields[item.name] = forms.CharField(
                label=item.label, required=False, max_length=20,
                help_text=f"{item.hint} Default: {shown_default(item)}.",
                widget=forms.TextInput(attrs={"inputmode": "decimal", "class": "govuk-input--width-5",
                                              "placeholder": shown_default(item)}))

    def clean(self):
        data = super().clean()
        data["changes"] = {}
        for item in SAVINGS_INPUTS:
            try:
                data["changes"].update(parse_savings_inputs({item.name: data.get(item.name)}))
            except CohortError as exc:
                self.add_error(item.name, str(exc).split(": ", 1)[-1])
        try:
            data["cohort"] = Cohort.from_mapping({k: data.get(k) for k in Cohort.KEYS})
        except CohortError as exc:
            self.add_error(None, str(exc))
        return data

    @property
    def savings_fields(self):
        return [self[item.name] for item in SAVINGS_INPUTS]

    @property
    def cohort_fields(self):
        return [self[name] for name in ("opened_from", "opened_to", "agency", "need", "imported", "by", "months")]


def _reports(request, *, export: bool = False):
    """(form, impact, savings); the reports are None while the form has errors."""
    if not may_see_cohort_impact(request.user):
        raise PermissionDenied("The Impact page is for the partnership's commissioners and analysts.")
    form = ImpactForm(request.GET, user=request.user)
    if not form.is_valid():
        return form, None, None
    data, ip = form.cleaned_data, client_ip(request)
    months, by = data.get("months") or WINDOW_MONTHS, data.get("by") or "period"
    impact = impact_cohort_read(request.user, data["cohort"], months=months, by=by, one_by_one=False, ip=ip,
                                export=export)
    try:
        savings = savings_read(request.user, data["cohort"], months=months, changes=data["changes"], ip=ip,
                               export=export)
    except ValueError as exc:
        form.add_error(None, str(exc))
        return form, impact, None
    return form, impact, savings


def who_rows(result: dict) -> list[dict]:
    """Per agency: the present value of what it pays and of what it saves (fiscal, economic, social)."""
    agencies = sorted(set(result["who_pays"]) | set(result["who_saves"]))
    rows = []
    for agency in agencies:
        saves = result["who_saves"].get(agency, {})
        pays = result["who_pays"].get(agency, Decimal("0.00"))
        saved = sum(saves.values(), Decimal("0.00"))
        rows.append({"agency": agency, "pays": pays, "saves": saved, "net": saved - pays})
    return rows


def page_context(form, impact, savings) -> dict:
    context = {"form": form, "impact": impact, "savings": savings,
               "outcomes": outcomes_for_report(impact) if impact is not None else None}
    if impact is not None and impact.totals is not None:
        totals = impact.totals
        context["windows"] = [{"label": WINDOW_WORDS[n], **totals[n]} for n in ("before", "during", "after")]
        context["agency_totals"] = agency_rows(totals)
        context["value_words"] = VALUE_WORDS
        context["grouping"] = GROUPINGS[impact.by]
        series = []
        for row in context["agency_totals"]:
            for name in ("before", "after"):
                if row[name]:
                    series.append((f"{row['name']}, {name}", row[name]["cost_gbp"]))
        context["chart"] = category_chart(
            series, chart_id="impact-cost-by-agency", unit="£", category_label="Agency and window",
            title=f"Cost by agency in the {impact.months} months before and after the cases", value_label="Cost (£)")
    if context["outcomes"] is not None:
        context["outcome_words"] = {
            "at_closure": [f"{LABELS[k]} at closure" for k in AT_CLOSURE],
            "six_months": [f"{LABELS[k]} six months on" for k in SIX_MONTHS]}
        context["outcome_rows"] = [
            {"category": row.category, "needs": row.needs, "at_closure": [row.at_closure[k] for k in AT_CLOSURE],
             "six_months": [row.six_months[k] for k in SIX_MONTHS], "sustained": row.sustained}
            for row in [*context["outcomes"].categories, context["outcomes"].total]]
    if savings is not None and savings.result is not None:
        context["who"] = who_rows(savings.result)
        context["pv_words"] = PV_WORDS
    return context


@login_required
@require_GET
def impact_page(request):
    """Cohort figures before and after its cases, against a comparison group, and the savings report."""
    form, impact, savings = _reports(request)
    context = page_context(form, impact, savings)
    context["query"] = request.GET.urlencode()
    return render(request, "web/impact/page.html", context)


def table_rows(impact, savings) -> list[tuple[str, list[list]]]:
    """The downloads' sheets: (name, rows with a header row first). Aggregates only."""
    sheets = []
    if impact.totals is not None:
        rows = [["window", "cases", "cases_complete", "contacts", "cost_gbp", "fiscal_gbp", "economic_gbp",
                 "social_gbp", "transfer_payments_gbp", "public_value_gbp"]]
        for name in ("before", "during", "after"):
            t = impact.totals[name]
            rows.append([WINDOW_WORDS[name], t["cases"], t["cases_complete"], t["contacts"], t["cost_gbp"],
                         *(t["values"].get(k, Decimal("0.00")) for k in VALUE_WORDS)])
        sheets.append(("Windows", rows))
        rows = [["agency", "window", "contacts", "cost_gbp"]]
        for row in agency_rows(impact.totals):
            for name in ("before", "during", "after"):
                if row[name]:
                    rows.append([row["name"], WINDOW_WORDS[name], row[name]["contacts"], row[name]["cost_gbp"]])
        sheets.append(("By agency", rows))
        rows = [[GROUPINGS[impact.by], "cases", "closed", "before_contacts", "before_cost_gbp", "after_contacts",
                 "after_cost_gbp", "difference_contacts", "difference_cost_gbp"]]
        for g in impact.groups:
            rows.append([g["label"], g["cases"], g["closed"], g["before_contacts"], g["before_cost_gbp"],
                         g["after_contacts"], g["after_cost_gbp"], g["difference_contacts"], g["difference_cost_gbp"]])
        sheets.append(("Groups", rows))
        if impact.comparison:
            c = impact.comparison
            rows = [["group", "when", "contacts", "cost_gbp"]]
            for side, words in (("cases_total", "Cases"), ("comparison_total", "Comparison group")):
                for when in ("before", "after", "change"):
                    rows.append([words, when, c[side][when]["contacts"], c[side][when]["cost_gbp"]])
            did = c["difference_in_differences"]
            rows.append(["Difference in differences", f"{c['matched']} pairs", did["contacts"], did["cost_gbp"]])
            sheets.append(("Comparison", rows))
    outcomes = outcomes_for_report(impact)
    if outcomes is not None:
        rows = [["need_category", "needs", *(f"at_closure_{k}" for k in AT_CLOSURE),
                 *(f"six_months_{k}" for k in SIX_MONTHS), "sustained"]]
        for row in [*outcomes.categories, outcomes.total]:
            rows.append([row.category, row.needs, *(row.at_closure[k] for k in AT_CLOSURE),
                         *(row.six_months[k] for k in SIX_MONTHS), row.sustained])
        sheets.append(("Outcomes", rows))
    if savings is not None and savings.result is not None:
        r = savings.result
        rows = [["input", "value"], *[[what, value] for what, value in r["inputs"]]]
        sheets.append(("Inputs", rows))
        rows = [["figure", "value"], *[[f"Present value: {PV_WORDS[k]}", v] for k, v in r["present_value_gbp"].items()],
                ["Cost (present value)", r["cost_gbp"]], ["Net present value", r["net_present_value_gbp"]],
                ["Financial return on investment", r["financial_roi"]],
                ["Public-value return on investment", r["public_value_roi"]],
                ["Payback year", r["payback_year"] or "none within the years counted"]]
        sheets.append(("Savings", rows))
        rows = [["agency", "pays_gbp", "saves_gbp", "net_gbp"],
                *[[w["agency"], w["pays"], w["saves"], w["net"]] for w in who_rows(r)]]
        sheets.append(("Who pays and saves", rows))
    return sheets


def _downloadable(request):
    form, impact, savings = _reports(request, export=True)
    if impact is None:
        return None, None
    return impact, savings


@login_required
@require_GET
def impact_csv(request):
    impact, savings = _downloadable(request)
    if impact is None:
        return HttpResponse("The cohort or an input is not valid: correct it on the Impact page.", status=400,
                            content_type="text/plain; charset=utf-8")
    response, writer = csv_response("impact.csv")
    for name, rows in table_rows(impact, savings):
        writer.writerow(["table", *rows[0]])
        writer.writerows([name, *row] for row in rows[1:])
    return response


@login_required
@require_GET
def impact_xlsx(request):
    from openpyxl import Workbook

    impact, savings = _downloadable(request)
    if impact is None:
        return HttpResponse("The cohort or an input is not valid: correct it on the Impact page.", status=400,
                            content_type="text/plain; charset=utf-8")
    book = Workbook()
    book.remove(book.active)
    notes = book.create_sheet("About")
    notes.append(["Cohort", neutralise(impact.cohort.describe())])
    notes.append(["Months before and after", impact.months])
    notes.append(["Counted up to", impact.today.isoformat()])
    if impact.withheld:
        notes.append(["Withheld", impact.withheld])
    for name, rows in table_rows(impact, savings):
        sheet = book.create_sheet(name[:31])
        for row in rows:
            sheet.append([neutralise(v) if isinstance(v, str) else float(v) if isinstance(v, Decimal) else v
                          for v in row])
    out = io.BytesIO()
    book.save(out)
    return HttpResponse(out.getvalue(), content_type=XLSX,
                        headers={"Content-Disposition": content_disposition_header(True, "impact.xlsx")})


def outcomes_for_report(impact):
    """Outcomes per need category of the cohort's closed cases (counts only); None when the cohort is withheld."""
    if impact.withheld:
        return None
    return outcomes_for(impact.cohort.cases(), today=impact.today)


@login_required
@require_GET
def impact_pdf(request):
    """A board report: a cover page of headline figures, then method, assumptions, per-agency table and outcomes."""
    from weasyprint import HTML

    form, impact, savings = _reports(request, export=True)
    if impact is None:
        return HttpResponse("The cohort or an input is not valid: correct it on the Impact page.", status=400,
                            content_type="text/plain; charset=utf-8")
    context = page_context(form, impact, savings)
    html = render_to_string("web/impact/report.html", context, request=request)
    pdf = HTML(string=html).write_pdf()  # everything inline: the report fetches nothing
    return HttpResponse(pdf, content_type="application/pdf",
                        headers={"Content-Disposition": content_disposition_header(True, "impact-report.pdf")})
