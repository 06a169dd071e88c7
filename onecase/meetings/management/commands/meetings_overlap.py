"""`onecase meetings_overlap`: households and people on the agendas of more than one meeting series."""

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError

from onecase.meetings.selectors import overlaps


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date written YYYY-MM-DD") from None


class Command(BaseCommand):
    help = "List households and people talked about by more than one meeting series, naming the meetings."

    def add_arguments(self, parser):
        parser.add_argument("--since", help="First meeting date counted, YYYY-MM-DD.")
        parser.add_argument("--until", help="Last meeting date counted, YYYY-MM-DD.")
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print JSON.")

    def handle(self, *args, since=None, until=None, as_json=False, **options):
        found = overlaps(None, since=_date(since) if since else None, until=_date(until) if until else None)
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
