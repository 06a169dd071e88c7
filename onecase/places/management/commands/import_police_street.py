from django.core.management.base import BaseCommand, CommandError

from onecase.places.police_format import PlacesImportRejected
from onecase.places.services import police_street_import


class Command(BaseCommand):
    help = (
        "Import data.police.uk street-level crime files (CSV, or gzipped .csv.gz). All files are checked "
        "first; any problem keeps nothing. Importing the same files again adds nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE")

    def handle(self, *args, files, **options):
        try:
            result = police_street_import(actor=None, paths=files)
        except PlacesImportRejected as exc:
            for line in exc.report():
                self.stderr.write(line)
            raise CommandError("The import was refused.", returncode=1) from None
        self.stdout.write(f"Street crime imported: {result.describe()}")
