"""Audit rows outlive their users, and SQLite refuses to change them too.

PostgreSQL's append-only triggers come from pgtrigger (0001). SQLite gets its own BEFORE
UPDATE and BEFORE DELETE triggers here; they do nothing on other databases.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

TRIGGERS = {
    "sharing_auditevent_no_update": "UPDATE",
    "sharing_auditevent_no_delete": "DELETE",
}


def create_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for name, operation in TRIGGERS.items():
        schema_editor.execute(
            f"CREATE TRIGGER IF NOT EXISTS {name} BEFORE {operation} ON sharing_auditevent "
            f"BEGIN SELECT RAISE(ABORT, 'audit events are append-only: {operation} refused'); END"
        )


def drop_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for name in TRIGGERS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ("sharing", "0004_remove_agreement_insert_insert_and_more"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="user",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(create_sqlite_triggers, drop_sqlite_triggers, elidable=False),
    ]
