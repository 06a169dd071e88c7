from django.db import migrations


def load(apps, schema_editor):
    from onecase.contacts.needs import DEFAULT_CATEGORIES, DEFAULT_KEYWORDS

    NeedCategory = apps.get_model("contacts", "NeedCategory")
    NeedKeyword = apps.get_model("contacts", "NeedKeyword")
    for order, (code, name, description) in enumerate(DEFAULT_CATEGORIES, start=1):
        category, _ = NeedCategory.objects.update_or_create(
            code=code, defaults={"name": name, "description": description, "order": order}
        )
        for phrase in DEFAULT_KEYWORDS[code]:
            NeedKeyword.objects.get_or_create(phrase=phrase, defaults={"category": category})


class Migration(migrations.Migration):
    dependencies = [("contacts", "0002_need_categories")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
