from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from onecase.accounts.models import Sector
from onecase.accounts.services import agency_create


class Command(BaseCommand):
    help = "Create an agency (or rename an existing one)."

    def add_arguments(self, parser):
        parser.add_argument("code")
        parser.add_argument("--name", required=True)
        parser.add_argument("--sector", default=Sector.OTHER, choices=Sector.values)

    def handle(self, *args, code, name, sector, **options):
        try:
            agency = agency_create(actor=None, code=code, name=name, sector=sector)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(f"Agency {agency.code}: {agency.name} ({agency.get_sector_display()}).")
