import getpass
import os

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from onecase.accounts.models import Agency, Role
from onecase.accounts.services import user_create


class Command(BaseCommand):
    help = "Create a staff account. The password comes from ONECASE_PASSWORD, or is prompted for."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--agency", required=True, help="Agency code.")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--email", default="")

    def handle(self, *args, username, agency, role, email, **options):
        found = Agency.objects.filter(code__iexact=agency.strip()).first()
        if found is None:
            raise CommandError(f"No agency with code {agency!r}; create it with create_agency first.")
        password = os.environ.get("ONECASE_PASSWORD")
        if not password:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords do not match.")
        try:
            from django.contrib.auth.password_validation import validate_password

            validate_password(password)
            user = user_create(actor=None, username=username, agency=found, role=role, password=password, email=email)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(f"Created {user.username} ({user.get_role_display()}, {found.code}).")
        self.stdout.write("They must set up two-factor authentication at their first sign-in.")
