from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from onecase.accounts.models import User
from onecase.accounts.services import token_create, token_revoke


class Command(BaseCommand):
    help = (
        "Issue a new API token for an account (for example an agency system's integration account) and "
        "print it on the last line. Only a digest is stored, so the token cannot be shown again."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="Issued at the command line",
                            help="What the token is for, shown on the API tokens page.")
        parser.add_argument("--days", type=int, default=None,
                            help=f"Days until it expires (default {settings.ONECASE_API_TOKEN_DAYS}).")
        parser.add_argument("--replace", action="store_true",
                            help="Revoke the account's other API tokens.")

    def handle(self, *args, username, name, days, replace, **options):
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {username!r}.")
        try:
            token, secret = token_create(actor=None, user=user, name=name, days=days)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        if replace:
            for old in user.auth_token_set.exclude(pk=token.pk):
                token_revoke(actor=None, token=old)
        # The secret alone goes to standard output, so `$(onecase create_token …)` captures just it.
        self.stderr.write(f"API token {token.pk} for {user.username}, expires {token.expiry:%Y-%m-%d %H:%M} UTC.",
                          style_func=str)
        self.stdout.write(secret)
