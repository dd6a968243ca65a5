"""The operators' admin over large tables: pages work, titles are readable, lists never count the table."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone as dt_timezone
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from offers import admin as offers_admin, selectors
from offers.attributes import region_codes
from offers.models import Offer, PriceHistory, ProductAlias, VendorAlias

WHEN = datetime(2026, 11, 1, 12, 0, tzinfo=dt_timezone.utc)
OFFERS = "/admin/offers/offer/"
HISTORY = "/admin/offers/pricehistory/"
ONE_DAY = "observed_at__gte=2026-11-01+00:00:00%2B00:00&observed_at__lt=2026-11-02+00:00:00%2B00:00"


@pytest.fixture
def catalogue(build):
    """Two vendors, three products, 12 offers (each with its history point) at distinct times and prices."""
    acme, beta = build.vendor("Acme Mobile"), build.vendor("Beta Phones")
    phones = [build.product(name, brand=name.split()[0])
              for name in ("Apple iPhone 15 128GB", "Apple iPhone 15 256GB", "Samsung Galaxy S24")]
    offers = [
        build.offer(vendor=(acme, beta)[i % 2], product=phones[i % 3], price=f"{600 + i}.00",
                    currency=("USD", "EUR")[i % 2], condition=("new", "used")[i % 2],
                    observed_at=WHEN + timedelta(hours=i))
        for i in range(12)
    ]
    return {"vendors": (acme, beta), "products": phones, "offers": offers}


def offer_counts(queries) -> list[str]:
    """The SQL of every COUNT in ``queries`` that reads the offers or history table."""
    tables = (Offer._meta.db_table, PriceHistory._meta.db_table)
    return [q["sql"] for q in queries if "COUNT(" in q["sql"].upper() and any(t in q["sql"] for t in tables)]


def test_offer_and_history_titles_name_product_vendor_and_price(catalogue):
    offer = Offer.objects.get(pk=catalogue["offers"][0].pk)
    assert str(offer) == "Apple iPhone 15 128GB — Acme Mobile — 600.00 USD"
    assert str(offer.history_point) == "Apple iPhone 15 128GB — Acme Mobile — 600.00 USD on 2026-11-01"
    assert str(Offer(price=Decimal("5"), currency="EUR")) == "(no product) — (no vendor) — 5.00 EUR"


@pytest.mark.parametrize("url", [
    OFFERS, f"{OFFERS}?p=2", f"{OFFERS}?condition__exact=used", f"{OFFERS}?currency__exact=EUR",
    f"{OFFERS}?{ONE_DAY}", f"{OFFERS}?q=iphone+128",
    f"{OFFERS}?q=nothing+like+it", f"{OFFERS}?o=-4", f"{OFFERS}?all=", f"{OFFERS}?source_document__id__exact=1",
    f"{OFFERS}?product__id__exact=1", f"{OFFERS}?vendor__id__in=1,2",
    HISTORY, f"{HISTORY}?condition__exact=new", f"{HISTORY}?currency__exact=USD", f"{HISTORY}?q=galaxy",
    "/admin/offers/product/", "/admin/offers/product/?q=iphone", "/admin/offers/product/?brand__exact=Apple",
    "/admin/offers/vendor/", "/admin/offers/vendor/?q=acme",
    "/admin/offers/vendoralias/", "/admin/offers/vendoralias/?q=acme", "/admin/offers/productalias/",
    f"{OFFERS}add/", "/admin/offers/product/add/", "/admin/offers/vendor/add/", "/admin/offers/vendoralias/add/",
])
def test_admin_pages_answer(staff_client, catalogue, url, monkeypatch):
    monkeypatch.setattr(offers_admin.LargeTableAdmin, "list_per_page", 5)
    response = staff_client.get(url)
    assert response.status_code == 200, response.content[:500]


def test_change_view_and_delete_pages_have_readable_titles(staff_client, catalogue):
    offer = catalogue["offers"][0]
    VendorAlias.objects.create(vendor=offer.vendor, alias="acme sales")
    title = "Apple iPhone 15 128GB — Acme Mobile — 600.00 USD"
    for url in [f"{OFFERS}{offer.pk}/change/", f"{OFFERS}{offer.pk}/delete/",
                f"{HISTORY}{offer.history_point.pk}/change/"]:
        response = staff_client.get(url)
        assert response.status_code == 200
        assert title in response.text, url
    for url in [f"/admin/offers/product/{offer.product_id}/change/", f"/admin/offers/vendor/{offer.vendor_id}/change/",
                f"/admin/offers/vendoralias/{VendorAlias.objects.get().pk}/change/"]:
        assert staff_client.get(url).status_code == 200


@pytest.mark.parametrize("url", [
    OFFERS, f"{OFFERS}?p=2", f"{OFFERS}?vendor__id__exact={{vendor}}", f"{OFFERS}?currency__exact=EUR",
    f"{OFFERS}?q=iphone", HISTORY, f"{HISTORY}?p=2", f"{HISTORY}?vendor__id__exact={{vendor}}", f"{HISTORY}?q=iphone",
])
def test_offer_and_history_lists_never_count_rows_and_cost_the_same_queries_for_more_rows(
    staff_client, catalogue, build, url, monkeypatch, django_assert_max_num_queries
):
    monkeypatch.setattr(offers_admin.LargeTableAdmin, "list_per_page", 5)
    url = url.format(vendor=catalogue["vendors"][0].pk)
    staff_client.get(url)  # session and content types cached
    with CaptureQueriesContext(connection) as few:
        assert staff_client.get(url).status_code == 200
    for i in range(30):  # more rows, more vendors and products on each page: no query per row
        build.offer(vendor=catalogue["vendors"][i % 2], product=build.product(f"Apple iPhone {i}"),
                    price=f"{700 + i}.00", observed_at=WHEN + timedelta(days=1, minutes=i))
    with django_assert_max_num_queries(len(few)), CaptureQueriesContext(connection) as many:
        response = staff_client.get(url)
    assert response.status_code == 200
    assert offer_counts(few) + offer_counts(many) == []
    assert len(many) <= 12


def test_offer_list_pages_say_when_the_count_is_estimated_or_a_lower_bound(staff_client, catalogue, monkeypatch):
    monkeypatch.setattr(offers_admin.LargeTableAdmin, "list_per_page", 5)
    first = staff_client.get(OFFERS)
    assert "about 12 offers" in first.text or "more than 5 offers" in first.text
    last = staff_client.get(f"{OFFERS}?p=3")
    assert re.search(r"\b12 offers", last.text) and "more than" not in last.text
    filtered = staff_client.get(f"{OFFERS}?condition__exact=used")
    assert "more than 5 offers" in filtered.text
    assert staff_client.get(f"{OFFERS}?condition__exact=used&p=2").context["cl"].result_count == 6


def test_filters_and_search_find_the_right_rows(staff_client, catalogue):
    acme = catalogue["vendors"][0]

    def listed(url):
        return {o.pk for o in staff_client.get(url).context["cl"].result_list}

    offers = catalogue["offers"]
    assert listed(f"{OFFERS}?vendor__id__exact={acme.pk}") == {o.pk for o in offers if o.vendor == acme}
    assert listed(f"{OFFERS}?currency__exact=EUR") == {o.pk for o in offers if o.currency == "EUR"}
    assert listed(f"{OFFERS}?q=iphone+256") == {o.pk for o in offers if o.product.name.endswith("256GB")}
    assert listed(f"{OFFERS}?q=APPLE") == {o.pk for o in offers if "Apple" in o.product.name}
    assert listed(f"{HISTORY}?q=galaxy") == {o.history_point.pk for o in offers if "Galaxy" in o.product.name}
    ProductAlias.objects.create(product=offers[2].product, vendor=acme, kind="sku", key="SM-S24")
    assert listed(f"{OFFERS}?q=sm-s24") == {o.pk for o in offers if o.product == offers[2].product}
    newest = staff_client.get(f"{OFFERS}?{ONE_DAY}").context["cl"]
    assert [o.pk for o in newest.result_list] == [o.pk for o in reversed(offers)]
    vendor_filter = staff_client.get(OFFERS).context["cl"].filter_specs[2]
    assert [choice["display"] for choice in vendor_filter.choices(staff_client.get(OFFERS).context["cl"])][1:] == [
        "Acme Mobile", "Beta Phones"]


def test_a_generic_search_term_scans_rows_in_list_order(catalogue, monkeypatch):
    monkeypatch.setattr(selectors, "SEARCH_PRODUCTS_LIMIT", 1)
    found = selectors.search_by_product(Offer.objects.order_by("-id"), "apple")
    assert [o.pk for o in found] == [o.pk for o in reversed(catalogue["offers"]) if "Apple" in o.product.name]


def test_deep_pages_are_read_by_id_first(catalogue, monkeypatch):
    monkeypatch.setattr(selectors.LookaheadPaginator, "DEEP_OFFSET", 4)
    filtered = Offer.objects.filter(price__gt=0).order_by("-id")  # filtered: no table estimate
    paginator = selectors.LookaheadPaginator(filtered, 4, page_number=2)
    assert paginator.count == 9 and not paginator.count_is_exact
    assert [o.pk for o in paginator.page(2).object_list] == [o.pk for o in catalogue["offers"][7:3:-1]]
    assert [o.pk for o in paginator.page(3).object_list] == [o.pk for o in catalogue["offers"][3::-1]]


def test_estimated_row_count_is_near_the_table_size(catalogue):
    assert selectors.estimated_row_count(Offer) in (None, *range(12, 100))


def test_vendor_list_caps_its_offer_counts(staff_client, catalogue, monkeypatch):
    monkeypatch.setattr(offers_admin, "OFFER_COUNT_CAP", 5)
    response = staff_client.get("/admin/offers/vendor/")
    assert response.text.count("5+</a>") == 2
    monkeypatch.setattr(offers_admin, "OFFER_COUNT_CAP", 10_000)
    assert staff_client.get("/admin/offers/vendor/").text.count(">6</a>") == 2


def test_deleting_a_vendor_or_product_with_offers_shows_a_few_of_them(
    staff_client, catalogue, build, monkeypatch, django_assert_max_num_queries
):
    monkeypatch.setattr(offers_admin.OffersProtectMixin, "SHOWN", 3)
    acme, phone = catalogue["vendors"][0], catalogue["products"][0]
    for url in [f"/admin/offers/vendor/{acme.pk}/delete/", f"/admin/offers/product/{phone.pk}/delete/"]:
        with django_assert_max_num_queries(12):
            response = staff_client.get(url)
        assert response.status_code == 200
        assert response.text.count("Offer: <a") == 3 and "all their offers" in response.text
        assert "Apple iPhone 15" in response.text or "Acme Mobile" in response.text
    spare = build.vendor("Spare Vendor")
    assert "Are you sure" in staff_client.get(f"/admin/offers/vendor/{spare.pk}/delete/").text
    assert staff_client.post(f"/admin/offers/vendor/{spare.pk}/delete/", {"post": "yes"}).status_code == 302


def test_product_brand_filter_lists_the_brands_in_use(staff_client, catalogue, build):
    build.product("Unbranded cable")
    cl = staff_client.get("/admin/offers/product/?brand__exact=Samsung").context["cl"]
    assert [p.name for p in cl.result_list] == ["Samsung Galaxy S24"]
    brand_filter = next(spec for spec in cl.filter_specs if spec.title == "brand")
    assert [choice["display"] for choice in brand_filter.choices(cl)][1:] == ["Apple", "Samsung"]


def test_vendor_change_page_lists_its_aliases_and_adds_one(staff_client, catalogue):
    acme = catalogue["vendors"][0]
    url = f"/admin/offers/vendor/{acme.pk}/change/"
    VendorAlias.objects.create(vendor=acme, alias="acme one")
    with CaptureQueriesContext(connection) as one:
        assert staff_client.get(url).status_code == 200
    VendorAlias.objects.bulk_create(VendorAlias(vendor=acme, alias=f"acme {n}") for n in range(2, 12))
    with CaptureQueriesContext(connection) as eleven:
        page = staff_client.get(url).text
    assert "acme 11</a>" in page and "acme one</a>" in page
    assert len(eleven) == len(one)
    form = {"name": "Acme Mobile", "default_currency": "", "aliases-TOTAL_FORMS": "1", "aliases-INITIAL_FORMS": "0",
            "aliases-0-kind": "whatsapp_sender", "aliases-0-alias": "+1 555 0100"}
    assert staff_client.post(url, form).status_code == 302
    assert acme.aliases.count() == 12 and acme.aliases.filter(alias="+1 555 0100").exists()

def test_a_one_page_list_reads_its_rows_once(staff_client, catalogue):
    url = f"{OFFERS}?product__id__exact={catalogue['products'][0].pk}"
    staff_client.get(url)
    with CaptureQueriesContext(connection) as queries:
        assert len(staff_client.get(url).context["cl"].result_list) == 4
    reads = [q for q in queries if q["sql"].startswith(f'SELECT "{Offer._meta.db_table}"."id", ')]
    assert len(reads) == 1


def test_columns_outside_sortable_by_are_not_sorted_even_by_hand(staff_client, catalogue):
    with CaptureQueriesContext(connection) as queries:
        by_vendor = staff_client.get(f"{OFFERS}?o=3").context["cl"]  # the vendor column (after the checkbox)
    assert [o.pk for o in by_vendor.result_list] == [o.pk for o in reversed(catalogue["offers"])]
    assert not any('"offers_vendor"."name" ASC' in q["sql"] for q in queries)
    by_price = staff_client.get(f"{OFFERS}?o=4").context["cl"]
    assert [o.pk for o in by_price.result_list] == [o.pk for o in catalogue["offers"]]


def test_page_links_stop_where_the_count_stops_being_known(catalogue):
    paginator = selectors.LookaheadPaginator(Offer.objects.filter(price__gt=0).order_by("-id"), 1, page_number=2)
    assert paginator.count == 3 and not paginator.count_is_exact
    assert list(paginator.get_elided_page_range(2, on_each_side=1, on_ends=1)) == [1, 2, 3]
    exact = selectors.LookaheadPaginator(Offer.objects.filter(price__gt=0).order_by("-id"), 1, page_number=12)
    assert exact.count == 12 and exact.count_is_exact
    assert list(exact.get_elided_page_range(12, on_each_side=1, on_ends=1))[-2:] == [11, 12]
    deep = selectors.LookaheadPaginator(Offer.objects.order_by("-id"), 1, page_number=1)
    deep.count_is_exact, deep.count = False, 1000  # an estimate of the table's size
    assert list(deep.get_elided_page_range(1, on_each_side=2, on_ends=1)) == [1, 2, 3, deep.ELLIPSIS]


def test_history_by_vendor_reads_a_small_vendor_through_its_offers(catalogue, monkeypatch):
    acme = catalogue["vendors"][0]
    expected = [o.history_point.pk for o in reversed(catalogue["offers"]) if o.vendor == acme]
    points = PriceHistory.objects.order_by("-id")
    small = selectors.filter_by_vendor(points, acme.pk)
    assert '"offer_id" IN (SELECT' in str(small.query) and [p.pk for p in small] == expected
    monkeypatch.setattr(selectors, "VENDOR_OFFERS_BY_ID", 2)
    large = selectors.filter_by_vendor(points, acme.pk)
    assert '"offer_id" IN (SELECT' not in str(large.query) and [p.pk for p in large] == expected


PRODUCTS = "/admin/offers/product/"


@pytest.fixture
def matched(catalogue):
    """The catalogue's offers with matching attributes: colours, regions, methods, two to review."""
    offers = catalogue["offers"]
    attributes = [("Black Titanium", "US", "sku", False), ("Natural Titanium", "HK", "similar", True),
                  ("Titanium Gray", "EU", "key", False), ("", "", "", False)]
    for i, offer in enumerate(offers):
        color, region, method, review = attributes[i % 4]
        Offer.all_objects.filter(pk=offer.pk).update(color=color, region=region, match_method=method,
                                                     needs_review=review and i < 8)
        offer.refresh_from_db()
    return catalogue


@pytest.mark.parametrize("url", [
    f"{OFFERS}?needs_review__exact=1", f"{OFFERS}?needs_review__exact=0", f"{OFFERS}?match_method__exact=similar",
    f"{OFFERS}?color__exact=Black+Titanium", f"{OFFERS}?region__exact=HK", f"{OFFERS}?region__exact=ZZ",
    f"{OFFERS}?vendor__id__exact=1&color__exact=Titanium+Gray&region__exact=EU",
    f"{PRODUCTS}?merged=yes", f"{PRODUCTS}?merged=no",
])
def test_attribute_filter_pages_answer(staff_client, matched, url, monkeypatch):
    monkeypatch.setattr(offers_admin.LargeTableAdmin, "list_per_page", 5)
    assert staff_client.get(url).status_code == 200


def test_offer_list_shows_colour_and_region_and_filters_by_the_matching_attributes(staff_client, matched):
    offers = matched["offers"]

    def listed(url):
        response = staff_client.get(url)
        assert response.status_code == 200
        return {o.pk for o in response.context["cl"].result_list}

    page = staff_client.get(OFFERS).text
    assert 'class="column-color"' in page and 'class="column-region"' in page
    assert '<td class="field-color">Natural Titanium</td>' in page and '<td class="field-region">HK</td>' in page
    assert listed(f"{OFFERS}?needs_review__exact=1") == {o.pk for o in offers if o.needs_review} != set()
    assert listed(f"{OFFERS}?needs_review__exact=0") == {o.pk for o in offers if not o.needs_review}
    assert listed(f"{OFFERS}?match_method__exact=key") == {o.pk for o in offers if o.match_method == "key"}
    assert listed(f"{OFFERS}?color__exact=Black+Titanium") == {o.pk for o in offers if o.color == "Black Titanium"}
    assert listed(f"{OFFERS}?region__exact=HK") == {o.pk for o in offers if o.region == "HK"}
    acme = matched["vendors"][0]
    assert listed(f"{OFFERS}?vendor__id__exact={acme.pk}&region__exact=US") == {
        o.pk for o in offers if o.vendor == acme and o.region == "US"}


def test_colour_and_region_filters_list_the_canonical_values_without_reading_the_offers(staff_client, matched):
    staff_client.get(OFFERS)
    with CaptureQueriesContext(connection) as queries:
        cl = staff_client.get(f"{OFFERS}?region__exact=ZZ").context["cl"]
    specs = {spec.title: spec for spec in cl.filter_specs}
    colours = [choice["display"] for choice in specs["colour"].choices(cl)][1:]
    regions = [choice["display"] for choice in specs["region"].choices(cl)][1:]
    assert colours == sorted(colours) and {"Black Titanium", "Natural Titanium", "Space Gray"} <= set(colours)
    assert "nat" not in colours and "Natural" not in colours  # canonical names, not the vendors' spellings
    assert {"US", "HK", "EU", "UK", "JP", "AE", "Global"} <= set(regions) and regions[-1] == "ZZ"  # + the selected
    assert region_codes() == tuple(sorted(set(region_codes())))
    reads = [q["sql"] for q in queries if "DISTINCT" in q["sql"].upper() and Offer._meta.db_table in q["sql"]]
    assert reads == []
    assert {spec.title for spec in cl.filter_specs} >= {"needs review", "match method", "colour", "region"}
    methods = [choice["display"] for choice in specs["match method"].choices(cl)][1:]
    assert methods == ["Vendor SKU remembered", "Identifier (EAN, part number)", "Same attributes", "Similar model",
                       "New product", "Operator"]


def test_product_list_marks_merged_products_and_filters_them(staff_client, catalogue, build):
    phone = catalogue["products"][0]
    old = build.product("Apple iPhone 15 128 (old)", merged_into=phone)
    cl = staff_client.get(PRODUCTS).context["cl"]
    assert old in cl.result_list and phone in cl.result_list  # all by default: merges are undone from here
    page = staff_client.get(PRODUCTS).text
    assert 'class="column-merged_into_link"' in page
    target = f'/admin/offers/product/{phone.pk}/change/'
    assert f'<a href="{target}">→ Apple iPhone 15 128GB</a>' in page
    assert [p.pk for p in staff_client.get(f"{PRODUCTS}?merged=yes").context["cl"].result_list] == [old.pk]
    unmerged = {p.pk for p in staff_client.get(f"{PRODUCTS}?merged=no").context["cl"].result_list}
    assert unmerged == {p.pk for p in catalogue["products"]}
    specs = {spec.title: spec for spec in cl.filter_specs}
    assert [choice["display"] for choice in specs["merged"].choices(cl)] == ["All", "Yes", "No"]


def test_product_list_costs_the_same_queries_with_merged_products(staff_client, catalogue, build):
    staff_client.get(PRODUCTS)
    with CaptureQueriesContext(connection) as few:
        assert staff_client.get(PRODUCTS).status_code == 200
    for i in range(10):
        build.product(f"Old phone {i}", merged_into=catalogue["products"][i % 3])
    with CaptureQueriesContext(connection) as many:
        assert staff_client.get(PRODUCTS).status_code == 200
    assert len(many) == len(few)


def test_product_change_page_shows_ram_connectivity_and_the_merge(staff_client, catalogue, build):
    phone = catalogue["products"][0]
    old = build.product("Galaxy S24 12/256", ram="12GB", connectivity="5G", merged_into=phone)
    page = staff_client.get(f"{PRODUCTS}{old.pk}/change/").text
    assert 'name="ram" value="12GB"' in page and 'name="connectivity" value="5G"' in page
    assert f'/admin/offers/product/{phone.pk}/change/' in page  # merged_into, read-only, links to the target
    assert 'name="merged_into"' not in page
