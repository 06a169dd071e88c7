from django.core.management.base import BaseCommand, CommandError

from onecase.places.police_format import PlacesImportRejected
from onecase.places.services import deprivation_import


class Command(BaseCommand):
    help = (
        "Import the English Indices of Deprivation 2019 file (File 1, IMD rank and decile per LSOA; "
        "CSV or .csv.gz). Any problem keeps nothing; importing it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE")

    def handle(self, *args, file, **options):
        try:
            result = deprivation_import(actor=None, path=file)
        except PlacesImportRejected as exc:
            for line in exc.report():
                self.stderr.write(line)
            raise CommandError("The file was refused.", returncode=1) from None
        self.stdout.write(f"Deprivation imported: {result.describe()}")
