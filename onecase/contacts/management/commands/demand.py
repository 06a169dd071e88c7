import json

from django.core.management.base import BaseCommand, CommandError

from onecase.arguments import iso_date
from onecase.contacts.demand import KEYS, demand_ranking


class Command(BaseCommand):
    help = "Rank households, people or addresses by their demand across agencies."

    def add_arguments(self, parser):
        parser.add_argument("--by", choices=sorted(KEYS), default="household")
        parser.add_argument("--top", type=int, default=20)
        parser.add_argument("--since", type=iso_date, help="First date counted, YYYY-MM-DD.")
        parser.add_argument("--until", type=iso_date, help="Last date counted, YYYY-MM-DD.")
        parser.add_argument("--by-cost", action="store_true", help="Order by cost instead of contacts.")
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print JSON.")

    def handle(self, *args, by, top, since, until, by_cost, as_json, **options):
        if top < 1:
            raise CommandError("--top must be at least 1")
        rows = demand_ranking(
            None,
            by=by,
            top=top,
            since=since,
            until=until,
            order="cost" if by_cost else "contacts",
        )
        if as_json:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        for rank, row in enumerate(rows, start=1):
            agencies = ", ".join(f"{code} {n}" for code, n in row["contacts_by_agency"].items())
            self.stdout.write(
                f"{rank:>3}. {row['label']}: {row['contacts_total']} contacts at {row['distinct_agencies']} agencies, "
                f"£{row['cost_gbp']}, {row['failure_demand_share']:.0%} failure demand "
                f"[{', '.join(row['flags']) or 'no flags'}]\n     {agencies}"
            )
