from pathlib import Path

from django.core.management.base import BaseCommand

from onecase.linkage.services import links_export


class Command(BaseCommand):
    help = "Write one row per agency person: agency,person_ref,person_id,household_id,match_probability."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, metavar="FILE.csv")

    def handle(self, *args, file: Path, **options):
        rows = links_export(actor=None, path=file)
        self.stdout.write(f"Wrote {rows:,} agency people to {file}.")
