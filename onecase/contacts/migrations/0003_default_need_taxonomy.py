from django.db import migrations


def load(apps, schema_editor):
    from onecase.contacts.needs import load_default_taxonomy

    load_default_taxonomy(apps.get_model("contacts", "NeedCategory"), apps.get_model("contacts", "NeedKeyword"))


class Migration(migrations.Migration):
    dependencies = [("contacts", "0002_need_categories")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
