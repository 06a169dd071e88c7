from django.core.management.base import BaseCommand, CommandError

from onecase.accounts.models import User
from onecase.accounts.services import token_create


class Command(BaseCommand):
    help = "Print a new API token for an agency system's integration account (replacing any old one)."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {username!r}.")
        self.stdout.write(token_create(actor=None, user=user).key)
