from django.core.management.base import BaseCommand, CommandError

from onecase.cases.services import cases_import
from onecase.imports.services import ImportRejected


class Command(BaseCommand):
    help = (
        "Import historical cases from the partnership's old system (CSV). The whole file is checked first; "
        "any bad row rejects it and nothing is kept. See docs/case-import-format.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE")

    def handle(self, *args, file, **options):
        try:
            result = cases_import(actor=None, path=file)
        except ImportRejected as exc:
            for line in exc.report(file):
                self.stderr.write(line)
            raise CommandError(f"{file}: rejected.", returncode=1) from None
        except OSError as exc:
            raise CommandError(f"{file}: cannot read the file ({exc.strerror or exc}).", returncode=1) from None
        for warning in result.warnings:
            self.stdout.write(f"{file}: warning: {warning}")
        self.stdout.write(f"{file}: {result.rows} rows: {result.created} cases imported, {result.unchanged} unchanged "
                          "(imported before).")
