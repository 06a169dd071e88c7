"""`onecase audit`: the audit trail at the command line, for operators, auditors and DPOs."""

import json

from django.core.management.base import BaseCommand, CommandError

from onecase.accounts.models import User
from onecase.arguments import iso_date
from onecase.sharing.rules import may_read_audit
from onecase.sharing.selectors import audit_row, audit_trail_for
from onecase.sharing.services import audit_trail_read


class Command(BaseCommand):
    help = ("Print the audit trail from --since to --until (UK days, both included). With --as USERNAME it "
            "shows what that auditor or data protection officer may read; without it, all of it.")

    def add_arguments(self, parser):
        parser.add_argument("--since", type=iso_date, required=True, help="First day, YYYY-MM-DD.")
        parser.add_argument("--until", type=iso_date, help="Last day, YYYY-MM-DD (default: today).")
        parser.add_argument("--user", default="", help="Only this user's events (a username).")
        parser.add_argument("--as", dest="as_user", default="", help="Read as this auditor or DPO (a username).")
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print a JSON list.")

    def handle(self, *args, since, until=None, user="", as_user="", as_json=False, **options):
        reader = None
        if as_user:
            reader = User.objects.filter(username=as_user).select_related("agency").first()
            if reader is None or not may_read_audit(reader):
                raise CommandError(f"{as_user} may not read the audit trail (or has no account).")
        if until is not None and until < since:
            raise CommandError("--until is before --since.")
        rows = [audit_row(event) for event in audit_trail_for(reader, since=since, until=until, username=user)]
        audit_trail_read(user=reader, page="command line", shown=len(rows))
        if as_json:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        if not rows:
            self.stdout.write("No audit events.")
        for row in rows:
            self.stdout.write(f"{row['at']} {row['user'] or '(operator)'} {row['agency']} {row['action']} "
                              f"{row['object_type']} {row['object_id']}")
