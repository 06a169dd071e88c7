import json

from django.core.management.base import BaseCommand, CommandError

from onecase.arguments import iso_date
from onecase.cases.impact import WINDOW_MONTHS
from onecase.reports.impact_reports import Cohort, CohortError
from onecase.reports.selectors import impact_cohort_read


def cohort_arguments(parser) -> None:
    parser.add_argument("--months", type=int, default=WINDOW_MONTHS,
                        help="Length of the before and after windows in calendar months (default 12).")
    parser.add_argument("--cohort", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                        help="Which cases: opened_from=YYYY-MM-DD, opened_to=YYYY-MM-DD, agency=CODE (the key "
                             "worker's agency), need=CODE (a need category), imported=yes|no. Default: every case.")
    parser.add_argument("--today", type=iso_date, default=None, metavar="YYYY-MM-DD",
                        help="Count up to this UK date instead of today.")
    parser.add_argument("--json", action="store_true", dest="as_json", help="Print JSON.")


def cohort_from(options) -> Cohort:
    if options["months"] < 1:
        raise CommandError("--months: at least 1.", returncode=2)
    try:
        return Cohort.parse(options["cohort"])
    except CohortError as exc:
        raise CommandError(f"--cohort: {exc}", returncode=2) from None


class Command(BaseCommand):
    help = ("Cost per case before, during and after, and the old way against the new way, for a cohort of cases "
            "(docs/impact-method.md). Contacts and cost are the raw figures inside each window up to today.")

    def add_arguments(self, parser):
        cohort_arguments(parser)

    def handle(self, *args, **options):
        cohort = cohort_from(options)
        report = impact_cohort_read(None, cohort, months=options["months"], today=options["today"])
        data = report.as_json()
        if options["as_json"]:
            self.stdout.write(json.dumps(data, indent=1))
            return
        totals = data["totals"]
        self.stdout.write(f"{data['cohort']}: {len(data['cases'])} cases, windows of {data['months']} months, "
                          f"counted up to {data['today']}.")
        for name in ("before", "during", "after"):
            t = totals[name]
            self.stdout.write(f"{name}: {t['cases']} cases ({t['cases_complete']} complete), {t['contacts']:,} "
                              f"contacts, £{t['cost_gbp']}")
        if report.comparison and report.comparison["matched"]:
            did = report.comparison["difference_in_differences"]
            self.stdout.write(f"against {report.comparison['matched']} matched households or people without a case: "
                              f"difference in differences {did['contacts']:+,} contacts, £{did['cost_gbp']}")
