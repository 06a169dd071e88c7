"""The audit trail moves from sharing to its own app. The table (sharing_auditevent) stays where it
is: the model is only taken into this app's state. The append-only triggers are installed again
under this app's names; sharing 0007 drops the old ones."""

import django.db.models.deletion
import pgtrigger.compiler
import pgtrigger.migrations
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("sharing", "0006_break_glass_roles"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.CreateModel(
            name='AuditEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('at', models.DateTimeField(auto_now_add=True, db_index=True)),
                ('username', models.CharField(blank=True, max_length=150)),
                ('agency_code', models.CharField(blank=True, max_length=40)),
                ('role', models.CharField(blank=True, max_length=30)),
                ('action', models.CharField(choices=[('view', 'View'), ('search', 'Search'), ('export', 'Export'), ('import', 'Import'), ('change', 'Change'), ('disclose', 'Disclosure'), ('sign_in', 'Sign-in'), ('sign_out', 'Sign-out'), ('sign_in_failed', 'Failed sign-in'), ('refused', 'Refused')], max_length=20)),
                ('object_type', models.CharField(blank=True, max_length=60)),
                ('object_id', models.CharField(blank=True, max_length=64)),
                ('purpose', models.CharField(blank=True, max_length=300)),
                ('ip', models.GenericIPAddressField(blank=True, null=True)),
                ('detail', models.JSONField(blank=True, default=dict)),
                ('user', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'db_table': 'sharing_auditevent',
                'ordering': ['-at', '-id'],
                'indexes': [models.Index(fields=['object_type', 'object_id'], name='audit_object_idx'), models.Index(fields=['user', 'at'], name='audit_user_idx')],
            },
        )]),
        pgtrigger.migrations.AddTrigger(
            model_name='auditevent',
            trigger=pgtrigger.compiler.Trigger(name='audit_no_update_delete', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'pgtrigger: Cannot update or delete rows from % table', TG_TABLE_NAME;", hash='436fd66e0a9b5e7ea9e86c8e431cbf0a44658273', operation='UPDATE OR DELETE', pgid='pgtrigger_audit_no_update_delete_f286c', table='sharing_auditevent', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='auditevent',
            trigger=pgtrigger.compiler.Trigger(name='audit_no_truncate', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'audit events are append-only: TRUNCATE refused'; RETURN NULL;", hash='1bac8f5e5aa42a588af84c12c5b530676431139e', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_audit_no_truncate_50e0d', table='sharing_auditevent', when='BEFORE')),
        ),
    ]
