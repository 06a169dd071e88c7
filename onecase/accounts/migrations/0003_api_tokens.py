"""API tokens stored as digests (django-rest-knox), and failed sign-ins kept as hashes.

DRF's plaintext tokens (the authtoken_token table) cannot be turned into digests: they are
dropped, and operators issue new ones (`onecase create_token`, or the API tokens page).
Lockout records keyed by the typed username are re-keyed by its hash, so lockouts in force
carry on and no typed text stays behind.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.migrations.recorder import MigrationRecorder

from onecase.accounts.sign_in import typed_username_hash


def drop_plaintext_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if "authtoken_token" in connection.introspection.table_names():
        schema_editor.execute(schema_editor.sql_delete_table % {"table": schema_editor.quote_name("authtoken_token")})
    MigrationRecorder(connection).migration_qs.filter(app="authtoken").delete()


def hash_lockout_usernames(apps, schema_editor):
    for name in ("AccessAttempt", "AccessFailureLog"):
        model = apps.get_model("axes", name)
        for pk, username in list(model.objects.exclude(username=None).values_list("pk", "username")):
            model.objects.filter(pk=pk).update(username=typed_username_hash(username))


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_agency_contact_route'),
        ('axes', '0010_accessattemptexpiration'),
    ]

    operations = [
        migrations.CreateModel(
            name='ApiToken',
            fields=[
                ('token_key', models.CharField(db_index=True, max_length=25)),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('digest', models.CharField(max_length=128, unique=True)),
                ('name', models.CharField(max_length=100)),
                ('expiry', models.DateTimeField()),
                ('last_used', models.DateTimeField(blank=True, null=True)),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='auth_token_set', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'API token',
                'ordering': ['-created', '-id'],
            },
        ),
        migrations.RunPython(drop_plaintext_tokens, migrations.RunPython.noop),
        migrations.RunPython(hash_lockout_usernames, migrations.RunPython.noop),
    ]
