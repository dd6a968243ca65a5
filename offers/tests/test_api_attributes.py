"""The matching attributes in the API: offer colour, region, match method and review flag;
product RAM, connectivity and merges (merged products hidden from the list by default)."""

from __future__ import annotations

import pytest
from django.db import connection

from offers.filters import OfferFilter
from offers.models import Offer
from offers.tests.test_api import ids


@pytest.fixture
def catalog(build):
    acme, bolt = build.vendor("Acme"), build.vendor("Bolt")
    phone = build.product("Apple iPhone 15 Pro 256GB", brand="Apple", model="iPhone 15 Pro", storage="256GB")
    galaxy = build.product("Samsung Galaxy S24 Ultra 12GB 512GB", brand="Samsung", model="Galaxy S24 Ultra",
                           storage="512GB", ram="12GB", connectivity="5G")
    offers = {
        "black_us": build.offer(vendor=acme, product=phone, color="Black Titanium", region="US",
                                match_method="sku", match_confidence=100),
        "natural_hk": build.offer(vendor=acme, product=phone, color="Natural Titanium", region="HK",
                                  match_method="similar", match_confidence=72, needs_review=True),
        "black_eu": build.offer(vendor=bolt, product=galaxy, color="Titanium Black", region="EU",
                                match_method="key", match_confidence=95),
        "plain": build.offer(vendor=bolt, product=phone),  # from before attribute matching
    }
    return {"acme": acme, "bolt": bolt, "phone": phone, "galaxy": galaxy, **offers}


def test_offer_json_has_the_matching_fields(token_client, catalog):
    rows = {row["id"]: row for row in token_client.get("/offers").json()["results"]}
    row = rows[catalog["natural_hk"].id]
    assert (row["color"], row["region"], row["match_method"], row["match_confidence"], row["needs_review"]) == (
        "Natural Titanium", "HK", "similar", 72, True)
    plain = rows[catalog["plain"].id]
    assert (plain["color"], plain["region"], plain["match_method"], plain["match_confidence"],
            plain["needs_review"]) == ("", "", "", None, False)
    detail = token_client.get(f"/offers/{catalog['black_us'].id}").json()
    assert (detail["color"], detail["region"], detail["match_method"], detail["match_confidence"]) == (
        "Black Titanium", "US", "sku", 100)


@pytest.mark.parametrize("query,expected", [
    ("color=Black+Titanium", ["black_us"]),
    ("color=black+titanium", ["black_us"]),  # case-insensitive
    ("color=BLACK", []),  # exact: no part of a colour
    ("region=hk", ["natural_hk"]),
    ("region=EU", ["black_eu"]),
    ("region=U", []),
    ("color=nat", ["natural_hk"]),  # a vendor's spelling of a known colour
    ("color=Siyah+Titanyum", ["black_us"]),
    ("region=europe", ["black_eu"]),  # a region word
    ("needs_review=true", ["natural_hk"]),
    ("needs_review=TRUE", ["natural_hk"]),
    ("needs_review=false", ["plain", "black_eu", "black_us"]),
    ("match_method=similar", ["natural_hk"]),
    ("match_method=key", ["black_eu"]),
    ("match_method=manual", []),
    ("vendor_id={acme}&color=natural+titanium", ["natural_hk"]),
    ("product_id={phone}&region=us", ["black_us"]),
    ("vendor_id={bolt}&needs_review=false&match_method=key", ["black_eu"]),
    ("color=&region=", ["plain", "black_eu", "natural_hk", "black_us"]),  # empty: no filter
])
def test_offer_attribute_filters(token_client, catalog, query, expected):
    query = query.format(**{k: getattr(v, "id", None) for k, v in catalog.items()})
    assert ids(token_client.get(f"/offers?{query}")) == [catalog[k].id for k in expected]


@pytest.mark.parametrize("path,query,field,message", [
    ("/offers", {"needs_review": "maybe"}, "needs_review", "'maybe' is not true or false"),
    ("/offers", {"needs_review": "1"}, "needs_review", "'1' is not true or false"),
    ("/offers", {"needs_review": "yes"}, "needs_review", "'yes' is not true or false"),
    ("/offers", {"match_method": "guess"}, "match_method", "guess"),
    ("/offers", {"match_method": "SKU"}, "match_method", "SKU"),
    ("/products", {"merged": "maybe"}, "merged", "'maybe' is not true or false"),
    ("/products", {"merged": "all"}, "merged", "'all' is not true or false"),
])
def test_a_bad_attribute_filter_is_a_400_naming_it(token_client, catalog, path, query, field, message):
    response = token_client.get(path, query)
    assert response.status_code == 400, response.content
    body = response.json()
    assert list(body) == [field]
    assert message in body[field][0]


def test_product_json_has_ram_connectivity_and_merged_into(token_client, catalog):
    rows = {row["id"]: row for row in token_client.get("/products").json()["results"]}
    galaxy = rows[catalog["galaxy"].id]
    assert (galaxy["ram"], galaxy["connectivity"], galaxy["merged_into_id"]) == ("12GB", "5G", None)
    phone = rows[catalog["phone"].id]
    assert (phone["ram"], phone["connectivity"], phone["merged_into_id"]) == ("", "", None)


def test_merged_products_are_hidden_from_the_list_unless_asked_for(token_client, catalog, build):
    phone, galaxy = catalog["phone"], catalog["galaxy"]
    old = build.product("iPhone 15 Pro 256 (old)", brand="Apple", merged_into=phone)
    older = build.product("IP15P 256", merged_into=phone)
    assert sorted(ids(token_client.get("/products"))) == sorted([phone.id, galaxy.id])
    assert ids(token_client.get("/products?merged=false")) == ids(token_client.get("/products"))
    assert sorted(ids(token_client.get("/products?merged=true"))) == sorted([old.id, older.id])
    assert sorted(ids(token_client.get("/products?merged=True"))) == sorted([old.id, older.id])
    assert ids(token_client.get("/products?merged=")) == ids(token_client.get("/products"))  # empty: the default
    # with the other filters
    assert ids(token_client.get("/products?merged=true&brand=apple")) == [old.id]
    assert ids(token_client.get("/products?brand=apple")) == [phone.id]
    assert ids(token_client.get("/products?q=256")) == [phone.id]
    assert sorted(ids(token_client.get("/products?q=256&merged=true"))) == sorted([old.id, older.id])
    # an old link to a merged product still answers, saying where it went
    detail = token_client.get(f"/products/{old.id}")
    assert detail.status_code == 200
    assert detail.json()["merged_into_id"] == phone.id and detail.json()["name"] == "iPhone 15 Pro 256 (old)"
    assert token_client.get(f"/price-history/product/{old.id}").json()["product"]["merged_into_id"] == phone.id


def test_schema_documents_the_attribute_fields_and_filters(token_client):
    schema = token_client.get("/api/schema?format=json").json()
    offer_params = {p["name"]: p for p in schema["paths"]["/offers"]["get"]["parameters"]}
    assert offer_params["color"]["schema"] == {"type": "string"}
    assert offer_params["region"]["schema"] == {"type": "string"}
    assert offer_params["needs_review"]["schema"] == {"type": "boolean"}
    assert sorted(offer_params["match_method"]["schema"]["enum"]) == sorted(
        ["sku", "identifier", "key", "similar", "new", "manual"])
    product_params = {p["name"]: p for p in schema["paths"]["/products"]["get"]["parameters"]}
    assert product_params["merged"]["schema"] == {"type": "boolean"}
    assert "default" in product_params["merged"]["description"]
    components = schema["components"]["schemas"]
    assert {"color", "region", "match_method", "match_confidence", "needs_review"} <= set(
        components["Offer"]["properties"])
    assert {"ram", "connectivity", "merged_into_id"} <= set(components["Product"]["properties"])
    assert components["Product"]["properties"]["merged_into_id"]["nullable"] is True
    assert components["Offer"]["properties"]["match_confidence"]["nullable"] is True


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's plan text; PostgreSQL plans by its statistics")
@pytest.mark.parametrize("query,index", [
    ({"needs_review": "true"}, "offer_review_queue"),
    ({"vendor_id": "1", "color": "black"}, "offer_vendor_id"),
    ({"product_id": "1", "region": "us", "match_method": "key"}, "offer_product_id"),
])
def test_attribute_filters_read_through_an_index(db, query, index):
    queryset = OfferFilter(query, queryset=Offer.objects.order_by("-id")).qs[:50]
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        plan = " / ".join(row[-1] for row in cursor.fetchall())
    assert f"USING INDEX {index}" in plan, plan
    assert "TEMP B-TREE" not in plan, plan  # newest first without a sort
