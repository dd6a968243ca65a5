from datetime import datetime, timedelta, timezone as dt_timezone

import pytest

from offers.models import Tag

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=dt_timezone.utc)


def ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


@pytest.fixture
def catalog(build):
    acme, bolt = build.vendor("Acme"), build.vendor("Bolt")
    phone, tablet = build.product("iPhone 15 128GB"), build.product("iPad Air")
    doc = build.document()
    offers = {
        "a": build.offer(vendor=acme, product=phone, price="750", currency="USD", observed_at=T0, source_document=doc,
                         condition="new", sku="A3090", source_ref="Sheet1!2"),
        "b": build.offer(vendor=acme, product=tablet, price="499.99", currency="USD", observed_at=T0 + timedelta(days=1),
                         condition="refurbished"),
        "c": build.offer(vendor=bolt, product=phone, price="699", currency="EUR", observed_at=T0 + timedelta(days=2),
                         condition="used", source_document=doc),
    }
    return {"acme": acme, "bolt": bolt, "phone": phone, "tablet": tablet, "doc": doc, **offers}


def test_offer_json_has_the_contract_fields(token_client, catalog):
    row = token_client.get("/offers").json()["results"][-1]
    assert row["id"] == catalog["a"].id
    assert row["vendor_id"] == catalog["acme"].id
    assert row["product_id"] == catalog["phone"].id
    assert row["sku"] == "A3090"
    assert row["price"] == "750.00"
    assert row["currency"] == "USD"
    assert row["condition"] == "new"
    assert row["observed_at"] == "2026-11-01T12:00:00Z"
    assert row["source_document_id"] == catalog["doc"].id
    assert row["source_ref"] == "Sheet1!2"
    for key in ["description", "quantity"]:
        assert key in row


@pytest.mark.parametrize(
    "query,expected",
    [
        ("vendor_id={acme}", ["b", "a"]),
        ("product_id={phone}", ["c", "a"]),
        ("document_id={doc}", ["c", "a"]),
        ("condition=refurbished", ["b"]),
        ("currency=eur", ["c"]),
        ("price_min=600", ["c", "a"]),
        ("price_max=699", ["c", "b"]),
        ("price_min=500&price_max=700", ["c"]),
        ("observed_since=2026-11-02T00:00:00Z", ["c", "b"]),
        ("observed_until=2026-11-02T00:00:00Z", ["a"]),
        ("ordering=price", ["b", "c", "a"]),
        ("ordering=-observed_at", ["c", "b", "a"]),
    ],
)
def test_offer_filters(token_client, catalog, query, expected):
    query = query.format(**{k: getattr(v, "id", None) for k, v in catalog.items()})
    assert ids(token_client.get(f"/offers?{query}")) == [catalog[k].id for k in expected]


def test_offer_filter_rejects_bad_values(token_client, catalog):
    assert token_client.get("/offers?condition=mint").status_code == 400
    assert token_client.get("/offers?price_min=abc").status_code == 400


def test_offer_cursor_pagination_walks_every_row_once(token_client, build):
    vendor, product = build.vendor(), build.product()
    made = [build.offer(vendor=vendor, product=product, history=False).id for _ in range(12)]
    seen, url = [], "/offers?page_size=5"
    while url:
        body = token_client.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    assert seen == sorted(made, reverse=True)


API_AUTH_QUERIES = 9  # the token's lookup (1) and its rate-limit count in the database cache (8)


@pytest.mark.parametrize("path", ["/offers", "/products", "/vendors", "/documents"])
def test_list_endpoints_run_a_fixed_number_of_queries(token_client, build, django_assert_max_num_queries, path):
    def populate(n):
        tag = Tag.objects.get_or_create(name="apple")[0]
        for _ in range(n):
            offer = build.offer(source_document=build.document(vendor=build.vendor()))
            offer.product.tags.add(tag)

    token_client.get("/vendors")  # the token's first use records its last use
    populate(3)
    with django_assert_max_num_queries(6 + API_AUTH_QUERIES) as small:
        assert token_client.get(f"{path}?page_size=3").status_code == 200
    populate(30)
    with django_assert_max_num_queries(6 + API_AUTH_QUERIES) as large:
        assert token_client.get(f"{path}?page_size=30").status_code == 200
    assert len(small.captured_queries) == len(large.captured_queries)


def test_products_list_detail_and_filters(token_client, build):
    phone = build.product("iPhone 15 128GB", brand="Apple")
    build.product("Galaxy S24", brand="Samsung")
    phone.tags.add(Tag.objects.create(name="flagship"))
    assert ids(token_client.get("/products?q=iphone")) == [phone.id]
    assert ids(token_client.get("/products?brand=apple")) == [phone.id]
    assert ids(token_client.get("/products?tag=Flagship")) == [phone.id]
    detail = token_client.get(f"/products/{phone.id}").json()
    assert detail["name"] == "iPhone 15 128GB" and detail["tags"] == ["flagship"]
    assert token_client.get("/products/999999").status_code == 404


def test_vendors_list(token_client, build):
    build.vendor("Acme")
    body = token_client.get("/vendors").json()
    assert [row["name"] for row in body["results"]] == ["Acme"]


def test_price_history_series_per_vendor_and_condition(token_client, catalog, build):
    build.offer(vendor=catalog["acme"], product=catalog["phone"], price="740", observed_at=T0 + timedelta(days=5),
                condition="new")
    body = token_client.get(f"/price-history/product/{catalog['phone'].id}").json()
    assert body["product"]["id"] == catalog["phone"].id
    series = {(s["vendor_id"], s["condition"], s["currency"]): [p["price"] for p in s["points"]] for s in body["series"]}
    assert series == {
        (catalog["acme"].id, "new", "USD"): ["750.00", "740.00"],
        (catalog["bolt"].id, "used", "EUR"): ["699.00"],
    }
    since = token_client.get(f"/price-history/product/{catalog['phone'].id}?since=2026-11-04").json()
    assert [[p["price"] for p in s["points"]] for s in since["series"]] == [["740.00"]]
    until = token_client.get(f"/price-history/product/{catalog['phone'].id}?until=2026-11-02T00:00:00Z").json()
    assert [[p["price"] for p in s["points"]] for s in until["series"]] == [["750.00"]]
    assert token_client.get(f"/price-history/product/{catalog['phone'].id}?since=yesterday").status_code == 400
    assert token_client.get("/price-history/product/999999").status_code == 404
