"""The audit trail: who accessed or changed what, when and why. Append-only."""

import pgtrigger
from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One access to, or change of, personal data. Append-only.

    Holds identifiers and counts, never the personal data itself.
    """

    class Action(models.TextChoices):
        VIEW = "view", "View"
        SEARCH = "search", "Search"
        EXPORT = "export", "Export"
        IMPORT = "import", "Import"
        CHANGE = "change", "Change"
        DISCLOSE = "disclose", "Disclosure"
        SIGN_IN = "sign_in", "Sign-in"
        SIGN_OUT = "sign_out", "Sign-out"
        SIGN_IN_FAILED = "sign_in_failed", "Failed sign-in"
        REFUSED = "refused", "Refused"

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    # PROTECT: staff are deactivated, never deleted, so no delete can rewrite who did what.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    username = models.CharField(max_length=150, blank=True)
    agency_code = models.CharField(max_length=40, blank=True)
    role = models.CharField(max_length=30, blank=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    purpose = models.CharField(max_length=300, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "sharing_auditevent"  # kept from when sharing held it: the table never moved
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),
            models.Index(fields=["user", "at"], name="audit_user_idx"),
        ]
        # Append-only, enforced by the database: PostgreSQL by these triggers, SQLite by the
        # UPDATE and DELETE triggers of the migration sharing 0005_audit_append_only_on_sqlite.
        triggers = [
            pgtrigger.Protect(name="audit_no_update_delete", operation=pgtrigger.Update | pgtrigger.Delete),
            pgtrigger.Trigger(
                name="audit_no_truncate",
                operation=pgtrigger.Truncate,
                level=pgtrigger.Statement,
                when=pgtrigger.Before,
                func="RAISE EXCEPTION 'audit events are append-only: TRUNCATE refused'; RETURN NULL;",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.username} {self.action} {self.object_type}:{self.object_id}"
