import pytest
from django.urls import reverse
from django_q.models import Schedule

from ingestion.models import ImportRun, ImportSchedule
from ingestion.schedules import run_import, sync_q_schedule
from ingestion.tasks import run_import_schedule
from ingestion.tests.conftest import HEADER, write_xlsx
from offers.models import Offer, Vendor

pytestmark = pytest.mark.django_db


@pytest.fixture
def vendor_file(settings, tmp_path):
    # A folder of its own under storage for each test (storage is shared by the session).
    folder = settings.INGESTION_STORAGE_DIR / "vendors" / tmp_path.name
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "latest.xlsx"


@pytest.fixture
def schedule(vendor_file, settings):
    return ImportSchedule.objects.create(
        name="acme daily",
        path=str(vendor_file.relative_to(settings.INGESTION_STORAGE_DIR)),
        vendor=Vendor.objects.create(name="Acme"),
        currency="EUR",
    )


def test_runs_skip_an_unchanged_file_and_ingest_a_changed_one(schedule, vendor_file):
    write_xlsx(vendor_file, [HEADER, ["A", "Phone A", 10, 1, "New"]])
    assert run_import(schedule).outcome == "ingested"
    assert run_import(schedule).outcome == "unchanged"
    write_xlsx(vendor_file, [HEADER, ["A", "Phone A", 9, 1, "New"], ["B", "Phone B", 20, 1, "New"]])
    third = run_import(schedule)
    assert third.outcome == "ingested" and third.document.trigger == "schedule"
    schedule.refresh_from_db()
    assert (schedule.runs, schedule.skipped_unchanged, schedule.failures) == (3, 1, 0)
    assert schedule.last_document == third.document
    assert Offer.objects.filter(currency="EUR").count() == 3


def test_a_file_back_to_content_already_ingested_is_unchanged(schedule, vendor_file):
    write_xlsx(vendor_file, [HEADER, ["A", "Phone A", 10, 1, "New"]])
    first_content = vendor_file.read_bytes()
    first = run_import(schedule)
    write_xlsx(vendor_file, [HEADER, ["A", "Phone A", 9, 1, "New"]])
    assert run_import(schedule).outcome == "ingested"
    vendor_file.write_bytes(first_content)
    back = run_import(schedule)
    assert back.outcome == "unchanged" and back.document is None
    assert f"already ingested as document #{first.document.pk}" in back.message
    assert Offer.objects.count() == 2


def test_missing_file_is_a_recorded_failure(schedule):
    run = run_import(schedule)
    assert run.outcome == "missing" and "file not found" in run.message
    schedule.refresh_from_db()
    assert schedule.failures == 1 and schedule.last_outcome == "missing"


def test_path_outside_storage_is_refused(schedule):
    schedule.path = "/etc/passwd"
    run = run_import(schedule)
    assert run.outcome == "failed" and "outside the storage directory" in run.message
    schedule.path = "../../etc/passwd"
    assert run_import(schedule).outcome == "failed"


def test_q_schedule_follows_the_import_schedule(schedule):
    sync_q_schedule(schedule)
    q = Schedule.objects.get(pk=schedule.q_schedule_id)
    assert q.func == "ingestion.tasks.run_import_schedule" and q.schedule_type == Schedule.DAILY
    schedule.every, schedule.minutes = ImportSchedule.Every.MINUTES, 15
    schedule.save()
    sync_q_schedule(schedule)
    q.refresh_from_db()
    assert (q.schedule_type, q.minutes) == (Schedule.MINUTES, 15)
    schedule.enabled = False
    sync_q_schedule(schedule)
    assert not Schedule.objects.filter(pk=q.pk).exists()


def test_the_task_django_q_runs(schedule, vendor_file):
    from ast import literal_eval

    write_xlsx(vendor_file, [HEADER, ["A", "Phone A", 10, 1, "New"]])
    sync_q_schedule(schedule)
    args = literal_eval(Schedule.objects.get(pk=schedule.q_schedule_id).args)
    assert "ingested" in run_import_schedule(*args)
    assert "unchanged" in run_import_schedule(*args)
    assert ImportRun.objects.count() == 2


def test_admin_creates_schedule_and_runs_it_now(staff_client, vendor_file, settings):
    write_xlsx(vendor_file, [HEADER, ["A", "Phone A", 10, 1, "New"]])
    vendor = Vendor.objects.create(name="Acme")
    response = staff_client.post(
        reverse("admin:ingestion_importschedule_add"),
        {"name": "acme", "path": str(vendor_file), "vendor": vendor.pk, "processor": "", "options": "{}",
         "currency": "USD", "every": "D", "minutes": "", "cron": "", "enabled": "on",
         "run_log-TOTAL_FORMS": "0", "run_log-INITIAL_FORMS": "0"},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    schedule = ImportSchedule.objects.get()
    assert Schedule.objects.filter(pk=schedule.q_schedule_id).exists()
    staff_client.post(reverse("admin:ingestion_importschedule_changelist"),
                      {"action": "run_now", "_selected_action": [schedule.pk]})
    schedule.refresh_from_db()
    assert schedule.last_outcome == "ingested"
    page = staff_client.get(reverse("admin:ingestion_importschedule_change", args=[schedule.pk]))
    assert b"ingested" in page.content


def test_a_fifo_or_a_folder_at_the_schedules_path_is_a_failure_saying_so(schedule, vendor_file):
    import os

    os.mkfifo(vendor_file)  # never opened: the run would hang on it
    run = run_import(schedule)
    assert run.outcome == "failed" and "FIFO" in run.message and str(vendor_file) in run.message
    vendor_file.unlink()
    vendor_file.mkdir()
    run = run_import(schedule)
    assert run.outcome == "failed" and "folder" in run.message
