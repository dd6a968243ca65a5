"""An ingest that loses nothing: batches hidden until the document ends, leases and recovery of a
document whose process stopped, unchanged content recognised, stored text cleaned."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import Schedule

from documents.models import SourceDocument
from ingestion import services
from ingestion.apps import RECOVERY_SCHEDULE
from ingestion.leases import Lease, LeaseLost
from ingestion.services import AlreadyIngested, ingest_path, recover_stale_documents, register_file
from ingestion.tasks import ingest_document
from ingestion.tests.conftest import HEADER, write_xlsx
from offers.models import Offer, PriceHistory

pytestmark = pytest.mark.django_db

ROWS = 35


@pytest.fixture
def long_list(tmp_path):
    rows = [HEADER] + [[f"SKU-{n}", f"Phone {n} 128GB", 100 + n, 1, "New"] for n in range(ROWS)]
    return write_xlsx(tmp_path / "long.xlsx", rows)


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(services, "BATCH_SIZE", 10)


class Interrupted(BaseException):
    """Stands for the process being killed: nothing in the ingest catches it."""


def test_batches_are_hidden_until_the_document_ends(long_list, small_batches, monkeypatch):
    seen = []
    write_batch = services._write_batch

    def counting(document, rows, refs, lease, transactions):
        written = write_batch(document, rows, refs, lease, transactions)
        seen.append((
            Offer.objects.filter(source_document=document).count(),
            Offer.all_objects.filter(source_document=document).count(),
            PriceHistory.objects.filter(source_document=document).count(),
            SourceDocument.objects.get(pk=document.pk).status,
        ))
        return written

    monkeypatch.setattr(services, "_write_batch", counting)
    document = ingest_path(long_list, vendor_name="Acme", currency="USD")
    assert seen == [(0, n, 0, "processing") for n in (10, 20, 30, 35)]
    assert document.status == "succeeded" and document.lease_owner == "" and document.lease_expires_at is None
    assert Offer.objects.filter(source_document=document).count() == ROWS
    assert PriceHistory.objects.filter(source_document=document).count() == ROWS
    assert document.attempts == 1


def _interrupt_after(monkeypatch, batches: int):
    write_batch = services._write_batch
    calls = []

    def interrupted(document, rows, refs, lease, transactions):
        if len(calls) == batches:
            raise Interrupted()
        calls.append(1)
        return write_batch(document, rows, refs, lease, transactions)

    monkeypatch.setattr(services, "_write_batch", interrupted)


def _expire(document):
    SourceDocument.objects.filter(pk=document.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))


def test_an_ingest_stopped_mid_file_shows_nothing_and_is_run_again_once_its_lease_expires(
    long_list, small_batches, monkeypatch
):
    _interrupt_after(monkeypatch, 2)
    with pytest.raises(Interrupted):
        ingest_path(long_list, vendor_name="Acme", currency="USD")
    document = SourceDocument.objects.get()
    assert document.status == "processing" and document.lease_owner
    assert Offer.all_objects.count() == 20 and Offer.objects.count() == 0 and PriceHistory.objects.count() == 0

    assert recover_stale_documents() == []  # its lease is still running: its process may be alive
    assert ingest_document(document.pk).endswith("not run again")

    monkeypatch.undo()
    monkeypatch.setattr(services, "BATCH_SIZE", 10)
    _expire(document)
    done = recover_stale_documents()  # re-queued; the test settings run the queued task at once
    assert [(d.pk, what.split(":")[0]) for d, what in done] == [(document.pk, "re-queued")]
    document.refresh_from_db()
    assert document.status == "succeeded" and document.attempts == 2
    [trace] = document.extra["recoveries"]  # the document says it was run again, when and why
    assert trace["what"] == done[0][1] and "attempt 1" in trace["what"] and trace["at"]
    assert Offer.all_objects.count() == Offer.objects.count() == ROWS  # the first attempt's rows discarded
    assert sorted(Offer.objects.values_list("sku", flat=True)) == sorted(f"SKU-{n}" for n in range(ROWS))
    assert PriceHistory.objects.count() == ROWS


def test_a_redelivered_task_takes_over_a_document_whose_lease_expired(long_list, small_batches, monkeypatch):
    _interrupt_after(monkeypatch, 1)
    with pytest.raises(Interrupted):
        ingest_path(long_list, vendor_name="Acme", currency="USD")
    monkeypatch.undo()
    document = SourceDocument.objects.get()
    _expire(document)
    assert ingest_document(document.pk) == f"document #{document.pk}: succeeded"
    assert Offer.objects.count() == Offer.all_objects.count() == ROWS


def test_after_the_last_attempt_the_document_fails_with_the_reason_and_keeps_no_offer(
    long_list, small_batches, monkeypatch, settings
):
    settings.INGESTION_MAX_ATTEMPTS = 1
    _interrupt_after(monkeypatch, 2)
    with pytest.raises(Interrupted):
        ingest_path(long_list, vendor_name="Acme", currency="USD")
    document = SourceDocument.objects.get()
    _expire(document)
    [(recovered, what)] = recover_stale_documents()
    document.refresh_from_db()
    assert document.status == "failed" and what.startswith("failed: the ingest stopped without ending 1 time")
    assert "killed, ran out of memory or hit the task timeout" in document.extra["failure"]
    assert document.lease_owner == "" and Offer.all_objects.count() == 0 and PriceHistory.all_objects.count() == 0


def test_a_process_that_lost_its_lease_writes_no_more_and_records_nothing(long_list, small_batches, monkeypatch):
    write_batch = services._write_batch

    def taken_over(document, rows, refs, lease, transactions):
        SourceDocument.objects.filter(pk=document.pk).update(lease_owner="elsewhere:1:abc")
        return write_batch(document, rows, refs, lease, transactions)

    monkeypatch.setattr(services, "_write_batch", taken_over)
    document = ingest_path(long_list, vendor_name="Acme", currency="USD")
    assert document.status == "processing" and document.lease_owner == "elsewhere:1:abc"
    assert Offer.all_objects.count() == 0  # the batch that found the lease lost was rolled back


def test_a_document_another_process_holds_is_not_claimed(build):
    document = build.document(status="pending")
    lease = Lease.claim(document)
    assert lease is not None and document.status == "processing" and document.attempts == 1
    assert Lease.claim(SourceDocument.objects.get(pk=document.pk)) is None
    _expire(document)
    second = Lease.claim(SourceDocument.objects.get(pk=document.pk))
    assert second is not None and second.owner != lease.owner
    with pytest.raises(LeaseLost):
        lease.renew()


def test_a_pending_document_whose_task_was_lost_is_queued_again(long_list, settings):
    with open(long_list, "rb") as stream:
        document = register_file(stream, "long.xlsx", vendor_name="Acme", currency="USD")
    assert recover_stale_documents() == []  # just queued
    SourceDocument.objects.filter(pk=document.pk).update(
        updated_at=timezone.now() - timedelta(seconds=settings.Q_CLUSTER["retry"] + 1)
    )
    [(recovered, what)] = recover_stale_documents()
    assert what.startswith("queued again") and SourceDocument.objects.get(pk=document.pk).status == "succeeded"


def test_the_worker_runs_the_recovery_every_minute():
    schedule = Schedule.objects.get(name=RECOVERY_SCHEDULE)
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "ingestion.tasks.recover_stale_documents", Schedule.MINUTES, 1, -1
    )


# --------------------------------------------------------------------------- unchanged content


def test_unchanged_content_is_recognised_and_stores_nothing(price_list, tmp_path, settings):
    first = ingest_path(price_list, vendor_name="Acme", currency="USD")
    copy = tmp_path / "renamed.xlsx"
    copy.write_bytes(price_list.read_bytes())
    stored = sorted(p for p in settings.INGESTION_STORAGE_DIR.rglob("*") if p.is_file())
    with pytest.raises(AlreadyIngested) as refused:
        ingest_path(copy, vendor_name="ACME", currency="USD")
    assert refused.value.document == first
    assert str(refused.value).startswith(f"{copy}: unchanged: the same content was already ingested as document "
                                         f"#{first.pk} ({first.status}, ")
    assert SourceDocument.objects.count() == 1
    assert sorted(p for p in settings.INGESTION_STORAGE_DIR.rglob("*") if p.is_file()) == stored

    forced = ingest_path(copy, vendor_name="Acme", currency="USD", force=True)
    assert forced.pk != first.pk and forced.status == first.status


def test_other_vendor_settings_or_a_failed_earlier_ingest_are_not_unchanged(price_list, build):
    first = ingest_path(price_list, vendor_name="Acme", currency="USD")
    assert ingest_path(price_list, vendor_name="Bolt", currency="USD").pk != first.pk
    assert ingest_path(price_list, vendor_name="Acme", currency="EUR").pk != first.pk
    SourceDocument.objects.all().update(status="failed")
    assert ingest_path(price_list, vendor_name="Acme", currency="USD").status != "failed"


# --------------------------------------------------------------------------- stored text


def test_control_characters_are_removed_and_the_rows_named_in_a_warning(tmp_path):
    csv = tmp_path / "nul.csv"
    csv.write_bytes(
        b"MODEL/SKU,DESCRIPTION,PRICE\n"
        b"A1,Phone\x00 A 128GB,100 USD\n"
        b"B2,Phone B\x07 256GB\x1b,200 USD\n"
        b"C3,Phone C,300 USD\n"
    )
    document = ingest_path(csv, vendor_name="Acme")
    assert document.status == "partial"
    offers = dict(Offer.objects.values_list("sku", "description"))
    assert offers == {"A1": "Phone A 128GB", "B2": "Phone B 256GB", "C3": "Phone C"}
    assert Offer.objects.get(sku="B2").extra["control_characters_removed"] == 2
    assert document.warnings == [
        "2 offers had control characters (NUL and the like) in their text, removed "
        "(extra.control_characters_removed counts them): line 2, line 3"
    ]


def test_a_rejected_rows_control_characters_do_not_stop_the_document(tmp_path):
    csv = tmp_path / "nul-price.csv"
    csv.write_bytes(b"MODEL/SKU,DESCRIPTION,PRICE\nA1,Phone A,1\x0000 USD\nB2,Phone B,200 USD\n")
    document = ingest_path(csv, vendor_name="Acme")
    assert document.status == "partial" and "\x00" not in document.errors[0]["value"]
    assert Offer.objects.count() == 1


def test_a_long_description_is_cut_and_the_document_says_so(tmp_path):
    long = "Phone " + "x" * (services.DESCRIPTION_MAX_CHARS + 500)
    csv = tmp_path / "long-description.csv"
    csv.write_text(f"MODEL/SKU,DESCRIPTION,PRICE\nA1,{long},100 USD\n")
    document = ingest_path(csv, vendor_name="Acme")
    offer = Offer.objects.get()
    assert len(offer.description) == services.DESCRIPTION_MAX_CHARS
    assert offer.extra["description_cut"] == len(long)
    assert document.status == "partial" and "longer than 2,000 characters, cut" in document.warnings[0]


def test_recovery_against_a_locked_database_says_so_in_one_line(tmp_path, settings, monkeypatch):
    from django.core.management import call_command
    from django.core.management.base import CommandError
    from django.db import OperationalError

    from ingestion import tasks

    def locked():
        raise OperationalError("database is locked")

    monkeypatch.setattr(services, "recover_stale_documents", locked)
    monkeypatch.setattr("ingestion.management.commands.recover_documents.recover_stale_documents", locked)
    with pytest.raises(CommandError, match=r"^the database refused the recovery \(database is locked\)"):
        call_command("recover_documents")
    assert tasks.recover_stale_documents() == "not run: database is locked"
