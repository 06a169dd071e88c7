"""Measures: the dashboard by tier, a measure's page (XmR chart, signals, baselines, forecast, leading
indicators, table, CSV), the definitions, and the forms partnership administrators use to change them."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_http_methods

from onecase.audit.services import client_ip
from onecase.concurrency import Conflict, parse_version
from onecase.exports import csv_response
from onecase.measures.models import Cohort, DemandFilter, Measure, Period, Source, Statistic, Tier
from onecase.measures.rules import may_edit_measures, may_see_measures
from onecase.measures.selectors import (
    definition_choices,
    definition_rows,
    measure_editable,
    measure_read,
    measures_dashboard_read,
    measures_visible_to,
)
from onecase.measures.services import baseline_add, measure_update
from onecase.measures.xmr import SIGNALS
from onecase.web.case_views import conflict_context
from onecase.web.spc_charts import forecast_svg, moving_range_svg, small_xmr_svg, xmr_svg

REFUSED = "Measures are partnership aggregates: the partnership and analysts see them."


def _svg(svg: str) -> SafeString:
    """A chart from ``spc_charts``, which escapes every text it draws, as markup for the template."""
    if isinstance(svg, SafeString):
        return svg
    return mark_safe(svg)  # noqa: S308  # nosec B308 B703  (spc_charts escapes every text where it is built)


def _plain(value) -> int | float:
    """A number for the CSV: whole numbers without a decimal point."""
    value = float(value)
    return int(value) if value.is_integer() else round(value, 4)


def _require_see(user):
    if not may_see_measures(user):
        raise PermissionDenied(REFUSED)


def _signal_words(codes) -> str:
    return "; ".join(SIGNALS.get(code, code) for code in codes)


@login_required
@require_GET
def measures_dashboard(request):
    """Every measure by tier: a small chart each, with its latest signal in words."""
    _require_see(request.user)
    tiers = measures_dashboard_read(request.user, ip=client_ip(request))
    sections = []
    for tier, rows in tiers.items():
        items = []
        for row in rows:
            chart = (
                _svg(small_xmr_svg(row.chart, title=row.measure.name, chart_id=f"small-{row.measure.slug}"))
                if row.chart is not None
                else ""
            )
            items.append(
                {
                    "measure": row.measure,
                    "chart": chart,
                    "signal": row.signal,
                    "latest": row.series[-1] if row.series else None,
                }
            )
        sections.append({"tier": tier, "label": Tier(tier).label, "items": items})
    return render(
        request, "web/measures/dashboard.html", {"sections": sections, "may_edit": may_edit_measures(request.user)}
    )


@login_required
@require_GET
def measure_definitions(request):
    """The definitions of every measure, in words, with the code the command line takes."""
    _require_see(request.user)
    rows = [{"measure": m, "definition": definition_rows(m)} for m in measures_visible_to(request.user)]
    return render(request, "web/measures/definitions.html", {"rows": rows, "may_edit": may_edit_measures(request.user)})


def _read(request, slug: str, **options):
    _require_see(request.user)
    try:
        return measure_read(request.user, slug, ip=client_ip(request), **options)
    except Measure.DoesNotExist:
        raise Http404("No measure has that code.") from None


class BaselineForm(forms.Form):
    start = forms.CharField(
        label="First period",
        max_length=8,
        help_text="For example, 2024-01.",
        error_messages={"required": "Enter the first period of the baseline, like 2024-01."},
    )
    end = forms.CharField(
        label="Last period",
        max_length=8,
        help_text="For example, 2024-12.",
        error_messages={"required": "Enter the last period of the baseline, like 2024-12."},
    )
    reason = forms.CharField(
        label="Why this baseline",
        widget=forms.Textarea,
        max_length=2000,
        required=False,
        help_text="For example, a sustained shift after the new front door opened.",
    )

    def __init__(self, *args, period: str = "month", **kwargs):
        super().__init__(*args, **kwargs)
        first, last = ("2024-W01", "2024-W52") if period == "week" else ("2024-01", "2024-12")
        for name, example, words in (("start", first, "first"), ("end", last, "last")):
            self.fields[name].help_text = f"For example, {example}."
            self.fields[name].error_messages["required"] = f"Enter the {words} period of the baseline, like {example}."


def _page(request, slug: str, *, baseline_form=None, status=200):
    view = _read(request, slug)
    measure = view.measure
    unit = view.unit
    charts = {}
    points = []
    if view.chart is not None:
        charts["x"] = _svg(
            xmr_svg(
                view.chart,
                title=f"{measure.name}: values and natural process limits",
                unit=unit,
                chart_id="measure-x",
            )
        )
        charts["mr"] = _svg(
            moving_range_svg(
                view.chart,
                title=f"{measure.name}: moving ranges",
                unit=unit,
                chart_id="measure-mr",
            )
        )
        points = [{"point": p, "signals": _signal_words(p.signals)} for p in view.chart.points]
    forecasts = []
    for i, f in enumerate(view.forecasts):
        chart = (
            _svg(
                forecast_svg(
                    view.series,
                    f,
                    title=f"{measure.name}: {f.label}",
                    unit=unit,
                    chart_id=f"measure-forecast-{i}",
                )
            )
            if f.points
            else ""
        )
        forecasts.append({"forecast": f, "chart": chart, "level": round(f.level * 100)})
    if baseline_form is None and may_edit_measures(request.user):
        baseline_form = BaselineForm(auto_id="baseline-%s", period=measure.period)
    return render(
        request,
        "web/measures/measure.html",
        {
            "view": view,
            "measure": measure,
            "charts": charts,
            "points": points,
            "forecasts": forecasts,
            "signalled": [row for row in points if row["signals"]],
            "leads": view.leads[:5],
            "unit": unit,
            "baseline_form": baseline_form,
            "may_edit": may_edit_measures(request.user),
            "tier": Tier(measure.tier).label,
        },
        status=status,
    )


@login_required
@require_GET
def measure_page(request, slug: str):
    """One measure: its XmR chart and moving ranges, signals in words, baselines, forecast, leading
    indicators (Tier 2), a table and a CSV download."""
    return _page(request, slug)


@login_required
@require_GET
def measure_csv(request, slug: str):
    """The measure's values, limits and signals per period, as CSV."""
    view = _read(request, slug, horizon=0, leading=False, export=True)
    response, writer = csv_response(f"measure-{view.measure.slug}.csv")
    writer.writerow(
        ["period", "measure", "value", "moving_range", "mean", "lower_limit", "upper_limit", "baseline", "signals"]
    )
    if view.chart is None:
        writer.writerows(
            [period, view.measure.name, _plain(value), "", "", "", "", "", ""] for period, value in view.series
        )
        return response
    for p in view.chart.points:
        baseline = view.chart.baselines[p.baseline]
        writer.writerow(
            [
                p.period,
                view.measure.name,
                _plain(p.value),
                "" if p.moving_range is None else _plain(p.moving_range),
                _plain(p.mean),
                _plain(p.lnpl),
                _plain(p.unpl),
                f"{baseline.start} to {baseline.end}",
                _signal_words(p.signals),
            ]
        )
    return response


@login_required
@require_http_methods(["GET", "POST"])
def measure_baseline_add(request, slug: str):
    """Add a baseline period (partnership administrators): the limits are worked out again from it."""
    if not may_edit_measures(request.user):
        raise PermissionDenied("Only partnership administrators set baselines.")
    try:
        measure = measure_editable(request.user, slug)
    except Measure.DoesNotExist:
        raise Http404("No measure has that code.") from None
    form = BaselineForm(request.POST or None, auto_id="baseline-%s", period=measure.period)
    if request.method == "POST" and form.is_valid():
        try:
            baseline_add(actor=request.user, measure=measure, ip=client_ip(request), **form.cleaned_data)
        except ValidationError as error:
            for name, problems in error.message_dict.items():
                form.add_error(name if name in form.fields else None, problems)
        else:
            messages.success(request, "Baseline added: the limits are worked out from it.")
            return redirect("web:measure", slug=measure.slug)
    if request.method == "POST":
        return _page(request, slug, baseline_form=form)
    return render(request, "web/measures/baseline.html", {"measure": measure, "form": form})


class MeasureForm(forms.Form):
    name = forms.CharField(label="Name", max_length=150, error_messages={"required": "Enter a name for the measure."})
    description = forms.CharField(
        label="What it counts and why",
        widget=forms.Textarea,
        max_length=4000,
        error_messages={"required": "Describe in plain words what the measure counts and why."},
    )
    tier = forms.TypedChoiceField(label="Tier", choices=Tier.choices, coerce=int)
    owner = forms.ChoiceField(label="Owner", required=False)
    period = forms.ChoiceField(label="Counted per", choices=Period.choices)
    source = forms.ChoiceField(label="Source", choices=Source.choices)
    statistic = forms.ChoiceField(label="What is counted", choices=Statistic.choices)
    agencies = forms.MultipleChoiceField(label="Agencies", required=False, help_text="None ticked counts every agency.")
    contact_types = forms.CharField(
        label="Contact types",
        required=False,
        max_length=2000,
        help_text="As the agencies send them, separated by commas; empty for every type.",
    )
    need_categories = forms.MultipleChoiceField(
        label="Need categories", required=False, help_text="None ticked counts every need category."
    )
    demand_class = forms.ChoiceField(label="Demand", choices=DemandFilter.choices, required=False)
    postcode_district = forms.CharField(
        label="Postcode district", required=False, max_length=4, help_text="For example ST1; empty for everywhere."
    )
    cohort = forms.ChoiceField(label="Who", choices=Cohort.choices)
    series_name = forms.ChoiceField(
        label="Street-crime series", required=False, help_text="For a measure whose source is street crime."
    )
    series_lsoa = forms.CharField(
        label="Small area (LSOA code)",
        required=False,
        max_length=9,
        help_text="For example E01000001; empty for the whole area.",
    )
    series_decile = forms.TypedChoiceField(
        label="Deprivation decile",
        required=False,
        coerce=int,
        empty_value=None,
        choices=[
            ("", "Every area"),
            *[(d, f"Decile {d}" + (" (most deprived)" if d == 1 else "")) for d in range(1, 11)],
        ],
    )

    def __init__(self, *args, choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", "The partnership"), *choices["agencies"]]
        self.fields["agencies"].choices = choices["agencies"]
        self.fields["need_categories"].choices = choices["need_categories"]
        self.fields["series_name"].choices = [("", "None"), *choices["series"]]


def _initial(measure: Measure) -> dict:
    return {
        "name": measure.name,
        "description": measure.description,
        "tier": measure.tier,
        "owner": measure.owner.code if measure.owner else "",
        "period": measure.period,
        "source": measure.source,
        "statistic": measure.statistic,
        "agencies": measure.agencies,
        "contact_types": ", ".join(measure.contact_types),
        "need_categories": measure.need_categories,
        "demand_class": measure.demand_class,
        "postcode_district": measure.postcode_district,
        "cohort": measure.cohort,
        "series_name": measure.series_name,
        "series_lsoa": measure.series_lsoa,
        "series_decile": measure.series_decile or "",
    }


def _choices_with(choices: dict, measure: Measure) -> dict:
    """The form's choices, keeping a series the measure names even when it is not imported yet."""
    series = list(choices["series"])
    if measure.series_name and measure.series_name not in {name for name, _ in series}:
        series.append((measure.series_name, "A street-crime series not imported yet"))
    return {**choices, "series": series}


@login_required
@require_http_methods(["GET", "POST"])
def measure_edit(request, slug: str):
    """Change a measure's definition (partnership administrators), refusing to overwrite someone else's change."""
    if not may_edit_measures(request.user):
        raise PermissionDenied("Only partnership administrators change measures.")
    try:
        measure = measure_editable(request.user, slug)
    except Measure.DoesNotExist:
        raise Http404("No measure has that code.") from None
    choices = _choices_with(definition_choices(), measure)
    conflict = None
    status = 200
    if request.method == "POST":
        form = MeasureForm(request.POST, choices=choices)
        version = parse_version(request.POST.get("version"))
        if form.is_valid():
            data = dict(form.cleaned_data)
            data["owner"] = data["owner"] or None
            try:
                measure_update(
                    actor=request.user, measure=measure, expected_version=version or 0, ip=client_ip(request), **data
                )
            except Conflict as error:
                current = error.current
                theirs = _summary(current.name, current.description, current.tier)
                yours = _summary(*(form.cleaned_data[k] for k in ("name", "description", "tier")))
                conflict = conflict_context(current, version, theirs, yours, retry=True)
                form = MeasureForm(initial=_initial(current), choices=choices)
                measure = current
                status = 409
            except ValidationError as error:
                for name, problems in error.message_dict.items():
                    form.add_error(name if name in form.fields else None, problems)
            else:
                messages.success(request, "Measure changed.")
                return redirect("web:measure", slug=measure.slug)
    else:
        form = MeasureForm(initial=_initial(measure), choices=choices)
    return render(
        request,
        "web/measures/edit.html",
        {"measure": measure, "form": form, "conflict": conflict, "version": measure.version},
        status=status,
    )


def _summary(name: str, description: str, tier: int) -> list[tuple[str, str]]:
    """What a conflict page compares: the name, the description and the tier, in words."""
    return [
        ("Name", name),
        ("What it counts and why", description),
        ("Tier", Tier(tier).label if tier in Tier.values else ""),
    ]
