from django.apps import AppConfig
from django.db.models.signals import post_migrate

RECOVERY_SCHEDULE = "recover stale documents"


def ensure_recovery_schedule(using: str = "default", **kwargs) -> None:
    """The django-q2 schedule that runs ``ingestion.tasks.recover_stale_documents`` every minute,
    created (or put back as it should be) after every ``migrate``."""
    from django_q.models import Schedule

    from ingestion.tasks import RECOVER_TASK

    Schedule.objects.using(using).update_or_create(
        name=RECOVERY_SCHEDULE,
        defaults={"func": RECOVER_TASK, "schedule_type": Schedule.MINUTES, "minutes": 1, "repeats": -1},
    )


class IngestionConfig(AppConfig):
    name = "ingestion"
    verbose_name = "Ingestion"

    def ready(self):
        post_migrate.connect(ensure_recovery_schedule, sender=self, dispatch_uid="ingestion_recovery_schedule")
