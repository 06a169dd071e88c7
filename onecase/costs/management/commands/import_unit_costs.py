from django.core.management.base import BaseCommand, CommandError

from onecase.costs.services import import_unit_costs
from onecase.imports.services import ImportRejected


class Command(BaseCommand):
    help = "Import unit cost files (CSV or XLSX) into the cost map. See docs/unit-costs.md."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE")

    def handle(self, *args, files, **options):
        failed = 0
        for path in files:
            try:
                result = import_unit_costs(actor=None, path=path)
            except ImportRejected as exc:
                failed += 1
                for line in exc.report(path):
                    self.stderr.write(line)
                continue
            except OSError as exc:
                failed += 1
                self.stderr.write(f"{path}: cannot read the file ({exc.strerror or exc}).")
                continue
            for warning in result.warnings:
                self.stdout.write(f"{path}: warning: {warning}")
            self.stdout.write(
                f"{path}: {result.rows} rows: {result.created} new, {result.updated} updated, "
                f"{result.unchanged} unchanged."
            )
        if failed:
            raise CommandError(f"{failed} of {len(files)} file(s) rejected.", returncode=1)
