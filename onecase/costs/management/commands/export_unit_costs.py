import csv
import sys
from contextlib import nullcontext

from django.core.management.base import BaseCommand

from onecase.costs.models import UnitCost
from onecase.costs.unit_cost_format import OPTIONAL, REQUIRED


class Command(BaseCommand):
    help = "Write the cost map as a unit cost file (the import format), to edit and import again."

    def add_arguments(self, parser):
        parser.add_argument("--out", help="File to write (default: standard output).")

    def handle(self, *args, out=None, **options):
        target = open(out, "w", encoding="utf-8", newline="") if out else nullcontext(sys.stdout)
        with target as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow([*REQUIRED, *OPTIONAL])
            for cost in UnitCost.objects.select_related("agency").order_by("agency__code", "contact_type"):
                writer.writerow(
                    [
                        cost.agency.code,
                        cost.contact_type,
                        f"{cost.unit_cost_gbp:.2f}",
                        cost.price_year,
                        cost.source,
                        cost.cost_item_id or "",
                        cost.notes,
                    ]
                )
