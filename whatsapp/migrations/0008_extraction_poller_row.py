"""The extraction loop's one ``ExtractionPoller`` row, made by ``migrate`` so that the ingest's
``whatsapp.tasks.wake`` is a single conditional UPDATE (the schedule's runs make it again if an
operator deletes it)."""

from django.db import migrations


def create(apps, schema_editor):
    apps.get_model("whatsapp", "ExtractionPoller").objects.using(schema_editor.connection.alias).get_or_create(
        name="extraction", defaults={"owner": ""})


class Migration(migrations.Migration):

    dependencies = [("whatsapp", "0007_extracted_at_help")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
