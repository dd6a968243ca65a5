"""The best-price flow in a real browser: from the admin's home to "Best prices", filtered,
then a product's page with its current offers and its server-drawn price charts."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from offers.models import ExchangeRate, Offer, PriceHistory, Product, Vendor
from tests.browser.test_operator_flows import log_in, operator  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def offer(vendor, product, price, currency, hours_ago, condition="new"):
    when = timezone.now() - timedelta(hours=hours_ago)
    row = Offer.objects.create(vendor=vendor, product=product, price=Decimal(price), currency=currency,
                               condition=condition, observed_at=when, quantity=3)
    PriceHistory.objects.create(product=product, vendor=vendor, condition=condition, price=row.price,
                                currency=currency, observed_at=when, offer=row)


def test_best_prices_then_a_products_page(page, live_server, operator, settings, screenshot_dir):  # noqa: F811
    settings.EXCHANGE_BASE_CURRENCY = "USD"
    phone = Product.objects.create(name="Apple iPhone 15 128GB", brand="Apple", match_key="apple iphone 15 128gb")
    other = Product.objects.create(name="Samsung Galaxy S24", brand="Samsung", match_key="samsung galaxy s24")
    acme, euro = Vendor.objects.create(name="Acme Mobile"), Vendor.objects.create(name="Euro GmbH")
    offer(acme, phone, "710", "USD", 100)
    offer(acme, phone, "700", "USD", 10)
    offer(euro, phone, "600", "EUR", 5)
    offer(acme, other, "800", "USD", 5)
    ExchangeRate.objects.create(date=timezone.localdate() - timedelta(days=7), currency="EUR", rate=Decimal("1.1"))

    log_in(page, live_server.url)
    page.get_by_role("link", name="Best prices").click()
    page.wait_for_url(re.compile(r"/admin/offers/product/best-prices/$"))
    assert page.locator("#best-prices tbody tr").count() == 2
    page.fill("#id_brand", "apple")
    page.click("#best-prices-filters input[type=submit]")
    page.wait_for_url(re.compile(r"brand=apple"))
    rows = page.locator("#best-prices tbody tr")
    assert rows.count() == 1
    assert "660.00 USD" in rows.first.inner_text() and "Euro GmbH" in rows.first.inner_text()
    page.screenshot(path=str(screenshot_dir / "best-prices.png"), full_page=True)

    page.get_by_role("link", name="Apple iPhone 15 128GB").click()
    page.wait_for_url(re.compile(rf"/admin/offers/product/{phone.pk}/change/$"))
    current = page.locator("#current-offers tbody tr")
    assert current.count() == 2 and "Euro GmbH" in current.first.inner_text()
    assert page.locator("#price-charts svg.price-chart").count() == 2
    assert page.locator("#price-charts svg.price-chart circle").count() == 3
    page.screenshot(path=str(screenshot_dir / "product-prices.png"), full_page=True)
