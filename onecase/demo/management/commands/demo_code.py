"""`onecase demo_code`: the current two-factor code of the demo accounts (local demos only)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import totp

from onecase.accounts.demo_credentials import demo_device_key


class Command(BaseCommand):
    help = "Print the current 6-digit two-factor code shared by the demo accounts (local demos only)."

    def handle(self, *args, **options):
        if getattr(settings, "PRODUCTION", False):
            raise CommandError("The demo authenticator does not exist in production.")
        self.stdout.write(f"{totp(bytes.fromhex(demo_device_key())):06d}")
