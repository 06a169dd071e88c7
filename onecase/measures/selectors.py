"""Reading measures: their definitions, their series (aggregates over the ledger, or a published
street-crime series), process behaviour charts, forecasts and leading indicators. Aggregates only,
for the roles that see partnership aggregates (``rules.may_see_measures``); the ``*_read`` functions
record the view."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied
from django.db.models import Case, Count, IntegerField, Max, Min, Q, QuerySet, Value, When
from django.utils import timezone

from onecase.accounts.models import Agency
from onecase.audit.models import AuditEvent
from onecase.audit.services import audit_record
from onecase.cases.models import LIVE_STATUSES
from onecase.cases.models import Case as CaseRow
from onecase.contacts.demand import demand_scope, ledger_for
from onecase.contacts.labels import contact_type_label
from onecase.contacts.models import NeedCategory
from onecase.measures.forecast import forecasts
from onecase.measures.leading import lagged_correlation
from onecase.measures.models import Measure, MeasureBaseline, Period, Source, Statistic, Tier
from onecase.measures.rules import may_edit_measures, may_see_measures
from onecase.measures.xmr import SIGNALS, xmr_chart
from onecase.places.series import police_series, police_series_label, police_series_names

UK = ZoneInfo("Europe/London")
SEASON = {Period.MONTH: 12, Period.WEEK: 52}

Series = list[tuple[str, float]]


def measures_visible_to(user) -> QuerySet[Measure]:
    """Every measure for those who see partnership aggregates (the command line too); none for anyone else."""
    if not may_see_measures(user):
        return Measure.objects.none()
    return Measure.objects.select_related("owner").order_by("tier", "name")


def measure_for(user, slug: str) -> Measure:
    """One measure by its code; PermissionDenied before existence, then Measure.DoesNotExist."""
    if not may_see_measures(user):
        raise PermissionDenied("Measures are partnership aggregates: the partnership and analysts see them.")
    return measures_visible_to(user).get(slug=slug)


def measure_editable(user, slug: str) -> Measure:
    """A measure to change: partnership administrators only."""
    if not may_edit_measures(user):
        raise PermissionDenied("Only partnership administrators change measures.")
    return Measure.objects.select_related("owner").get(slug=slug)


def baselines_of(measure: Measure) -> list[MeasureBaseline]:
    """A measure's baseline history, oldest period first, with who set each."""
    return list(MeasureBaseline.objects.filter(measure=measure).select_related("created_by").order_by("start"))


# Periods (UK local time) ------------------------------------------------------------------------


def month_label(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def week_label(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year:04d}-W{week:02d}"


def period_start(label: str) -> dt.date:
    """The first day of a month ("YYYY-MM") or ISO week ("YYYY-Www")."""
    if "-W" in label:
        year, week = label.split("-W")
        return dt.date.fromisocalendar(int(year), int(week), 1)
    return dt.date(int(label[:4]), int(label[5:7]), 1)


def period_of(day: dt.date, period: str) -> str:
    return week_label(day) if period == Period.WEEK else month_label(day)


def _next_start(start: dt.date, period: str) -> dt.date:
    if period == Period.WEEK:
        return start + dt.timedelta(days=7)
    return dt.date(start.year + start.month // 12, start.month % 12 + 1, 1)


def periods_between(first: dt.date, last: dt.date, period: str) -> list[str]:
    """Labels of every period from the one holding ``first`` to the one holding ``last``."""
    labels: list[str] = []
    start = period_start(period_of(first, period))
    while start <= last:
        labels.append(period_of(start, period))
        start = _next_start(start, period)
    return labels


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=UK)


def last_complete_day(period: str, today: dt.date | None = None) -> dt.date:
    """The last day of the last whole period before today (UK)."""
    today = today or timezone.localdate()
    return period_start(period_of(today, period)) - dt.timedelta(days=1)


# Series ---------------------------------------------------------------------------------------


def _ledger(user, measure: Measure):
    contacts = ledger_for(demand_scope(user)).order_by()
    if measure.agencies:
        contacts = contacts.filter(agency__code__in=measure.agencies)
    if measure.contact_types:
        contacts = contacts.filter(contact_type__in=measure.contact_types)
    if measure.need_categories:
        contacts = contacts.filter(need_category__code__in=measure.need_categories)
    if measure.demand_class:
        contacts = contacts.filter(demand_class=measure.demand_class)
    if measure.postcode_district:
        contacts = contacts.filter(address__postcode__startswith=f"{measure.postcode_district} ")
    if measure.cohort == "live_case":
        live = CaseRow.objects.filter(status__in=LIVE_STATUSES)
        contacts = contacts.filter(
            Q(household_id__in=live.filter(household__isnull=False).values("household_id"))
            | Q(person_id__in=live.filter(person__isnull=False).values("person_id"))
        )
    return contacts


def ledger_range(user, period: str, *, today: dt.date | None = None) -> tuple[dt.date, dt.date] | None:
    """The days the ledger covers for ``user`` (UK), up to the last whole period: None when empty."""
    span = ledger_for(demand_scope(user)).order_by().aggregate(first=Min("occurred_at"), last=Max("occurred_at"))
    if span["first"] is None:
        return None
    first = span["first"].astimezone(UK).date()
    last = min(span["last"].astimezone(UK).date(), last_complete_day(period, today))
    return (first, last) if last >= first else None


def _ledger_series(user, measure: Measure, since: dt.date | None, until: dt.date | None) -> Series:
    if since is None or until is None:
        span = ledger_range(user, measure.period)
        if span is None:
            return []
        since, until = since or span[0], until or span[1]
    labels = periods_between(since, until, measure.period)
    if not labels:
        return []
    starts = [_midnight(period_start(label)) for label in labels]
    starts.append(_midnight(_next_start(period_start(labels[-1]), measure.period)))
    # Each contact's period by comparing with the periods' starts in UK time: no conversion per row.
    bucket = Case(
        *(When(occurred_at__lt=end, then=Value(n)) for n, end in enumerate(starts[1:])),
        default=Value(-1),
        output_field=IntegerField(),
    )
    counted = {
        Statistic.CONTACTS: Count("pk"),
        Statistic.HOUSEHOLDS: Count("household_id", distinct=True),
        Statistic.PEOPLE: Count("person_id", distinct=True),
    }[measure.statistic]
    rows = (
        _ledger(user, measure)
        .filter(occurred_at__gte=starts[0], occurred_at__lt=starts[-1])
        .annotate(bucket=bucket)
        .values("bucket")
        .annotate(n=counted)
        .values_list("bucket", "n")
    )
    counts = dict(rows)
    return [(label, counts.get(i, 0)) for i, label in enumerate(labels)]


def _police_series(measure: Measure, since: dt.date | None, until: dt.date | None) -> Series:
    try:
        series = police_series(measure.series_name, lsoa=measure.series_lsoa or None, decile=measure.series_decile)
    except (LookupError, ValueError):  # a series not imported (yet): nothing to count
        return []
    low = month_label(since) if since else ""
    high = month_label(until) if until else "9999-99"
    return [(label, value) for label, value in series if low <= label <= high]


def measure_series(user, measure: Measure, *, since: dt.date | None = None, until: dt.date | None = None) -> Series:
    """The measure's value per period, oldest first, every period from ``since`` to ``until`` (UK dates,
    inclusive; default: the ledger's first contact to the last whole period) with zeros where nothing
    was counted. A street-crime measure follows its published months."""
    if not may_see_measures(user):
        raise PermissionDenied("Measures are partnership aggregates: the partnership and analysts see them.")
    if measure.source == Source.POLICE:
        return _police_series(measure, since, until)
    return _ledger_series(user, measure, since, until)


# Definitions in words ---------------------------------------------------------------------------


def source_label(measure: Measure) -> str:
    """Where the numbers come from, in plain words."""
    if measure.source == Source.POLICE:
        try:
            label = police_series_label(measure.series_name)
        except LookupError:
            label = "Street crime published by the police"
        if measure.series_lsoa:
            label += f", in the small area {measure.series_lsoa}"
        if measure.series_decile:
            label += f", in the areas of deprivation decile {measure.series_decile} (1 is the most deprived)"
        return label
    return "Contacts recorded in the demand ledger"


def definition_rows(measure: Measure) -> list[tuple[str, str]]:
    """The definition as (label, value) rows in plain words: names, never codes."""
    agencies = dict(Agency.objects.values_list("code", "name"))
    categories = dict(NeedCategory.objects.values_list("code", "name"))
    rows = [
        ("Tier", Tier(measure.tier).label),
        ("Owner", measure.owner.name if measure.owner else "The partnership"),
        ("Counted per", measure.get_period_display().lower()),
        ("Source", source_label(measure)),
    ]
    if measure.source == Source.LEDGER:
        rows.append(("What is counted", measure.get_statistic_display()))
        rows.append(("Agencies", ", ".join(agencies.get(c, c) for c in measure.agencies) or "Every agency"))
        rows.append(
            ("Contact types", ", ".join(contact_type_label(t) for t in measure.contact_types) or "Every contact type")
        )
        rows.append(
            (
                "Need categories",
                ", ".join(categories.get(c, c) for c in measure.need_categories) or "Every need category",
            )
        )
        rows.append(("Demand", measure.get_demand_class_display()))
        rows.append(
            ("Place", f"Postcode district {measure.postcode_district}" if measure.postcode_district else "Everywhere")
        )
        rows.append(("Who", measure.get_cohort_display()))
    return rows


# Charts, forecasts, leading indicators ---------------------------------------------------------------


@dataclass
class MeasureView:
    """Everything a measure's page shows."""

    measure: Measure
    series: Series
    baselines: list[MeasureBaseline]
    chosen: list[tuple[str, str]]  # the baselines the chart uses
    chart: object | None  # xmr.Chart
    forecasts: list = field(default_factory=list)  # forecast.Forecast, both methods
    leads: list[tuple[Measure, object]] = field(default_factory=list)  # (Tier 3 measure, leading.Lead)
    definition: list[tuple[str, str]] = field(default_factory=list)
    note: str = ""  # why there is no chart, or why the chosen baselines were not used

    @property
    def unit(self) -> str:
        return self.measure.get_statistic_display().lower() if self.measure.source == Source.LEDGER else "crimes"


def latest_signal(chart) -> str:
    """The latest point's signals in words, or that nothing unusual shows."""
    if chart is None or not chart.points:
        return "Not enough data for a chart yet."
    last = chart.points[-1]
    if not last.signals:
        return "No signal: the variation is routine."
    return "; ".join(SIGNALS.get(code, code) for code in last.signals) + "."


def chart_for(series: Series, chosen: list[tuple[str, str]], *, strict: bool = False) -> tuple[object | None, str]:
    """The XmR chart over ``series`` with ``chosen`` baselines, falling back to the whole series when they
    cannot be used (the note says why; with ``strict``, ValueError instead)."""
    if len(series) < 2:
        return None, "There are fewer than two points, so no limits can be worked out yet."
    if chosen:
        try:
            return xmr_chart(series, baselines=chosen), ""
        except ValueError as exc:
            if strict:
                raise
            note = f"The baselines could not be used ({exc}), so the limits come from every point shown."
            return xmr_chart(series), note
    return xmr_chart(series), "No baseline has been chosen, so the limits come from every point shown."


def _leads(user, measure: Measure, series: Series) -> list[tuple[Measure, object]]:
    found = []
    for other in measures_visible_to(user).filter(tier=Tier.PARTNERSHIP, period=measure.period):
        follower = measure_series(user, other)
        if len(follower) < 3:
            continue
        lead = lagged_correlation(series, follower)
        if lead.best is not None:
            found.append((other, lead))
    return sorted(found, key=lambda pair: -abs(pair[1].best.r))


def measure_view(
    user,
    measure: Measure,
    *,
    baselines: list[tuple[str, str]] | None = None,
    horizon: int = 6,
    leading: bool = True,
    strict: bool = False,
    since=None,
    until=None,
) -> MeasureView:
    """A measure's series, chart (``baselines`` given, else its recorded ones), forecasts and, for a
    Tier 2 measure, its lagged correlation with each Tier 3 measure. Records nothing. With ``strict``,
    baselines that cannot be used raise ValueError (plain words) instead of falling back."""
    series = measure_series(user, measure, since=since, until=until)
    history = baselines_of(measure)
    chosen = baselines if baselines is not None else [(b.start, b.end) for b in history]
    chart, note = chart_for(series, chosen, strict=strict and baselines is not None)
    view = MeasureView(measure, series, history, chosen, chart, definition=definition_rows(measure), note=note)
    if horizon and series:
        view.forecasts = forecasts(series, horizon=horizon, season=SEASON[measure.period])
    if leading and measure.tier == Tier.FRONT_DOOR and len(series) >= 3:
        view.leads = _leads(user, measure, series)
    return view


def measure_read(
    user,
    slug: str,
    *,
    baselines: list[tuple[str, str]] | None = None,
    horizon: int = 6,
    leading: bool = True,
    strict: bool = False,
    ip=None,
    api: bool = False,
    export: bool = False,
) -> MeasureView:
    """``measure_view`` of the measure ``slug``, recording the view (or export): counts only."""
    measure = measure_for(user, slug)
    view = measure_view(user, measure, baselines=baselines, horizon=horizon, leading=leading, strict=strict)
    audit_record(
        user=user,
        action=AuditEvent.Action.EXPORT if export else AuditEvent.Action.VIEW,
        object_type="measure",
        object_id=measure.pk,
        ip=ip,
        detail={"points": len(view.series), "api": api},
    )
    return view


@dataclass
class DashboardRow:
    measure: Measure
    series: Series
    chart: object | None
    signal: str


def measures_dashboard_read(user, *, ip=None, api: bool = False) -> dict[int, list[DashboardRow]]:
    """Every measure's chart and latest signal, by tier, recording the view."""
    if not may_see_measures(user):
        raise PermissionDenied("Measures are partnership aggregates: the partnership and analysts see them.")
    tiers: dict[int, list[DashboardRow]] = {t: [] for t in Tier.values}
    measures = list(measures_visible_to(user))
    chosen: dict[int, list[tuple[str, str]]] = {}
    for b in MeasureBaseline.objects.filter(measure__in=measures).order_by("start"):
        chosen.setdefault(b.measure_id, []).append((b.start, b.end))
    for measure in measures:
        series = measure_series(user, measure)
        chart, _ = chart_for(series, chosen.get(measure.pk, []))
        tiers[measure.tier].append(DashboardRow(measure, series, chart, latest_signal(chart)))
    audit_record(
        user=user,
        action=AuditEvent.Action.SEARCH,
        object_type="measures",
        ip=ip,
        detail={"measures": len(measures), "api": api},
    )
    return tiers


def forecast_json(result) -> dict:
    """One forecast as JSON: method, level, points with their interval, and its backtest error."""
    return {
        "method": result.method,
        "label": result.label,
        "level": result.level,
        "note": result.note,
        "backtest": {"holdout": result.holdout, "mae": result.backtest_mae, "mase": result.backtest_mase},
        "points": [{"period": p.period, "value": p.value, "lower": p.lower, "upper": p.upper} for p in result.points],
    }


def measure_json(measure: Measure) -> dict:
    """A measure's definition as JSON (codes, for machines)."""
    return {
        "slug": measure.slug,
        "name": measure.name,
        "description": measure.description,
        "tier": measure.tier,
        "owner": measure.owner.code if measure.owner else None,
        "period": measure.period,
        "source": measure.source,
        "statistic": measure.statistic,
        "version": measure.version,
        "filters": {
            "agencies": measure.agencies,
            "contact_types": measure.contact_types,
            "need_categories": measure.need_categories,
            "demand_class": measure.demand_class or None,
            "postcode_district": measure.postcode_district or None,
            "cohort": measure.cohort,
            "series": measure.series_name or None,
            "lsoa": measure.series_lsoa or None,
            "decile": measure.series_decile,
        },
    }


def definition_choices() -> dict[str, list[tuple[str, str]]]:
    """What a measure's definition may name, as (code, name): agencies, need categories and the
    street-crime series imported (reference data, not personal)."""
    series = [(name, police_series_label(name)) for name in police_series_names()]
    return {
        "agencies": list(Agency.objects.order_by("name").values_list("code", "name")),
        "need_categories": list(NeedCategory.objects.order_by("order", "name").values_list("code", "name")),
        "series": series,
    }
