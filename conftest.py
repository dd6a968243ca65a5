"""Fixtures shared by every app's tests: API clients and small data builders."""

from __future__ import annotations

from datetime import datetime, timezone as dt_timezone
from decimal import Decimal

import pytest
from rest_framework.test import APIClient


def with_upload_permission(user):
    """``user``, allowed to change (upload) documents: what a script's user needs for its write token."""
    from django.contrib.auth.models import Permission

    user.user_permissions.add(Permission.objects.get(codename="change_sourcedocument"))
    return user


@pytest.fixture
def grant_upload():
    """``grant_upload(user)``: gives ``user`` the permission a write token's uploads need."""
    return with_upload_permission


@pytest.fixture
def api_user(django_user_model):
    return with_upload_permission(django_user_model.objects.create_user(username="script", password="pw-script-123"))


@pytest.fixture
def token_client(api_user):
    from pricehub.tokens import issue_token

    _, key = issue_token(api_user, name="tests", scope="write")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(
        username="operator", password="pw-operator-123", is_staff=True, is_superuser=True
    )


@pytest.fixture
def staff_client(staff_user, client):
    client.force_login(staff_user)
    return client


class Build:
    """Small builders for domain rows, so tests state only what matters to them."""

    def __init__(self):
        self._n = 0

    def _next(self) -> int:
        self._n += 1
        return self._n

    def vendor(self, name=None, **kw):
        from offers.models import Vendor

        return Vendor.objects.create(name=name or f"Vendor {self._next()}", **kw)

    def product(self, name=None, **kw):
        from offers.models import Product

        n = self._next()
        name = name or f"Product {n}"
        kw.setdefault("match_key", f"{name.lower()}-{n}")
        return Product.objects.create(name=name, **kw)

    def document(self, **kw):
        from documents.models import SourceDocument

        n = self._next()
        kw.setdefault("original_filename", f"list-{n}.xlsx")
        kw.setdefault("sha256", f"{n:064x}")
        # Ended, so that its offers are visible (those of a pending document are hidden).
        kw.setdefault("status", SourceDocument.Status.SUCCEEDED)
        return SourceDocument.objects.create(**kw)

    def offer(self, *, vendor=None, product=None, price="100.00", currency="USD", observed_at=None, history=True, **kw):
        from offers.models import Offer, PriceHistory

        vendor = vendor or self.vendor()
        product = product or self.product()
        observed_at = observed_at or datetime(2026, 11, 1, 12, 0, tzinfo=dt_timezone.utc)
        offer = Offer.objects.create(
            vendor=vendor, product=product, price=Decimal(price), currency=currency, observed_at=observed_at, **kw
        )
        if history:
            PriceHistory.objects.create(
                product=product,
                vendor=vendor,
                condition=offer.condition,
                price=offer.price,
                currency=currency,
                observed_at=observed_at,
                offer=offer,
            )
        return offer


@pytest.fixture
def build(db):
    return Build()
