"""The django-q2 schedule that runs the WhatsApp extraction's poll loop every minute
(``whatsapp.tasks.poll_due_chats``; see its module). Made (or put back as it should be) by
``migrate``, which ``make run`` and the Procfile's release step run; removed on a migration back."""

from django.db import migrations
from django.utils import timezone

NAME = "whatsapp: extract due chats"
TASK = "whatsapp.tasks.poll_due_chats"


def create(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    using = schema_editor.connection.alias
    found = Schedule.objects.using(using).filter(name=NAME).order_by("id")
    fields = {"func": TASK, "schedule_type": "I", "minutes": 1, "repeats": -1, "args": None, "kwargs": None}
    first = found.first()
    if first is None:
        Schedule.objects.using(using).create(name=NAME, next_run=timezone.now(), **fields)
    else:
        found.filter(pk=first.pk).update(**fields)
        found.exclude(pk=first.pk).delete()


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.using(schema_editor.connection.alias).filter(name=NAME).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("whatsapp", "0005_extraction_claims"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create, remove)]
