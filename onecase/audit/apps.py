from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The bottom layer: every app records access here; it imports no domain app."""

    name = "onecase.audit"
    label = "audit"
    verbose_name = "Audit trail"
