"""Deployment checks for the audit trail."""

from django.conf import settings
from django.core.checks import Tags, Warning, register
from django.db import connections


@register(Tags.security, deploy=True)
def audit_trail_database(app_configs, **kwargs):
    """Production on SQLite (allowed with ONECASE_ALLOW_SQLITE_IN_PRODUCTION=1): the audit trail's guard is weak."""
    if not getattr(settings, "PRODUCTION", False) or connections["default"].vendor != "sqlite":
        return []
    return [
        Warning(
            "Production is running on SQLite. Its triggers refuse changes to audit events, but the database is "
            "one file with no separate roles: anyone who can write the file can drop the triggers and change "
            "or delete the audit trail.",
            hint="Use PostgreSQL for real data: set DATABASE_URL.",
            id="onecase.W001",
        )
    ]
