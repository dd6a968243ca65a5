"""Bulk inserts: offers with one price-history point each, ids reserved up front."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from offers import bulk
from offers.bulk import OfferRow, insert_offers
from offers.models import Offer, PriceHistory

WHEN = datetime(2024, 3, 12, 14, 5, tzinfo=timezone.utc)


def rows(build, count: int) -> list[OfferRow]:
    vendor, product = build.vendor(), build.product()
    return [
        OfferRow(
            vendor_id=vendor.pk, sku=f"S{i}", description=f"Phone {i}", price=Decimal(f"{100 + i}.50"), currency="EUR",
            quantity=i or None, condition="used", condition_grade="B", condition_raw="Used B", observed_at=WHEN,
            source_ref=f"Sheet!{i + 2}", extra={"n": i % 2} if i % 3 else {}, product_id=product.pk,
        )
        for i in range(count)
    ]


def assert_written(ids: list[int], written: list[OfferRow]) -> None:
    offers = {o.pk: o for o in Offer.objects.filter(pk__in=ids)}
    assert [offers[pk].sku for pk in ids] == [r.sku for r in written]
    assert [offers[pk].price for pk in ids] == [r.price for r in written]
    assert [offers[pk].extra for pk in ids] == [r.extra for r in written]
    assert offers[ids[0]].observed_at == WHEN and offers[ids[1]].quantity == 1
    history = {h.offer_id: h for h in PriceHistory.objects.filter(offer_id__in=ids)}
    assert sorted(history) == sorted(ids)
    for pk in ids:
        point, offer = history[pk], offers[pk]
        assert (point.product_id, point.vendor_id, point.price, point.currency, point.condition, point.observed_at) == (
            offer.product_id, offer.vendor_id, offer.price, offer.currency, offer.condition, offer.observed_at
        )


@pytest.mark.django_db
def test_offers_and_their_history_points_are_written(build):
    written = rows(build, 25)
    ids = insert_offers(written)
    assert ids == list(range(ids[0], ids[0] + 25))
    assert_written(ids, written)


@pytest.mark.django_db
def test_history_follows_ids_another_writer_interleaved(build, monkeypatch):
    reserve, other = bulk.reserve_ids, build.offer()

    def interleaved(model, count):  # another ingest takes every other id, and writes its offers first
        taken = reserve(model, 2 * count)
        for pk in taken[1::2]:
            Offer.objects.create(
                id=pk, vendor=other.vendor, product=other.product, price=1, currency="USD", observed_at=WHEN
            )
        return taken[::2]

    monkeypatch.setattr(bulk, "reserve_ids", interleaved)
    written = rows(build, 25)
    ids = insert_offers(written)
    assert ids[1] - ids[0] == 2
    assert_written(ids, written)
    assert PriceHistory.objects.exclude(offer=other).count() == 25  # none for the other writer's offers


@pytest.mark.django_db
def test_reingesting_the_same_offers_adds_no_second_history_point(build):
    written = rows(build, 5)
    first = insert_offers(written)
    again = insert_offers(written)  # the same chat or file ingested a second time
    assert len(again) == 5 and PriceHistory.objects.filter(offer_id__in=again).count() == 0
    assert sorted(PriceHistory.objects.values_list("offer_id", flat=True)) == first
    changed = [
        replace(written[0], price=written[0].price + Decimal("0.25")),
        replace(written[1], observed_at=WHEN + timedelta(minutes=1)),
        replace(written[2], condition="new"),
        replace(written[3], currency="USD"),
        written[4],
    ]
    third = insert_offers(changed)
    assert sorted(PriceHistory.objects.filter(offer_id__in=third).values_list("offer_id", flat=True)) == third[:4]


@pytest.mark.django_db
def test_an_interleaved_reingest_adds_no_second_history_point_either(build, monkeypatch):
    written = rows(build, 4)
    insert_offers(written)
    reserve = bulk.reserve_ids
    monkeypatch.setattr(bulk, "reserve_ids", lambda model, count: reserve(model, 2 * count)[::2])
    again = insert_offers(written)
    assert again[1] - again[0] == 2 and PriceHistory.objects.filter(offer_id__in=again).count() == 0


def history_inserts(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].startswith(f'INSERT INTO "{PriceHistory._meta.db_table}"')]


@pytest.mark.django_db
def test_a_new_documents_points_are_copied_without_the_repeat_test(build):
    written, document = rows(build, 6), build.document()
    with CaptureQueriesContext(connection) as queries:
        first = insert_offers(written[:3], source_document_id=document.pk)
        second = insert_offers(written[3:], source_document_id=document.pk)  # the next batch of the same file
    assert PriceHistory.objects.filter(offer_id__in=first + second).count() == 6
    assert [("NOT EXISTS" in sql) for sql in history_inserts(queries)] == [False, False]


@pytest.mark.django_db
def test_a_reingested_document_repeats_no_point_in_any_batch(build):
    written, document, again = rows(build, 6), build.document(), build.document()
    insert_offers(written[:3], source_document_id=document.pk)
    insert_offers(written[3:], source_document_id=document.pk)
    with CaptureQueriesContext(connection) as queries:
        ids = insert_offers(written[:4], source_document_id=again.pk) + insert_offers(
            [*written[4:], replace(written[0], price=Decimal("1.25"))], source_document_id=again.pk
        )
    assert list(PriceHistory.objects.filter(offer_id__in=ids).values_list("offer_id", flat=True)) == [ids[-1]]
    assert [("NOT EXISTS" in sql) for sql in history_inserts(queries)] == [True, True]
