from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from onecase.costs.selectors import unmapped_contact_types
from onecase.costs.services import apply_default_costs


class Command(BaseCommand):
    help = (
        "Fill the cost map from the default map of contact types to GMCA cost codes, uprated to a "
        "price year (default: the latest year the GDP deflator covers). Idempotent; rows imported "
        "locally are kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("--price-year", help="Financial year of the prices, e.g. 2019-20.")
        parser.add_argument(
            "--replace-imported", action="store_true", help="Also overwrite costs imported with import_unit_costs."
        )

    def handle(self, *args, price_year=None, replace_imported=False, **options):
        try:
            result = apply_default_costs(actor=None, price_year=price_year, replace_imported=replace_imported)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        for warning in result.warnings:
            self.stdout.write(f"warning: {warning}")
        if result.missing_agencies:
            self.stdout.write(f"skipped agencies that do not exist: {', '.join(result.missing_agencies)}")
        if result.kept_local:
            self.stdout.write(f"kept locally imported costs: {', '.join(result.kept_local)}")
        self.stdout.write(
            f"Unit costs at {result.price_year} prices: {result.created} new, {result.updated} updated, "
            f"{result.unchanged} unchanged."
        )
        unmapped = unmapped_contact_types()
        if unmapped:
            self.stdout.write("Contact types with no unit cost (they cost nothing until given one):")
            for agency, contact_type, count in unmapped:
                self.stdout.write(f"  {agency} {contact_type}: {count} contacts")
