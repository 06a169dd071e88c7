from django.core.management.base import BaseCommand

from onecase.costs.services import reference_data_load


class Command(BaseCommand):
    help = (
        "Load the GMCA unit costs and GDP deflator shipped with OneCase (migrate does this too). "
        "Idempotent; see docs/unit-costs.md."
    )

    def handle(self, *args, **options):
        items, deflator = reference_data_load(actor=None)
        self.stdout.write(f"GMCA unit costs: {items}. GDP deflator years: {deflator}.")
