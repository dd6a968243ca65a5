"""``POST /integrations/whatsapp/chats/{chat_id}/extract-latest`` (token or staff) and the chat page's
"Extract latest" and "Full rerun" buttons."""

from __future__ import annotations

from datetime import datetime, timezone as dt_timezone

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.test import Client

from offers.models import Offer, Vendor
from whatsapp.models import Chat, Message

pytestmark = pytest.mark.django_db

TOKEN = "extract-token"
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=dt_timezone.utc)


@pytest.fixture(autouse=True)
def token(settings):
    settings.WHATSAPP_INGEST_TOKEN = f"old-token, {TOKEN}"
    settings.API_RATE_LIMIT_PER_MINUTE = 1000


@pytest.fixture
def chat():
    chat = Chat.objects.create(title="Smoke Chat", client_id="smoke", extract_due_at=T0, first_pending_at=T0)
    Message.objects.create(chat=chat, text="Pixel 8 Pro - $750", sent_at=T0, content_hash="1" * 64)
    return chat


def url(chat_id) -> str:
    return f"/integrations/whatsapp/chats/{chat_id}/extract-latest"


def chat_offers(chat):
    return Offer.all_objects.filter(source_message__chat=chat)


# --------------------------------------------------------------------------- the endpoint


def test_the_ingest_token_extracts_the_chat_now(client, chat):
    response = client.post(url(chat.pk), HTTP_X_INGEST_TOKEN=TOKEN)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"chat_id", "extracted", "offers", "errors", "request_id"}
    assert (body["chat_id"], body["extracted"], body["offers"], body["errors"]) == (chat.pk, 1, 1, 0)
    assert len(body["request_id"]) == 32 and response["X-Request-ID"] == body["request_id"]
    assert chat_offers(chat).count() == 1
    chat.refresh_from_db()
    assert chat.extract_due_at is None and chat.extract_claimed_until is None
    # Again: nothing pending, nothing new.
    again = client.post(url(chat.pk), HTTP_X_INGEST_TOKEN="old-token").json()
    assert (again["extracted"], again["offers"]) == (0, 0) and chat_offers(chat).count() == 1


def test_an_unknown_chat_is_a_json_404(client):
    for chat_id in (424242, 2 ** 70):
        response = client.post(url(chat_id), HTTP_X_INGEST_TOKEN=TOKEN)
        assert response.status_code == 404 and response["Content-Type"] == "application/json"
        assert "no WhatsApp chat" in response.json()["detail"] and response.json()["request_id"]


@pytest.mark.parametrize("headers", [{}, {"HTTP_X_INGEST_TOKEN": "wrong"}, {"HTTP_X_INGEST_TOKEN": ""},
                                     {"HTTP_X_INGEST_TOKEN": "extract-tokén"}])
def test_without_a_valid_token_or_session_it_is_a_json_401(client, chat, headers):
    response = client.post(url(chat.pk), **headers)
    assert response.status_code == 401 and response["Content-Type"] == "application/json"
    assert response["WWW-Authenticate"].startswith("X-Ingest-Token")
    assert response.json()["detail"] and response.json()["request_id"]
    assert TOKEN not in response.content.decode()
    assert not chat_offers(chat).exists()


def test_no_token_configured_refuses_every_token(client, chat, settings):
    settings.WHATSAPP_INGEST_TOKEN = ""
    assert client.post(url(chat.pk), HTTP_X_INGEST_TOKEN=TOKEN).status_code == 401


def test_a_staff_session_with_its_csrf_token(staff_user, chat):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    refused = client.post(url(chat.pk))
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    assert not chat_offers(chat).exists()
    client.get(f"/admin/whatsapp/{chat.pk}")  # sets the CSRF cookie
    response = client.post(url(chat.pk), HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    assert response.status_code == 200 and response.json()["offers"] == 1


def test_a_session_that_is_not_staff_or_may_not_change_chats_is_refused(django_user_model, client, chat):
    plain = django_user_model.objects.create_user("plain", password="pw-plain-123")
    client.force_login(plain)
    response = client.post(url(chat.pk))
    assert response.status_code == 403 and "staff" in response.json()["detail"]
    viewer = django_user_model.objects.create_user("viewer", password="pw-view-123", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_chat"))
    client.force_login(viewer)
    assert client.post(url(chat.pk)).status_code == 403
    viewer.user_permissions.add(Permission.objects.get(codename="change_chat"))
    client.force_login(django_user_model.objects.get(pk=viewer.pk))
    assert client.post(url(chat.pk)).status_code == 200
    assert chat_offers(chat).count() == 1


def test_other_methods_are_405(client, chat):
    assert client.get(url(chat.pk), HTTP_X_INGEST_TOKEN=TOKEN).status_code == 405


def test_the_schema_documents_the_endpoint(staff_client):
    response = staff_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    if response.status_code == 404:
        response = staff_client.get("/api/schema", HTTP_ACCEPT="application/json")
    schema = response.json() if response["Content-Type"].startswith("application/json") else None
    if schema is None:
        import yaml

        schema = yaml.safe_load(response.content)
    operation = schema["paths"]["/integrations/whatsapp/chats/{chat_id}/extract-latest"]["post"]
    assert {"200", "401", "403", "404", "429", "503"} <= set(operation["responses"])
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "ExtractLatestResult")
    assert {"whatsappIngestToken": []} in operation["security"]


# --------------------------------------------------------------------------- the chat page's buttons


def test_extract_latest_and_full_rerun_from_the_chat_page(staff_user, chat):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    page = client.get(f"/admin/whatsapp/{chat.pk}")
    html = page.content.decode()
    assert 'id="extract-latest-form"' in html and 'id="full-rerun-form"' in html
    assert 'id="extraction-pending">1<' in html
    csrf = client.cookies["csrftoken"].value
    assert client.post(f"/admin/whatsapp/{chat.pk}", {"action": "extract_latest"}).status_code == 403  # no CSRF

    response = client.post(f"/admin/whatsapp/{chat.pk}", {"action": "extract_latest", "csrfmiddlewaretoken": csrf},
                           follow=True)
    assert response.redirect_chain[-1][0] == f"/admin/whatsapp/{chat.pk}"
    html = response.content.decode()
    assert "Extract latest: 1 message(s) read, 1 extracted, 0 failed, 1 offer(s) created." in html
    assert "(provisional: the chat is unmapped)" in html and "Smoke Chat (WhatsApp)" in html
    assert 'id="extraction-pending">0<' in html
    entry = LogEntry.objects.get(object_id=str(chat.pk))
    assert entry.action_flag == CHANGE and entry.user == staff_user and "Extract latest" in entry.change_message

    vendor = Vendor.objects.create(name="Smoke Vendor", default_currency="USD")
    Chat.objects.filter(pk=chat.pk).update(vendor=vendor)
    response = client.post(f"/admin/whatsapp/{chat.pk}", {"action": "full_rerun", "csrfmiddlewaretoken": csrf},
                           follow=True)
    assert "Full rerun: 1 message(s) read, 1 extracted, 0 failed, 1 offer(s) created, 1 earlier offer(s) " \
           "replaced." in response.content.decode()
    assert list(chat_offers(chat).values_list("vendor", flat=True)) == [vendor.pk]
    assert LogEntry.objects.filter(object_id=str(chat.pk)).count() == 2


def test_the_buttons_need_the_change_permission(django_user_model, chat):
    viewer = django_user_model.objects.create_user("viewer", password="pw-view-123", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_chat"))
    client = Client()
    client.force_login(viewer)
    html = client.get(f"/admin/whatsapp/{chat.pk}").content.decode()
    assert 'id="extract-latest-form"' not in html and "not run its extraction" in html
    for action in ("extract_latest", "full_rerun"):
        assert client.post(f"/admin/whatsapp/{chat.pk}", {"action": action}).status_code == 403
    assert not chat_offers(chat).exists()


def test_the_page_shows_when_the_chat_is_due(staff_client, chat):
    html = staff_client.get(f"/admin/whatsapp/{chat.pk}").content.decode()
    assert "2026-11-30 09:00:00" in html and "the worker takes it within seconds" in html
    Chat.objects.filter(pk=chat.pk).update(extract_due_at=None, first_pending_at=None)
    assert "nothing waits" in staff_client.get(f"/admin/whatsapp/{chat.pk}").content.decode()
