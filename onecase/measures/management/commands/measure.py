"""`onecase measure list | xmr MEASURE | forecast MEASURE`: the partnership's measures at the command line."""

import json
import re

from django.core.management.base import BaseCommand, CommandError

from onecase.measures.models import Measure, Tier
from onecase.measures.selectors import SEASON, forecast_json, measure_read, measures_visible_to
from onecase.measures.xmr import SIGNALS, to_json

BASELINE = re.compile(r"^(\d{4}-(?:\d{2}|W\d{2})):(\d{4}-(?:\d{2}|W\d{2}))$")


def baseline_pair(value: str) -> tuple[str, str]:
    """A baseline written FIRST:LAST, each YYYY-MM (or YYYY-Www for a weekly measure)."""
    found = BASELINE.match(value.strip().upper())
    if not found:
        raise CommandError(f"--baseline {value!r}: write the first and last period as YYYY-MM:YYYY-MM.", returncode=2)
    return found.group(1), found.group(2)


def _number(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".")


class Command(BaseCommand):
    help = (
        "The partnership's measures: list them, print a measure's process behaviour (XmR) chart with its "
        "limits and signals, or its forecast. Counted over the whole partnership."
    )

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="action", required=True, metavar="list|xmr|forecast")
        commands.add_parser("list", help="Every measure: its code, tier and name.")
        xmr = commands.add_parser("xmr", help="A measure's XmR chart: mean, limits and the signals at each point.")
        xmr.add_argument("measure", help="The measure's code (see `onecase measure list`).")
        xmr.add_argument(
            "--baseline",
            action="append",
            default=[],
            metavar="YYYY-MM:YYYY-MM",
            help="A baseline period (repeat for each; default: the baselines recorded for the measure).",
        )
        xmr.add_argument("--json", action="store_true", dest="as_json", help="Print JSON.")
        forecast = commands.add_parser("forecast", help="A measure's forecast by both methods, with backtest errors.")
        forecast.add_argument("measure", help="The measure's code (see `onecase measure list`).")
        forecast.add_argument("--months", type=int, default=6, help="Periods ahead to forecast (default 6).")
        forecast.add_argument("--json", action="store_true", dest="as_json", help="Print JSON.")

    def handle(self, *args, action, **options):
        if action == "list":
            return self._list()
        try:
            measure = measures_visible_to(None).get(slug=options["measure"])
        except Measure.DoesNotExist:
            raise CommandError(
                f"No measure has the code {options['measure']!r}; `onecase measure list` shows them.", returncode=2
            ) from None
        if action == "xmr":
            return self._xmr(measure, [baseline_pair(b) for b in options["baseline"]] or None, options["as_json"])
        return self._forecast(measure, options["months"], options["as_json"])

    def _list(self):
        measures = list(measures_visible_to(None))
        width = max((len(m.slug) for m in measures), default=4)
        self.stdout.write(f"{'code':<{width}}  tier  name")
        for m in measures:
            self.stdout.write(f"{m.slug:<{width}}  {m.tier:>4}  {m.name}")
        self.stdout.write(
            f"{len(measures)} measures: "
            + ", ".join(f"{sum(m.tier == t for m in measures)} in tier {t}" for t in Tier.values)
            + "."
        )

    def _xmr(self, measure, baselines, as_json: bool):
        if baselines:
            for first, last in baselines:
                if ("-W" in first) != (measure.period == "week") or ("-W" in last) != (measure.period == "week"):
                    raise CommandError(
                        f"--baseline {first}:{last}: {measure.name} is counted per {measure.period}.", returncode=2
                    )
                if last <= first:
                    raise CommandError(
                        f"--baseline {first}:{last}: the last period must come after the first.", returncode=2
                    )
        try:
            view = measure_read(None, measure.slug, baselines=baselines, horizon=0, leading=False, strict=True)
        except ValueError as exc:
            raise CommandError(f"--baseline: {exc}", returncode=2) from None
        if view.chart is None:
            raise CommandError(f"{measure.name}: {view.note}", returncode=1)
        if as_json:
            self.stdout.write(json.dumps(to_json(view.chart), indent=1))
            return
        self.stdout.write(f"{measure.name} ({measure.get_period_display().lower()}ly, {view.unit})")
        for b in view.chart.baselines:
            self.stdout.write(
                f"Baseline {b.start} to {b.end}: mean {_number(b.mean)}, upper limit {_number(b.unpl)}, "
                f"lower limit {_number(b.lnpl)}, moving-range upper limit {_number(b.url)}."
            )
        if view.note:
            self.stdout.write(view.note)
        self.stdout.write(f"{'period':<9} {'value':>10} {'mean':>10} {'lower':>10} {'upper':>10}  signals")
        for p in view.chart.points:
            words = "; ".join(SIGNALS.get(s, s) for s in p.signals) or "-"
            self.stdout.write(
                f"{p.period:<9} {_number(p.value):>10} {_number(p.mean):>10} {_number(p.lnpl):>10} "
                f"{_number(p.unpl):>10}  {words}"
            )

    def _forecast(self, measure, months: int, as_json: bool):
        if not 1 <= months <= 36:
            raise CommandError("--months: a whole number from 1 to 36.", returncode=2)
        view = measure_read(None, measure.slug, horizon=months, leading=False)
        data = [forecast_json(f) for f in view.forecasts]
        if as_json:
            self.stdout.write(
                json.dumps(
                    {
                        "measure": measure.slug,
                        "period": measure.period,
                        "season": SEASON[measure.period],
                        "history": [{"period": p, "value": v} for p, v in view.series],
                        "forecasts": data,
                    },
                    indent=1,
                )
            )
            return
        self.stdout.write(f"{measure.name}: forecast {months} {measure.period}s ahead from {len(view.series)} points.")
        for f in data:
            back = f["backtest"]
            error = (
                f"backtest on the last {back['holdout']}: mean absolute error {_number(back['mae'])}, "
                f"scaled error {_number(back['mase'])}"
                if back["mae"] is not None
                else "no backtest"
            )
            self.stdout.write(f"\n{f['label']} ({error}). {f['note']}")
            if f["points"]:
                self.stdout.write(
                    f"{'period':<9} {'forecast':>10} {'lower':>10} {'upper':>10}  ({round(f['level'] * 100)}% interval)"
                )
            for p in f["points"]:
                self.stdout.write(
                    f"{p['period']:<9} {_number(p['value']):>10} {_number(p['lower']):>10} {_number(p['upper']):>10}"
                )
