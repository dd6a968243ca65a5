"""GET /products/{id}/offers/current, GET /board (JSON, pages, CSV) and the price history's CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from offers.models import ExchangeRate


@pytest.fixture(autouse=True)
def base(settings):
    settings.OFFER_FRESHNESS_HOURS = 72
    settings.EXCHANGE_BASE_CURRENCY = "USD"


def ago(hours: float):
    return timezone.now() - timedelta(hours=hours)


@pytest.fixture
def market(build):
    phone = build.product("Apple iPhone 15 128GB", brand="Apple")
    tablet = build.product("=HYPERLINK(\"http://x\") iPad", brand="Apple")
    acme, bolt, euro = build.vendor("Acme"), build.vendor("@Bolt"), build.vendor("Euro")
    build.offer(vendor=acme, product=phone, price="700", condition="new", quantity=5, observed_at=ago(10))
    build.offer(vendor=bolt, product=phone, price="690", condition="new", quantity=1, observed_at=ago(2))
    build.offer(vendor=euro, product=phone, price="600", currency="EUR", condition="new", observed_at=ago(3))
    build.offer(vendor=acme, product=phone, price="650", condition="new", observed_at=ago(200))  # history
    build.offer(vendor=acme, product=tablet, price="300", condition="used", observed_at=ago(1))
    return {"phone": phone, "tablet": tablet, "acme": acme, "bolt": bolt, "euro": euro}


def read_csv(response) -> list[dict]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_current_offers_cheapest_first_with_no_silent_conversion(token_client, market):
    body = token_client.get(f"/products/{market['phone'].id}/offers/current").json()
    assert body["product_id"] == market["phone"].id and body["base_currency"] == "USD"
    assert body["freshness_hours"] == 72 and body["merged_into_id"] is None
    rows = [(r["vendor_name"], r["price"], r["currency"], r["base_price"]) for r in body["results"]]
    assert rows == [("@Bolt", "690.00", "USD", "690.00"), ("Acme", "700.00", "USD", "700.00"),
                    ("Euro", "600.00", "EUR", None)]
    assert "no exchange rate EUR→USD" in body["results"][2]["conversion_note"]
    assert body["results"][1]["quantity"] == 5 and 9.9 <= body["results"][1]["age_hours"] <= 10.1


def test_current_offers_converted_with_a_rate(token_client, market):
    ExchangeRate.objects.create(date=timezone.localdate() - timedelta(days=10), currency="EUR", rate=Decimal("1.1"))
    body = token_client.get(f"/products/{market['phone'].id}/offers/current").json()
    first = body["results"][0]
    assert (first["vendor_name"], first["base_price"], first["rate"], first["conversion_note"]) == (
        "Euro", "660.00", "1.1000000000", "")


def test_current_offers_parameters(token_client, market):
    url = f"/products/{market['phone'].id}/offers/current"
    assert token_client.get(url + "?condition=used").json()["results"] == []
    assert token_client.get(url + "?condition=mint").status_code == 400
    refused = token_client.get(url + "?vendor=1")
    assert refused.status_code == 400 and "unknown query parameter 'vendor'" in refused.json()["detail"]
    assert token_client.get("/products/999999/offers/current").status_code == 404


def test_board_json(token_client, market):
    body = token_client.get("/board").json()
    assert body["base_currency"] == "USD" and body["next"] is None and body["previous"] is None
    rows = [(r["product_name"], r["condition"], r["currency"], r["converted"], r["best_vendor_name"], r["best_price"],
             r["vendor_count"], r["spread"]) for r in body["results"]]
    assert rows == [
        ("=HYPERLINK(\"http://x\") iPad", "used", "USD", True, "Acme", "300.00", 1, "0.00"),
        ("Apple iPhone 15 128GB", "new", "USD", True, "@Bolt", "690.00", 2, "10.00"),
        ("Apple iPhone 15 128GB", "new", "EUR", False, "Euro", "600.00", 1, "0.00"),
    ]
    eur = body["results"][2]
    assert eur["best_offer_currency"] == "EUR" and "no exchange rate" in eur["note"]
    assert body["results"][1]["best_quantity"] == 1 and body["results"][1]["vendors_all_currencies"] == 3


def test_board_with_a_rate(token_client, market):
    ExchangeRate.objects.create(date=timezone.localdate() - timedelta(days=10), currency="EUR", rate=Decimal("1.2"))
    phone = [r for r in token_client.get("/board?q=iphone").json()["results"]]
    assert [(r["currency"], r["best_vendor_name"], r["best_price"], r["vendor_count"], r["spread"]) for r in phone] == [
        ("USD", "@Bolt", "690.00", 3, "30.00")]


@pytest.mark.parametrize("query,expected", [
    ("q=iphone", {("Apple iPhone 15 128GB", "USD"), ("Apple iPhone 15 128GB", "EUR")}),
    ("brand=APPLE&condition=used", {("=HYPERLINK(\"http://x\") iPad", "USD")}),
    ("currency=eur", {("Apple iPhone 15 128GB", "EUR")}),
    ("min_vendors=2", {("Apple iPhone 15 128GB", "USD")}),
    ("category_id=12345", set()),
])
def test_board_filters(token_client, market, query, expected):
    body = token_client.get(f"/board?{query}").json()
    assert {(r["product_name"], r["currency"]) for r in body["results"]} == expected


@pytest.mark.parametrize("query,field", [
    ("min_vendors=0", "min_vendors"), ("min_vendors=two", "min_vendors"), ("currency=EURO", "currency"),
    ("condition=mint", "condition"), ("category_id=x", "category_id"), ("cursor=nonsense", "cursor"),
    ("page_size=0", "page_size"),
])
def test_board_rejects_bad_values(token_client, market, query, field):
    response = token_client.get(f"/board?{query}")
    assert response.status_code == 400 and field in response.json(), response.content


def test_board_refuses_unknown_parameters(token_client, market):
    response = token_client.get("/board?vendor_id=3")
    assert response.status_code == 400 and "valid ones" in response.json()["detail"]
    assert token_client.get("/board?vendor_id=3&format=csv")["Content-Type"].startswith("application/json")


def test_board_pages_walk_every_row_once(token_client, build):
    vendor = build.vendor("Acme")
    for i in range(7):
        build.offer(vendor=vendor, product=build.product(f"Phone {i}"), price="10", observed_at=ago(1))
    seen, url, pages = [], "/board?page_size=3", 0
    while url:
        body = token_client.get(url).json()
        seen += [r["product_name"] for r in body["results"]]
        url, pages = body["next"], pages + 1
    assert seen == [f"Phone {i}" for i in range(7)] and pages == 3
    second = token_client.get(token_client.get("/board?page_size=3").json()["next"]).json()
    back = token_client.get(second["previous"]).json()
    assert [r["product_name"] for r in back["results"]] == ["Phone 0", "Phone 1", "Phone 2"]


def test_board_csv_neutralises_formula_cells(token_client, market):
    rows = read_csv(token_client.get("/board?format=csv"))
    assert [(r["product_name"], r["best_vendor"], r["best_price"]) for r in rows] == [
        ("'=HYPERLINK(\"http://x\") iPad", "Acme", "300.00"),
        ("Apple iPhone 15 128GB", "'@Bolt", "690.00"),
        ("Apple iPhone 15 128GB", "Euro", "600.00"),
    ]
    assert rows[2]["converted"] == "False" and "no exchange rate" in rows[2]["note"]
    assert read_csv(token_client.get("/board?format=csv&currency=EUR"))[0]["best_offer_currency"] == "EUR"


def test_price_history_csv(token_client, market, build):
    phone = market["phone"]
    rows = read_csv(token_client.get(f"/price-history/product/{phone.id}?format=csv"))
    assert {(r["vendor_name"], r["price"], r["currency"]) for r in rows} == {
        ("Acme", "650.00", "USD"), ("Acme", "700.00", "USD"), ("'@Bolt", "690.00", "USD"), ("Euro", "600.00", "EUR")}
    assert set(rows[0]) == {"product_id", "product_name", "vendor_id", "vendor_name", "condition", "currency",
                            "observed_at", "price", "offer_id"}
    tablet = read_csv(token_client.get(f"/price-history/product/{market['tablet'].id}?format=csv"))
    assert tablet[0]["product_name"].startswith("'=HYPERLINK")
    bad = token_client.get(f"/price-history/product/{phone.id}?format=csv&since=yesterday")
    assert bad.status_code == 400 and bad["Content-Type"].startswith("application/json")
    assert token_client.get(f"/price-history/product/{phone.id}").json()["product"]["id"] == phone.id


@pytest.mark.parametrize("path", ["/board", "/board?format=csv", "/products/{id}/offers/current",
                                  "/price-history/product/{id}?format=csv"])
def test_endpoints_need_credentials(db, market, path):
    url = path.format(id=market["phone"].id)
    response = APIClient().get(url)
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Token")


def test_non_staff_session_is_refused(client, django_user_model, market):
    client.force_login(django_user_model.objects.create_user("clerk", password="pw-clerk-12345"))
    assert client.get("/board").status_code == 403
    assert client.get(f"/products/{market['phone'].id}/offers/current").status_code == 403


def test_staff_session_may_read(staff_client, market):
    assert staff_client.get("/board", HTTP_ACCEPT="application/json").status_code == 200


def test_schema_documents_the_endpoints(token_client):
    schema = token_client.get("/api/schema?format=json").json()
    paths = schema["paths"]
    assert "/board" in paths and "/products/{id}/offers/current" in paths
    board_parameters = {p["name"] for p in paths["/board"]["get"]["parameters"]}
    assert {"q", "brand", "category_id", "condition", "currency", "min_vendors", "format"} <= board_parameters
    assert "text/csv" in paths["/board"]["get"]["responses"]["200"]["content"]
    assert "text/csv" in paths["/price-history/product/{id}"]["get"]["responses"]["200"]["content"]


def test_browsable_api_renders_for_a_staff_session(staff_client, market):
    for url in ("/board", f"/products/{market['phone'].id}/offers/current"):
        response = staff_client.get(url, HTTP_ACCEPT="text/html")
        assert response.status_code == 200 and b"<html" in response.content, url


def test_current_offers_of_a_merged_product_name_the_product_it_went_to(token_client, market, build):
    from offers.merge import merge_products

    target = build.product("Apple iPhone 15 128GB (kept)")
    merge_products(market["phone"], target)
    body = token_client.get(f"/products/{market['phone'].id}/offers/current").json()
    assert body["merged_into_id"] == target.pk and body["results"] == []
    moved = token_client.get(f"/products/{target.pk}/offers/current").json()
    assert len(moved["results"]) == 3
