import json

from django.core.management.base import BaseCommand

from onecase.reports.selectors import partnership_totals


class Command(BaseCommand):
    help = "Print partnership totals: agencies, source (agency) people, contacts, people, households."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print JSON.")

    def handle(self, *args, as_json: bool = False, **options):
        totals = partnership_totals()
        if as_json:
            self.stdout.write(json.dumps(totals))
        else:
            for key, value in totals.items():
                self.stdout.write(f"{key.replace('_', ' ')}: {value:,}")
