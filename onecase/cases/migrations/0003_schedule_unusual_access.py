from django.db import migrations

DETECTION = "onecase: unusual access alerts"


def schedule_detection(apps, schema_editor):
    """Every 15 minutes the job worker looks for unusual access and alerts the DPOs concerned."""
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=DETECTION,
        defaults={"func": "onecase.cases.tasks.raise_unusual_access_alerts", "schedule_type": "I", "minutes": 15,
                  "repeats": -1},
    )


def unschedule_detection(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=DETECTION).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("cases", "0002_versions"),
        ("sharing", "0008_alert_once_a_day"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.RunPython(schedule_detection, unschedule_detection),
    ]
