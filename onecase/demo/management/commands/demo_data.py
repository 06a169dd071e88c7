"""`onecase demo_data`: generate the synthetic demo partnership (see onecase/demo/generator.py) and load it."""

import sys
import time
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from onecase.accounts.models import Agency
from onecase.accounts.services import agency_create
from onecase.arguments import iso_date
from onecase.contacts.models import Contact, NeedCategory, NeedKeyword
from onecase.contacts.needs import load_default_taxonomy
from onecase.costs.services import apply_default_costs
from onecase.demo import generator
from onecase.demo.agreements import load_demo_agreements
from onecase.demo.cases import load_demo_cases
from onecase.demo.measures import load_demo_measures
from onecase.demo.meetings import load_demo_meetings
from onecase.imports.services import ImportRejected, import_contacts
from onecase.linkage.services import link_run
from onecase.meetings.models import Series
from onecase.people.models import Household
from onecase.sharing.services import break_glass_roles_default


class Command(BaseCommand):
    help = (
        "Generate the demo partnership: a synthetic city, one contact file per agency (12 agencies, two years) "
        "and the hidden truth behind them, then load the files. Synthetic data only."
    )

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=generator.DEFAULT_SEED, help="Same seed, same files.")
        parser.add_argument("--people", type=int, default=generator.DEFAULT_PEOPLE, help="People in the city.")
        parser.add_argument(
            "--end-date", type=iso_date, default=None,
            help=f"Last day of the {generator.WINDOW_MONTHS}-month window (default: the end of last month, "
            "so the demand is recent; give a date for files that never change).",
        )
        parser.add_argument("--out", type=Path, help="Folder for the files (default: <ONECASE_DATA_DIR>/demo).")
        parser.add_argument("--truth", type=Path, help="Where to write truth.csv (default: OUT/truth.csv).")
        parser.add_argument("--no-load", action="store_true", help="Write the files but do not import them.")
        parser.add_argument("--no-progress", action="store_true", help="Do not draw progress bars.")

    def handle(self, *args, seed, people, end_date, out=None, truth=None, no_load=False, no_progress=False,
               verbosity=1, **options):
        out = out or Path(settings.DATA_DIR) / "demo"
        end_date = end_date or date.today().replace(day=1) - timedelta(days=1)
        show = not no_progress and verbosity > 0
        if not generator.MIN_PEOPLE <= people <= generator.MAX_PEOPLE:
            raise CommandError(f"--people must be {generator.MIN_PEOPLE:,} to {generator.MAX_PEOPLE:,}.")
        window = generator.window_for(end_date)
        if not no_load and window.start > date.today():
            raise CommandError("The window must start before today, or dates of birth would be in the future.")

        started = time.perf_counter()
        with _Bar(show) as bar:
            demo = generator.generate(seed=seed, people=people, end_date=end_date, progress=bar.stage)
        written = generator.write(demo, out, truth)
        generated = time.perf_counter() - started
        self._summary(demo, written, generated)
        if not no_load:
            self._load(demo, written, show)

    def _summary(self, demo, written, seconds: float) -> None:
        refs: dict[str, int] = {}
        for agency, *_ in demo.truth_refs:
            refs[agency] = refs.get(agency, 0) + 1
        write = self.stdout.write
        write(
            f"Demo partnership, seed {demo.seed}: {len(demo.people):,} people in {len(demo.households):,} households "
            f"at {len(demo.addresses):,} addresses ({demo.movers:,} households moved)."
        )
        write(f"Contacts {demo.window.start} to {demo.window.end}, generated in {seconds:.1f} s:")
        write(f"  {'agency':<10} {'contacts':>9} {'agency people':>14}")
        for spec in generator.AGENCIES:
            write(f"  {spec.code:<10} {len(demo.rows[spec.code]):>9,} {refs.get(spec.code, 0):>14,}")
        write(f"  {'total':<10} {demo.contacts:>9,} {len(demo.truth_refs):>14,}")
        planted = ", ".join(f"{f['key']} ({f['true_household_id']}, {f['contacts']:,})" for f in demo.families)
        write(f"Planted households (contacts): {planted}.")
        write(f"Wrote {len(written.agency_files)} agency files, {demo.contacts:,} rows, to {written.out_dir}.")
        write(
            f"The truth (not imported): {written.truth}, and {written.truth_contacts.name}, "
            f"{written.truth_families.name} and {written.truth_needs.name} beside the agency files."
        )

    def _load(self, demo, written, show: bool) -> None:
        started = time.perf_counter()
        for spec in generator.AGENCIES:
            agency = Agency.objects.filter(code=spec.code).first()
            if agency is None:
                agency_create(actor=None, code=spec.code, name=spec.name, sector=spec.sector)
            else:
                break_glass_roles_default(actor=None, agency=agency)  # who may break the glass, where unset
        totals = {"rows": 0, "created": 0, "updated": 0, "unchanged": 0}
        bar = tqdm(total=demo.contacts, unit=" rows", desc="loading", file=sys.stderr, disable=not show,
                   dynamic_ncols=True, leave=False)
        try:
            for code, path in written.agency_files.items():
                offset = totals["rows"]

                def progress(done, total, offset=offset):
                    bar.n = offset + done
                    bar.refresh()

                bar.set_description(f"loading {code}")
                try:
                    result = import_contacts(actor=None, path=path, agency_code=code, progress=progress)
                except ImportRejected as exc:
                    problems = "; ".join(str(p) for p in exc.problems[:5])
                    raise CommandError(f"{path.name} was rejected: {problems}") from None
                for key in totals:
                    totals[key] += getattr(result, key)
        finally:
            bar.close()
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"Loaded {len(written.agency_files)} agencies: {totals['rows']:,} rows ({totals['created']:,} new, "
            f"{totals['updated']:,} updated, {totals['unchanged']:,} unchanged) in {seconds:.1f} s."
        )
        self._prepare(demo)

    def _prepare(self, demo) -> None:
        """What a partnership does after loading: costs, need categories, sharing agreements, linkage,
        meetings, and its historical cases from the old system."""
        costs = apply_default_costs(actor=None)
        costed = costs.created + costs.updated + costs.unchanged
        self.stdout.write(f"Unit costs: {costed} contact types costed at {costs.price_year} prices.")
        if not NeedCategory.objects.exists():
            load_default_taxonomy(NeedCategory, NeedKeyword)
        agreements = load_demo_agreements(starts_on=demo.window.start)
        self.stdout.write(f"Sharing agreements: {len(agreements)} recorded.")
        run = link_run(actor=None)
        self.stdout.write(
            f"Linkage: {run.records:,} agency people linked to {run.people:,} people in {run.households:,} households "
            f"({run.review_items:,} pairs to review) in {run.seconds:.1f} s."
        )
        # The link run placed every contact in a need category on the way (linkage.services.link_run).
        placed = Contact.objects.exclude(need_category=None).count()
        self.stdout.write(f"Need categories: {placed:,} contacts placed.")
        meetings = load_demo_meetings(end_date=demo.window.end)
        self.stdout.write(
            f"Meetings: {meetings.series} series, {meetings.meetings} meetings, {meetings.attendees} attendees, "
            f"{meetings.agenda_items} agenda items{_overlap(meetings.family_household_id)}."
        )
        try:
            cases = load_demo_cases(demo)
        except ImportRejected as exc:
            problems = "; ".join(str(p) for p in exc.problems[:5])
            raise CommandError(f"The historical cases were rejected: {problems}") from None
        self.stdout.write(
            f"Historical cases: {cases.rows} imported from the old system ({cases.created} new, "
            f"{cases.unchanged} unchanged), all closed, on the revolving-door households."
        )
        measures = load_demo_measures()
        self.stdout.write(
            f"Measures: {measures.created} starter measures defined, {measures.unchanged} already there"
            f"{f', {measures.skipped} skipped' if measures.skipped else ''}; place-based data: {measures.places}."
        )


def _overlap(household_id: int | None) -> str:
    """Where the planted family is discussed: its address and how many series have it on an agenda."""
    household = Household.objects.select_related("address").filter(pk=household_id).first()
    if household is None:
        return ""
    series = Series.objects.filter(meetings__agenda__household=household).distinct().count()
    return f" (the family at {household.address.line} is on the agendas of {series} series)"


class _Bar:
    """A tqdm bar on stderr that follows the generator's stages."""

    UNITS = {"demand": " households", "records": " agencies"}

    def __init__(self, show: bool):
        self.bar = tqdm(total=0, file=sys.stderr, disable=not show, dynamic_ncols=True, leave=False)
        self.name = ""

    def stage(self, name: str, done: int, total: int) -> None:
        if self.bar.disable:
            return
        if self.name != name:
            self.name = name
            self.bar.set_description(name)
            self.bar.unit = self.UNITS.get(name, "")
        self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.bar.close()
