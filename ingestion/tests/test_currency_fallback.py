"""Where an offer's currency comes from when its own line names none (``Attribution``)."""

from decimal import Decimal

import pytest

from documents.models import SourceDocument
from ingestion.services import ingest_path
from offers.models import Offer

pytestmark = pytest.mark.django_db

LIST = "SKU,Description,Price\nA1,iPhone 15 128GB,54.999 TL\nA2,iPhone 15 Pro 256GB,82.500\n"
FIRST_UNNAMED = "SKU,Description,Price\nA2,iPhone 15 Pro 256GB,82500\nA1,iPhone 15 128GB,54.999 TL\n"


def ingest(tmp_path, text, **kwargs):
    path = tmp_path / "list.csv"
    path.write_text(text, encoding="utf-8")
    document = ingest_path(path, vendor_name=kwargs.pop("vendor_name", "Mert GSM"), **kwargs)
    offers = {o.sku: (o.price, o.currency, o.extra.get("currency_source")) for o in Offer.objects.filter(source_document=document)}
    return document, offers


def test_a_row_takes_the_currency_its_vendor_named_earlier_flagged_as_context(tmp_path):
    document, offers = ingest(tmp_path, LIST)
    assert offers == {"A1": (Decimal("54999.00"), "TRY", None), "A2": (Decimal("82500.00"), "TRY", "context")}
    assert document.status == SourceDocument.Status.PARTIAL  # a guess: the operator checks it
    assert document.stats["currency_from_context"] == 1 and "currency_defaulted" not in document.stats
    assert any("1 offer named no currency and took the one" in w for w in document.extra["warnings"])


def test_the_vendors_default_currency_comes_before_the_context(tmp_path, build):
    build.vendor("Mert GSM", default_currency="EUR")
    _, offers = ingest(tmp_path, LIST)
    assert offers["A2"] == (Decimal("82500.00"), "EUR", "vendor")


def test_a_row_before_any_named_currency_gets_the_site_default_and_the_document_says_so(tmp_path, settings):
    settings.DEFAULT_CURRENCY = "USD"
    document, offers = ingest(tmp_path, FIRST_UNNAMED)
    assert offers["A2"] == (Decimal("82500.00"), "USD", "default")
    assert document.status == SourceDocument.Status.PARTIAL
    assert document.stats["currency_defaulted"] == 1


def test_the_runs_currency_wins_over_both(tmp_path):
    _, offers = ingest(tmp_path, FIRST_UNNAMED, currency="TRY")
    assert offers["A2"] == (Decimal("82500.00"), "TRY", "run")


AMBIGUOUS = "SKU,Description,Price\nA1,iPhone 15 128GB,8 999 kr\n"


def test_an_ambiguous_currency_is_settled_by_the_vendors_default_when_it_is_one_of_its_meanings(tmp_path, build):
    build.vendor("Mert GSM", default_currency="SEK")
    _, offers = ingest(tmp_path, AMBIGUOUS)
    assert offers == {"A1": (Decimal("8999.00"), "SEK", "vendor")}


def test_an_ambiguous_currency_never_takes_a_default_it_cannot_mean(tmp_path, build, settings):
    settings.DEFAULT_CURRENCY = "USD"
    build.vendor("Mert GSM", default_currency="EUR")
    document, offers = ingest(tmp_path, AMBIGUOUS)
    assert offers == {}
    assert document.status == SourceDocument.Status.FAILED
    assert "can be DKK, NOK, ISK, SEK" in document.errors[0]["message"]


def test_a_run_currency_that_an_ambiguous_price_cannot_mean_is_an_error_on_that_row(tmp_path):
    document, offers = ingest(tmp_path, AMBIGUOUS + "A2,iPhone 15 Pro,9 999 SEK\n", currency="EUR")
    assert offers == {"A2": (Decimal("9999.00"), "SEK", None)}
    [error] = document.errors
    assert error["field"] == "currency" and "can be DKK, NOK, ISK, SEK, not EUR" in error["message"]
