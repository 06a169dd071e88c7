"""`onecase demo_login`: one demo staff account per role, and a DPO per agency, for local demos only."""

import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from onecase.accounts.demo_credentials import DEFAULT_PASSWORD, DEMO_TOTP_SECRET, PASSWORD_ENV, demo_device_key
from onecase.accounts.models import Agency, Role, User
from onecase.accounts.services import agency_create, user_create
from onecase.demo.catalogue import AGENCIES, AGENCY_BY_CODE
from onecase.sharing.models import AuditEvent
from onecase.sharing.services import audit_record

PARTNERSHIP = ("PARTNERSHIP", "Kilnbury Partnership", "other")

# username, role, agency code
ACCOUNTS = (
    ("demo-admin", Role.PARTNERSHIP_ADMIN, "PARTNERSHIP"),
    ("demo-keyworker", Role.KEY_WORKER, "CSC"),
    ("demo-housing", Role.PRACTITIONER, "HOUSING"),
    ("demo-police-admin", Role.AGENCY_ADMIN, "POLICE"),
    ("demo-analyst", Role.ANALYST, "PARTNERSHIP"),
    ("demo-foodbank", Role.VOLUNTARY_PARTNER, "FOODBANK"),
    ("demo-dpo", Role.DPO, "PARTNERSHIP"),
    ("demo-auditor", Role.AUDITOR, "PARTNERSHIP"),
    ("demo-frontdoor", Role.FRONT_DOOR, "REVBEN"),
)
# Every demo agency holds records, so each has a data protection officer: they see their agency's
# alerts (break the glass included) and, with its administrator, decide requests for its records.
AGENCY_DPOS = tuple((f"demo-{spec.code.lower()}-dpo", Role.DPO, spec.code) for spec in AGENCIES)
SUPERUSERS = {"demo-admin"}


class Command(BaseCommand):
    help = (
        "Create (or reset) one demo staff account per role and a data protection officer per agency, for local "
        "demos only. The password is "
        f"{PASSWORD_ENV}, or {DEFAULT_PASSWORD!r} if that is not set."
    )

    def handle(self, *args, **options):
        if getattr(settings, "PRODUCTION", False):
            raise CommandError(
                "Demo accounts cannot be created when ONECASE_ENV=production: they share a published password "
                "and authenticator key, and production refuses both at sign-in."
            )
        password = os.environ.get(PASSWORD_ENV, "")
        rows = []
        with transaction.atomic():
            for username, role, code in ACCOUNTS + AGENCY_DPOS:
                agency = _agency(code)
                user = User.objects.filter(username=username).first()
                if user is None:
                    user = user_create(
                        actor=None, username=username, agency=agency, role=role, password=password or DEFAULT_PASSWORD
                    )
                    done = "created"
                else:
                    _reset(user, agency, role, password or DEFAULT_PASSWORD)
                    done = "reset"
                admin = username in SUPERUSERS
                if user.is_staff != admin or user.is_superuser != admin:
                    user.is_staff = user.is_superuser = admin
                    user.save(update_fields=["is_staff", "is_superuser"])
                _demo_authenticator(user)
                rows.append((username, Role(role).label, agency.name, done))

        width = max(len(r[0]) for r in rows)
        role_width = max(len(r[1]) for r in rows)
        name_width = max(len(r[2]) for r in rows)
        self.stdout.write(f"{'username':<{width}}  {'role':<{role_width}}  agency")
        for username, role, name, done in rows:
            self.stdout.write(f"{username:<{width}}  {role:<{role_width}}  {name:<{name_width}}  ({done})")
        shown = f"the value of {PASSWORD_ENV}" if password else DEFAULT_PASSWORD
        self.stdout.write(f"Password for every account: {shown}")
        key = " ".join(DEMO_TOTP_SECRET[i : i + 4] for i in range(0, len(DEMO_TOTP_SECRET), 4))
        self.stdout.write(f"Two-factor key for every account (add it to an authenticator app): {key}")
        self.stdout.write("Or print the current 6-digit code with: onecase demo_code")
        self.stdout.write(
            "These accounts are for local demo use only: never create them on a system that holds real data."
        )


def _agency(code: str) -> Agency:
    """The agency with this code; the demo's own name and sector if it has to be created."""
    found = Agency.objects.filter(code=code).first()
    if found is not None:
        return found
    if code == PARTNERSHIP[0]:
        _, name, sector = PARTNERSHIP
    else:
        spec = AGENCY_BY_CODE[code]
        name, sector = spec.name, spec.sector
    return agency_create(actor=None, code=code, name=name, sector=sector)


def _demo_authenticator(user: User) -> None:
    """Give the account the documented demo authenticator, confirmed, replacing any other."""
    TOTPDevice.objects.filter(user=user).delete()
    TOTPDevice.objects.create(user=user, name="Demo authenticator", key=demo_device_key(), confirmed=True)


def _reset(user: User, agency: Agency, role: str, password: str) -> None:
    user.agency = agency
    user.role = role
    user.is_active = True
    user.set_password(password)
    user.save(update_fields=["agency", "role", "is_active", "password"])
    audit_record(
        user=None,
        action=AuditEvent.Action.CHANGE,
        object_type="user",
        object_id=user.pk,
        detail={"reset": True, "role": role, "agency": agency.code},
    )
