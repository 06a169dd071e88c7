from django.db import migrations


def load(apps, schema_editor):
    from onecase.costs.reference import load_reference_data

    load_reference_data(apps.get_model("costs", "CostItem"), apps.get_model("costs", "Deflator"))


class Migration(migrations.Migration):
    """Every database gets the GMCA unit costs and the GDP deflator shipped in costs/data."""

    dependencies = [("costs", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop, elidable=False)]
