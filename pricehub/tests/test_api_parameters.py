"""Every list endpoint answers an unknown or bad query parameter with a 400 that says what is
valid, never by quietly ignoring it; and `/` leads to the admin."""

import pytest

PAGING = {"cursor", "page_size", "format"}
LISTS = {
    "/offers": {"vendor_id", "product_id", "document_id", "condition", "currency", "price_min", "price_max",
                "observed_since", "observed_until", "ordering", "color", "region", "needs_review", "match_method"},
    "/products": {"q", "brand", "category_id", "tag", "merged"},
    "/documents": {"status", "vendor_id", "processor"},
    "/vendors": set(),
}


@pytest.fixture
def catalog(build):
    acme = build.vendor("Acme")
    phone = build.product("iPhone 15 128GB")
    offers = [build.offer(vendor=acme, product=phone, price=price) for price in ("750", "699", "720")]
    build.document(), build.document()
    return {"acme": acme, "phone": phone, "offers": offers}


@pytest.mark.parametrize("path", sorted(LISTS))
def test_an_unknown_filter_is_a_400_listing_the_valid_ones(token_client, catalog, path):
    response = token_client.get(path, {"vendor": "Acme"} if path != "/vendors" else {"name": "Acme"})
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body["valid"]) == LISTS[path] | PAGING
    assert body["detail"].startswith("unknown query parameter 'vendor'" if path != "/vendors"
                                     else "unknown query parameter 'name'")
    assert "valid ones: " in body["detail"] and "page_size" in body["detail"]


@pytest.mark.parametrize("path", sorted(LISTS))
def test_known_parameters_paging_and_format_are_accepted(token_client, catalog, path):
    response = token_client.get(path, {"page_size": "1", "format": "json"})
    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == 1
    follow = token_client.get(response.json()["next"]) if response.json()["next"] else None
    assert follow is None or follow.status_code == 200


def test_price_history_takes_since_and_until_only(token_client, catalog):
    path = f"/price-history/product/{catalog['phone'].id}"
    assert token_client.get(path, {"since": "2026-01-01", "until": "2027-01-01"}).status_code == 200
    response = token_client.get(path, {"vendor_id": catalog["acme"].id})
    assert response.status_code == 400
    assert response.json()["valid"] == ["format", "since", "until"]
    assert token_client.get(path, {"since": "last week"}).status_code == 400


def test_an_unknown_ordering_is_a_400_listing_the_valid_fields(token_client, catalog):
    response = token_client.get("/offers", {"ordering": "-price,vendor"})
    assert response.status_code == 400
    assert response.json() == {"ordering": ["cannot order by 'vendor'; valid: id, price, observed_at "
                                            "(a leading - sorts descending)"]}
    response = token_client.get("/offers", {"ordering": "-price,id"})
    assert [row["price"] for row in response.json()["results"]] == ["750.00", "720.00", "699.00"]
    assert token_client.get("/documents", {"ordering": "id"}).status_code == 400  # documents take no ordering


@pytest.mark.parametrize("path,query,field", [
    ("/offers", {"vendor_id": "abc"}, "vendor_id"),
    ("/offers", {"vendor_id": "1.5"}, "vendor_id"),  # not read as vendor 1
    ("/offers", {"condition": "shiny"}, "condition"),
    ("/offers", {"price_min": "cheap"}, "price_min"),
    ("/offers", {"observed_since": "yesterday"}, "observed_since"),
    ("/products", {"category_id": "phones"}, "category_id"),
    ("/products", {"merged": "maybe"}, "merged"),
    ("/offers", {"needs_review": "maybe"}, "needs_review"),
    ("/offers", {"match_method": "guess"}, "match_method"),
    ("/documents", {"status": "done"}, "status"),
    ("/documents", {"vendor_id": "x"}, "vendor_id"),
    ("/vendors", {"page_size": "many"}, "page_size"),
    ("/offers", {"page_size": "0"}, "page_size"),
    ("/offers", {"cursor": "not-a-cursor"}, "cursor"),
    # larger than any database id: a 400, not the database's overflow (a 500)
    ("/offers", {"vendor_id": "9223372036854775808"}, "vendor_id"),
    ("/offers", {"product_id": "99999999999999999999999"}, "product_id"),
    ("/products", {"category_id": "99999999999999999999999"}, "category_id"),
    ("/documents", {"vendor_id": "9223372036854775808"}, "vendor_id"),
    ("/board", {"category_id": "9223372036854775808"}, "category_id"),
    ("/offers", {"vendor_id": "0"}, "vendor_id"),
])
def test_a_bad_value_of_a_known_parameter_is_a_400_naming_it(token_client, catalog, path, query, field):
    response = token_client.get(path, query)
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_page_size_above_the_maximum_is_a_400_saying_the_maximum(token_client, catalog):
    response = token_client.get("/offers", {"page_size": "10000"})
    assert response.status_code == 400
    assert "more than 500" in response.json()["page_size"][0]
    response = token_client.get("/offers", {"page_size": "500"})
    assert response.status_code == 200 and len(response.json()["results"]) == 3


def test_the_root_leads_to_the_admin(db, staff_client):
    from django.test import Client

    anonymous = Client()
    response = anonymous.get("/")
    assert response.status_code == 302 and response.url == "/admin/"
    response = anonymous.get("/", follow=True)
    assert response.redirect_chain[-1][0].startswith("/admin/login/")
    response = staff_client.get("/", follow=True)
    assert response.status_code == 200 and response.redirect_chain == [("/admin/", 302)]


@pytest.mark.parametrize("path,query,formats", [
    ("/board", {"format": "xml"}, "api, csv, json"),
    ("/board", {"format": "CSV"}, "api, csv, json"),
    ("/offers", {"format": "csv"}, "api, json"),
])
def test_a_format_the_endpoint_does_not_have_is_a_400_listing_its_formats(token_client, catalog, path, query,
                                                                          formats):
    response = token_client.get(path, query)
    assert response.status_code == 400, response.content
    assert response.json()["format"] == [f"{query['format']!r} is not a format of this endpoint; its formats: {formats}"]
    assert token_client.get(path, {"format": "json"}).status_code == 200
