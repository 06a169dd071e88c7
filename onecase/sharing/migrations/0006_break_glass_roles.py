"""Who may break the glass: a setting per agency and role, with sensible defaults.

Key workers and practitioners of statutory agencies (police, fire, council, health,
education) may; everyone else, voluntary-sector agencies included, may not until a
partnership administrator allows it.
"""

import django.db.models.deletion
from django.db import migrations, models

ROLES = ("key_worker", "practitioner", "front_door", "agency_admin", "dpo", "voluntary_partner")
DEFAULT_ROLES = {"key_worker", "practitioner"}
STATUTORY_SECTORS = {"police", "fire", "council", "health", "education"}


def create_defaults(apps, schema_editor):
    Agency = apps.get_model("accounts", "Agency")
    BreakGlassRole = apps.get_model("sharing", "BreakGlassRole")
    BreakGlassRole.objects.bulk_create(
        BreakGlassRole(agency=agency, role=role,
                       allowed=agency.sector in STATUTORY_SECTORS and role in DEFAULT_ROLES)
        for agency in Agency.objects.all()
        for role in ROLES
    )


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0002_agency_contact_route"),
        ("sharing", "0005_audit_append_only_on_sqlite"),
    ]

    operations = [
        migrations.CreateModel(
            name="BreakGlassRole",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("role", models.CharField(choices=[("partnership_admin", "Partnership administrator"), ("agency_admin", "Agency administrator"), ("key_worker", "Key worker"), ("practitioner", "Practitioner"), ("front_door", "Call handler / front door"), ("analyst", "Analyst"), ("voluntary_partner", "Voluntary partner"), ("dpo", "Data protection officer"), ("auditor", "Auditor")], max_length=30)),
                ("allowed", models.BooleanField(default=False, help_text="May staff in this role at this agency break the glass?")),
                ("agency", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="break_glass_roles", to="accounts.agency")),
            ],
            options={
                "verbose_name": "who may break the glass",
                "verbose_name_plural": "who may break the glass",
                "ordering": ["agency__name", "role"],
                "constraints": [models.UniqueConstraint(fields=("agency", "role"), name="breakglassrole_uniq")],
            },
        ),
        migrations.RunPython(create_defaults, migrations.RunPython.noop, elidable=False),
    ]
