"""`onecase meetings_overlap`: households and people on the agendas of more than one meeting series."""

import json

from django.core.management.base import BaseCommand

from onecase.arguments import iso_date
from onecase.meetings.selectors import overlaps


class Command(BaseCommand):
    help = "List households and people talked about by more than one meeting series, naming the meetings."

    def add_arguments(self, parser):
        parser.add_argument("--since", type=iso_date, help="First meeting date counted, YYYY-MM-DD.")
        parser.add_argument("--until", type=iso_date, help="Last meeting date counted, YYYY-MM-DD.")
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print JSON.")

    def handle(self, *args, since=None, until=None, as_json=False, **options):
        found = overlaps(None, since=since, until=until)
        rows = [
            {
                f"{o.kind}_id": o.subject_id,
                "kind": o.kind,
                "series": [s.name for s in o.series],
                "meetings": [
                    {"meeting_id": listing.meeting.pk, "series": listing.meeting.series.name,
                     "held_on": listing.meeting.held_on.isoformat(), "via": listing.via}
                    for listing in o.listings
                ],
            }
            for o in found
        ]
        if as_json:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        if not rows:
            self.stdout.write("Nobody is on the agendas of more than one series.")
        for row in rows:
            meetings = "; ".join(f"{m['series']} {m['held_on']}" for m in row["meetings"])
            self.stdout.write(f"{row['kind']} {row[row['kind'] + '_id']}: {len(row['series'])} series ({meetings})")
