import django.db.models.deletion
from django.db import migrations, models

# Person search keeps its keys fresh from a queue the database fills: every writer of agency people
# (the import, the API, the admin, raw SQL) marks what it adds or changes, so no write path can be
# missed. ``onecase.linkage.search`` reads the queue on every search and empties it in the background.
IDENTITY = ("given_name", "family_name", "date_of_birth", "postcode", "nhs_number", "person_ref")
REFRESH = "onecase: person search index"

SQLITE_TRIGGERS = (
    """CREATE TRIGGER linkage_search_pending_insert AFTER INSERT ON people_agencyperson
       BEGIN INSERT INTO linkage_searchpending (agency_person_id) VALUES (NEW.id); END""",
    f"""CREATE TRIGGER linkage_search_pending_update AFTER UPDATE OF {", ".join(IDENTITY)} ON people_agencyperson
       WHEN {" OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in IDENTITY)}
       BEGIN INSERT INTO linkage_searchpending (agency_person_id) VALUES (NEW.id); END""",
)
SQLITE_DROP = ("DROP TRIGGER IF EXISTS linkage_search_pending_insert",
               "DROP TRIGGER IF EXISTS linkage_search_pending_update")

PG_TRIGGERS = (
    """CREATE OR REPLACE FUNCTION linkage_search_pending() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
           INSERT INTO linkage_searchpending (agency_person_id) VALUES (NEW.id);
           RETURN NULL;
       END $$""",
    """CREATE TRIGGER linkage_search_pending_insert AFTER INSERT ON people_agencyperson
       FOR EACH ROW EXECUTE FUNCTION linkage_search_pending()""",
    f"""CREATE TRIGGER linkage_search_pending_update AFTER UPDATE OF {", ".join(IDENTITY)} ON people_agencyperson
       FOR EACH ROW WHEN ({" OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in IDENTITY)})
       EXECUTE FUNCTION linkage_search_pending()""",
)
PG_DROP = ("DROP TRIGGER IF EXISTS linkage_search_pending_insert ON people_agencyperson",
           "DROP TRIGGER IF EXISTS linkage_search_pending_update ON people_agencyperson",
           "DROP FUNCTION IF EXISTS linkage_search_pending()")


def triggers_create(apps, schema_editor):
    statements = PG_TRIGGERS if schema_editor.connection.vendor == "postgresql" else SQLITE_TRIGGERS
    for statement in statements:
        schema_editor.execute(statement)
    # Agency people already there wait for their keys like new ones.
    schema_editor.execute("INSERT INTO linkage_searchpending (agency_person_id) SELECT id FROM people_agencyperson")


def triggers_drop(apps, schema_editor):
    for statement in PG_DROP if schema_editor.connection.vendor == "postgresql" else SQLITE_DROP:
        schema_editor.execute(statement)


def schedule_refresh(apps, schema_editor):
    """Every minute the job worker makes the search keys of agency people added or changed."""
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=REFRESH,
        defaults={"func": "onecase.linkage.search.search_index_refresh", "schedule_type": "I", "minutes": 1,
                  "repeats": -1},
    )


def unschedule_refresh(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=REFRESH).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("linkage", "0003_link_requests"),
        ("people", "0002_linkage"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.CreateModel(
            name="SearchPending",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("agency_person_id", models.BigIntegerField()),
            ],
        ),
        migrations.CreateModel(
            name="SearchKey",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("key", models.CharField(max_length=64)),
                ("agency_person", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+",
                                                    to="people.agencyperson")),
            ],
            options={
                "indexes": [models.Index(fields=["key", "agency_person"], name="searchkey_key_idx")],
            },
        ),
        migrations.RunPython(triggers_create, triggers_drop),
        migrations.RunPython(schedule_refresh, unschedule_refresh),
    ]
