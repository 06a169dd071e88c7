import json

from django.core.management.base import BaseCommand, CommandError

from onecase.reports.impact_reports import SAVINGS_INPUTS, CohortError, parse_savings_inputs
from onecase.reports.management.commands.impact import cohort_arguments, cohort_from
from onecase.reports.selectors import savings_read


class Command(BaseCommand):
    help = ("The cohort savings report in the HM Treasury / GMCA cost-benefit method: net present value, "
            "financial and public-value return, payback year, who pays and who saves (docs/impact-method.md).")

    def add_arguments(self, parser):
        cohort_arguments(parser)
        parser.add_argument("--input", nargs="+", action="extend", default=[], metavar="NAME=VALUE",
                            help="Change an input for this report (percentages as percent): "
                                 + ", ".join(i.name for i in SAVINGS_INPUTS) + ".")

    def handle(self, *args, **options):
        cohort = cohort_from(options)
        typed = {}
        for spec in options["input"]:
            name, sep, value = spec.partition("=")
            if not sep or name not in {i.name for i in SAVINGS_INPUTS}:
                raise CommandError(f"--input: {spec!r} is not NAME=VALUE with a known name.", returncode=2)
            typed[name] = value
        try:
            changes = parse_savings_inputs(typed)
        except CohortError as exc:
            raise CommandError(f"--input: {exc}", returncode=2) from None
        try:
            report = savings_read(None, cohort, months=options["months"], today=options["today"], changes=changes)
        except ValueError as exc:
            raise CommandError(f"--input: {exc}", returncode=2) from None
        data = report.as_json()
        if options["as_json"]:
            self.stdout.write(json.dumps(data, indent=1))
            return
        self.stdout.write(f"{data['cohort']}: {data['cases']} cases, {data['cases_used']} closed and counted.")
        for row in data["inputs"]:
            self.stdout.write(f"  {row['input']}: {row['value']}")
        pv = data["present_value_gbp"]
        self.stdout.write(f"present value: fiscal £{pv['fiscal']}, public value £{pv['public_value']}; "
                          f"cost £{data['cost_gbp']}; net present value £{data['net_present_value_gbp']}")
        self.stdout.write(f"financial return {data['financial_roi']}, public-value return {data['public_value_roi']}, "
                          f"payback year {data['payback_year'] or 'none within the years counted'}")
