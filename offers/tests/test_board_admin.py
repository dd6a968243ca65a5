"""The admin's "Best prices" page, the product page's current offers and charts, exchange rates."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from offers.models import ExchangeRate

BEST = "/admin/offers/product/best-prices/"


def ago(hours: float):
    return timezone.now() - timedelta(hours=hours)


@pytest.fixture(autouse=True)
def base(settings):
    settings.OFFER_FRESHNESS_HOURS = 72
    settings.EXCHANGE_BASE_CURRENCY = "USD"


@pytest.fixture
def market(build):
    phone = build.product("Apple iPhone 15 128GB", brand="Apple")
    galaxy = build.product("Samsung Galaxy S24", brand="Samsung")
    acme, bolt, euro = build.vendor("Acme Mobile"), build.vendor("Bolt <b>Phones</b>"), build.vendor("Euro GmbH")
    build.offer(vendor=acme, product=phone, price="700", condition="new", quantity=4, observed_at=ago(30))
    build.offer(vendor=acme, product=phone, price="710", condition="new", quantity=4, observed_at=ago(200))
    build.offer(vendor=bolt, product=phone, price="690", condition="new", observed_at=ago(5))
    build.offer(vendor=euro, product=phone, price="600", currency="EUR", condition="new", observed_at=ago(5))
    build.offer(vendor=acme, product=galaxy, price="800", condition="used", observed_at=ago(5))
    return {"phone": phone, "galaxy": galaxy}


def test_best_prices_page_lists_the_board_with_links(staff_client, market):
    page = staff_client.get(BEST)
    assert page.status_code == 200
    html = page.content.decode()
    assert f'/admin/offers/product/{market["phone"].id}/change/' in html
    assert "690.00 USD" in html and "Bolt &lt;b&gt;Phones&lt;/b&gt;" in html and "<b>Phones</b>" not in html
    assert "600.00 EUR" in html and "no exchange rate EUR→USD" in html
    assert "3 rows" in html


def test_best_prices_filters(staff_client, market):
    html = staff_client.get(BEST + "?q=galaxy&condition=used").content.decode()
    assert "Samsung Galaxy S24" in html and "Apple iPhone" not in html
    html = staff_client.get(BEST + "?min_vendors=2").content.decode()
    assert "1 row." in html and "Apple iPhone 15 128GB" in html
    html = staff_client.get(BEST + "?currency=EURO").content.decode()
    assert "errornote" in html and "0 rows" in html


def test_best_prices_with_a_rate_converts(staff_client, market):
    ExchangeRate.objects.create(date=timezone.localdate() - timedelta(days=3), currency="EUR", rate=Decimal("1.1"))
    html = staff_client.get(BEST).content.decode()
    assert "660.00 USD" in html and "no exchange rate" not in html


def test_admin_pages_refuse_non_staff(client, django_user_model, market):
    assert client.get(BEST).status_code == 302  # to the login page
    client.force_login(django_user_model.objects.create_user("clerk", password="pw-clerk-12345"))
    for url in (BEST, f"/admin/offers/product/{market['phone'].id}/change/", "/admin/offers/exchangerate/"):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url


def test_staff_without_product_permission_is_refused(client, django_user_model, market):
    client.force_login(django_user_model.objects.create_user("staff", password="pw-staff-12345", is_staff=True))
    assert client.get(BEST).status_code == 403


def test_product_page_shows_current_offers_and_svg_charts(staff_client, market):
    html = staff_client.get(f"/admin/offers/product/{market['phone'].id}/change/").content.decode()
    current = html[html.index('id="current-offers"'):html.index('id="price-charts"')]
    assert current.index("Bolt &lt;b&gt;Phones&lt;/b&gt;") < current.index("Acme Mobile")
    assert "710.00" not in current  # older than the window: history only
    assert "not converted: no exchange rate EUR→USD" in current
    charts = html[html.index('id="price-charts"'):html.index("</div>", html.index('id="price-charts"'))]
    assert charts.count('<svg class="price-chart"') == 3  # Acme, Bolt, Euro
    assert "<polyline" in charts and "<script" not in charts and "<b>Phones" not in charts
    assert "710.00 USD" in charts  # Acme's older point is on its chart


def test_product_page_without_offers(staff_client, build):
    product = build.product("Lonely")
    html = staff_client.get(f"/admin/offers/product/{product.id}/change/").content.decode()
    assert "No vendor offered it" in html and "No price points" in html


def test_exchange_rate_admin(staff_client, db):
    page = staff_client.get("/admin/offers/exchangerate/add/")
    assert page.status_code == 200
    response = staff_client.post("/admin/offers/exchangerate/add/",
                                 {"date": "2026-11-01", "currency": "eur", "rate": "1.08"})
    assert response.status_code == 302
    rate = ExchangeRate.objects.get()
    assert (rate.currency, rate.rate) == ("EUR", Decimal("1.08"))
    refused = staff_client.post("/admin/offers/exchangerate/add/",
                                {"date": "2026-11-01", "currency": "EUR", "rate": "0"})
    assert refused.status_code == 200 and ExchangeRate.objects.count() == 1
    listing = staff_client.get("/admin/offers/exchangerate/?currency__exact=EUR")
    assert listing.status_code == 200 and "1.08" in listing.content.decode()


@pytest.mark.parametrize("currency,message", [
    ("ZZZ", "an ISO 4217 code"),  # three letters, but no currency's code
    ("USD", "is the base currency (EXCHANGE_BASE_CURRENCY)"),  # would never be used
])
def test_exchange_rate_admin_refuses_a_rate_it_would_never_use(staff_client, db, settings, currency, message):
    settings.EXCHANGE_BASE_CURRENCY = "USD"
    response = staff_client.post("/admin/offers/exchangerate/add/",
                                 {"date": "2026-11-01", "currency": currency, "rate": "2"})
    assert response.status_code == 200 and message in response.content.decode()
    assert not ExchangeRate.objects.exists()


def test_index_links_to_best_prices(staff_client, db):
    assert BEST in staff_client.get("/admin/").content.decode()


def test_a_products_merged_into_is_not_editable_on_its_page(staff_client, build):
    product, other = build.product(name="Phone A"), build.product(name="Phone B")
    page = staff_client.get(f"/admin/offers/product/{product.pk}/change/").content.decode()
    assert 'name="merged_into"' not in page  # shown, but set only by a merge (which moves the offers)
    staff_client.post(f"/admin/offers/product/{product.pk}/change/",
                      {"name": "Phone A", "match_key": product.match_key, "merged_into": other.pk,
                       "aliases-TOTAL_FORMS": "0", "aliases-INITIAL_FORMS": "0"})
    product.refresh_from_db()
    assert product.merged_into_id is None


def test_a_chart_fits_its_price_labels_and_spans_its_own_points():
    import re
    from datetime import datetime, timezone as dt_timezone

    from offers.admin import svg_chart
    from offers.board import Series

    when = datetime(2026, 11, 28, 10, tzinfo=dt_timezone.utc)
    series = Series(vendor_id=1, vendor_name="Acme", condition="new", currency="USD",
                    points=[(when, Decimal("1180.00")), (when + timedelta(days=1), Decimal("1099.00"))])
    svg = str(svg_chart(series, when - timedelta(days=180), when + timedelta(days=2)))
    labels = re.findall(r'<text x="(\d+)" y="\d+" font-size="11" text-anchor="end">([^<]+ USD)</text>', svg)
    assert [label for _, label in labels] == ["1,180.00 USD", "1,099.00 USD"]
    assert all(int(x) >= 7 * len(label) for x, label in labels)  # room for the whole label left of its end
    assert ">2026-11-28<" in svg and ">2026-11-29<" in svg  # the axis spans the points, not 180 days
