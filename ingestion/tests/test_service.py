from decimal import Decimal

import pytest

from documents import storage
from documents.models import SourceDocument
from ingestion.services import IngestError, ingest_path
from ingestion.tests.conftest import HEADER, write_xlsx
from offers.models import Offer, PriceHistory, Product, Vendor

pytestmark = pytest.mark.django_db


def test_ingest_persists_offers_history_errors_and_stats(price_list):
    document = ingest_path(price_list, vendor_name="Acme")
    assert document.status == SourceDocument.Status.PARTIAL
    assert document.processor == "spreadsheet"
    assert document.original_filename == "acme.xlsx"
    offers = list(Offer.objects.filter(source_document=document).order_by("id"))
    assert [(o.sku, o.price, o.currency, o.quantity, o.condition, o.condition_grade, o.source_ref) for o in offers] == [
        ("A3090", Decimal("750.00"), "USD", 10, "new", "", "Prices!4"),
        ("SM-S928B", Decimal("1045.00"), "USD", 5, "refurbished", "B", "Prices!5"),
    ]
    assert PriceHistory.objects.filter(offer__in=offers).count() == 2
    assert document.errors == [
        {"ref": "Prices!6", "field": "price", "message": document.errors[0]["message"], "value": "call"}
    ]
    assert "call" in document.errors[0]["message"]
    stats = document.stats
    assert stats["offers_created"] == 2 and stats["errors"] == 1 and stats["rows_skipped"] == 1
    assert stats["rows_seen"] >= 3 and stats["duration_seconds"] >= 0
    assert stats["currency_defaulted"] == 1  # the bare 750 fell back on DEFAULT_CURRENCY


def test_stored_copy_is_named_by_content_inside_storage(price_list, settings):
    document = ingest_path(price_list, vendor_name="Acme")
    path = storage.resolve(document.stored_path)
    assert path.is_relative_to(settings.INGESTION_STORAGE_DIR)
    assert path.name == f"{document.sha256}.xlsx"
    assert path.read_bytes() == price_list.read_bytes()


def test_reingest_is_a_new_snapshot_and_lands_on_the_same_products(price_list):
    first = ingest_path(price_list, vendor_name="Acme")
    second = ingest_path(price_list, vendor_name="acme", force=True)  # same vendor, any case
    assert first.pk != second.pk and first.stored_path == second.stored_path
    assert Vendor.objects.count() == 1
    assert Product.objects.count() == 2
    assert Offer.objects.count() == 4
    products_first = set(Offer.objects.filter(source_document=first).values_list("product_id", flat=True))
    products_second = set(Offer.objects.filter(source_document=second).values_list("product_id", flat=True))
    assert products_first == products_second


def test_same_sku_with_new_description_matches_by_sku(tmp_path):
    ingest_path(write_xlsx(tmp_path / "d1.xlsx", [HEADER, ["A3090", "iPhone 15 128GB", 750, 1, "New"]]), vendor_name="Acme")
    ingest_path(write_xlsx(tmp_path / "d2.xlsx", [HEADER, ["A3090", "Apple iPhone15 128 GB blk", 740, 1, "New"]]),
                vendor_name="Acme")
    assert Product.objects.count() == 1
    # Another vendor's SKU A3090 is not assumed to be the same product, but its description is.
    ingest_path(write_xlsx(tmp_path / "d3.xlsx", [HEADER, ["A3090", "iPhone 15 128GB", 760, 1, "New"]]), vendor_name="Bolt")
    assert Product.objects.count() == 1


def test_currency_resolution_order(tmp_path):
    rows = [["MODEL/SKU", "DESCRIPTION", "Unit Price (EUR)"], ["A", "Phone A", "€10"], ["B", "Phone B", "£20"], ["C", "Phone C", 30]]
    document = ingest_path(write_xlsx(tmp_path / "c.xlsx", rows), vendor_name="Acme", currency="USD")
    got = dict(Offer.objects.filter(source_document=document).values_list("sku", "currency"))
    # the cell's own symbol, then the header, then --currency
    assert got == {"A": "EUR", "B": "GBP", "C": "EUR"}

    vendor = Vendor.objects.create(name="Kron", default_currency="CHF")
    rows = [HEADER, ["K", "Phone K", 99, 1, "New"]]
    document = ingest_path(write_xlsx(tmp_path / "k.xlsx", rows), vendor_name=vendor.name)
    assert Offer.objects.get(source_document=document).currency == "CHF"
    document = ingest_path(write_xlsx(tmp_path / "k2.xlsx", rows + [["K2", "Phone K2", 98, 1, "New"]]),
                           vendor_name=vendor.name, currency="sek")
    assert set(Offer.objects.filter(source_document=document).values_list("currency", flat=True)) == {"SEK"}


def test_file_with_no_usable_rows_fails_with_reason(tmp_path):
    path = write_xlsx(tmp_path / "bad.xlsx", [HEADER, ["A", "Phone", "TBA", 1, "New"], ["B", "Phone B", -5, 1, "New"]])
    document = ingest_path(path, vendor_name="Acme")
    assert document.status == SourceDocument.Status.FAILED
    assert "all 2 rows were rejected" in document.extra["failure"]
    assert [e["ref"] for e in document.errors] == ["Prices!2", "Prices!3"]
    assert Offer.objects.count() == 0


def test_unreadable_file_fails_with_reason_and_keeps_nothing_half_done(tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 this is not really a workbook")
    document = ingest_path(path, vendor_name="Acme", processor="spreadsheet")
    assert document.status == SourceDocument.Status.FAILED
    assert document.extra["failure"]
    assert document.errors[0]["ref"] == "broken.xlsx"
    assert Offer.objects.count() == 0


def test_spreadsheet_without_vendor_rows_are_rejected_with_reason(price_list):
    document = ingest_path(price_list)
    assert document.status == SourceDocument.Status.FAILED
    assert any("no vendor" in e["message"] for e in document.errors)


def test_bad_requests_raise_before_anything_is_created(tmp_path, price_list):
    with pytest.raises(IngestError, match="no such file"):
        ingest_path(tmp_path / "missing.xlsx")
    with pytest.raises(IngestError, match="unknown processor 'pdf'"):
        ingest_path(price_list, processor="pdf")
    for guess in ("DOLLARZ", "Dollar", "EURO", "kr", "US$", "XXX"):  # a code, never a name or sign to guess from
        with pytest.raises(IngestError, match="not an ISO 4217 currency code"):
            ingest_path(price_list, currency=guess)
    assert SourceDocument.objects.count() == 0
    assert ingest_path(price_list, currency="eur", vendor_name="Acme").options["currency"] == "EUR"


def test_size_limit(price_list, settings):
    settings.INGESTION_MAX_FILE_BYTES = 100
    with pytest.raises(IngestError, match="larger than the 100-byte limit"):
        ingest_path(price_list, vendor_name="Acme")


@pytest.mark.parametrize("relative", ["../etc/passwd", "/etc/passwd", "", "a/../../x"])
def test_stored_paths_cannot_leave_storage(relative):
    with pytest.raises(storage.StorageError):
        storage.resolve(relative)


def test_user_filename_cannot_place_a_file_outside_storage(tmp_path, settings):
    import io

    stored = storage.store_stream(io.BytesIO(b"a,b\n"), "../../../../tmp/evil.csv")
    assert storage.resolve(stored.relative_path).is_relative_to(settings.INGESTION_STORAGE_DIR)
    assert storage.display_name("../../x/evil\x00.csv") == "evil.csv"
    assert storage.safe_suffix("list.x l s") == "" and storage.safe_suffix("LIST.XLSX") == ".xlsx"


def test_refused_requests_name_the_file_as_given_and_store_nothing(tmp_path, settings):
    settings.INGESTION_STORAGE_DIR = tmp_path / "storage"
    empty = tmp_path / "vendor list.csv"
    empty.write_bytes(b"")
    with pytest.raises(IngestError) as raised:
        ingest_path(str(empty), vendor_name="Acme")
    assert raised.value.filename == str(empty)
    assert raised.value.message.startswith("the file is empty (0 bytes): ")
    assert str(raised.value) == f"{empty}: {raised.value.message}"
    with pytest.raises(IngestError, match=r"is a folder, not a file"):
        ingest_path(tmp_path, vendor_name="Acme")
    assert SourceDocument.objects.count() == 0
    assert not settings.INGESTION_STORAGE_DIR.exists() or not any(settings.INGESTION_STORAGE_DIR.rglob("*"))


def test_register_file_refuses_an_unsupported_upload_and_cleans_options(tmp_path, settings):
    import io

    from ingestion.services import register_file

    settings.INGESTION_STORAGE_DIR = tmp_path / "storage"
    with pytest.raises(IngestError) as raised:
        register_file(io.BytesIO(b"GIF89a not a list"), "photo.gif", vendor_name="Acme")
    assert raised.value.filename == "photo.gif"
    assert raised.value.message.startswith("cannot tell what kind of file this is; PriceHub reads spreadsheet (")
    with pytest.raises(IngestError, match="unknown option 'timezone' for the spreadsheet processor; known options"):
        register_file(io.BytesIO(b"SKU,PRICE\nA,1\n"), "list.csv", options={"timezone": "UTC"})
    assert SourceDocument.objects.count() == 0
    document = register_file(io.BytesIO(b"SKU,PRICE\nA,1\n"), "list.csv", options={"delimiter": ",",
                                                                                     "prefer_llm": "on"})
    assert document.options["options"] == {"delimiter": ",", "prefer_llm": "true"}


def test_user_message_names_the_users_file_not_the_stored_copy(price_list):
    from ingestion.services import register_file, user_message

    with open(price_list, "rb") as stream:
        document = register_file(stream, "Acme prices.xlsx", vendor_name="Acme")
    stored = storage.resolve(document.stored_path)
    exc = OSError(f"[Errno 13] Permission denied: '{stored}'")
    assert user_message(exc, document) == "[Errno 13] Permission denied: 'Acme prices.xlsx'"
    assert user_message(ValueError(f"cannot read {stored.name}"), document) == "cannot read Acme prices.xlsx"
    assert user_message(ValueError(), document) == "ValueError"


def test_re_ingesting_identical_content_repeats_its_observation_and_adds_no_history_point(price_list, tmp_path):
    first = ingest_path(price_list, vendor_name="Acme", currency="USD")
    copy = tmp_path / "acme-again.xlsx"
    copy.write_bytes(price_list.read_bytes())
    again = ingest_path(copy, vendor_name="Acme", currency="USD", force=True)
    assert again.status == first.status and again.pk != first.pk
    first_times = set(Offer.objects.filter(source_document=first).values_list("observed_at", flat=True))
    again_times = set(Offer.objects.filter(source_document=again).values_list("observed_at", flat=True))
    assert again_times == first_times == {first.created_at}
    assert PriceHistory.objects.count() == 2  # one point per offer of the first ingest, none for the repeat


def test_changed_content_is_a_new_observation(price_list, tmp_path):
    ingest_path(price_list, vendor_name="Acme", currency="USD")
    changed = write_xlsx(tmp_path / "acme-next.xlsx", [HEADER, ["A3090", "iPhone 15 128GB Black", 750, 9, "New"]])
    document = ingest_path(changed, vendor_name="Acme", currency="USD")
    assert set(Offer.objects.filter(source_document=document).values_list("observed_at", flat=True)) == {
        document.created_at
    }
    assert PriceHistory.objects.count() == 3  # same price, observed again at a new time


def test_ingest_collects_garbage_less_often_and_restores_the_process_settings(price_list):
    import gc

    from ingestion import services

    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    with services._fewer_collections():
        assert gc.get_threshold() == (services.INGEST_GC_THRESHOLD, *threshold[1:])
        assert gc.get_freeze_count() > 0
    with pytest.raises(ZeroDivisionError), services._fewer_collections():
        1 / 0
    document = ingest_path(price_list, vendor_name="Acme")
    assert document.stats["offers_created"] == 2
    assert gc.get_threshold() == threshold and gc.get_freeze_count() == frozen
