"""The audit trail moves to the audit app (audit 0001): drop this app's append-only triggers, which
the audit app has installed again under its own names, and forget the model. The table stays."""

from django.db import migrations
import pgtrigger.migrations


class Migration(migrations.Migration):

    dependencies = [
        ("sharing", "0006_break_glass_roles"),
        ("audit", "0001_initial"),
    ]

    operations = [
        pgtrigger.migrations.RemoveTrigger(model_name="auditevent", name="audit_no_update_delete"),
        pgtrigger.migrations.RemoveTrigger(model_name="auditevent", name="audit_no_truncate"),
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="AuditEvent")]),
    ]
