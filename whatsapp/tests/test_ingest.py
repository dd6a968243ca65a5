"""The ingest once a batch is authenticated (whatsapp.ingest through the endpoint): body limits and
bad bodies, the answer's shape, chats keyed by chat_id or by title per client, bad messages
reported by index, dedupe (repeat, replay, window, message ids), the chat's columns and counters,
the OpenAPI schema."""

from __future__ import annotations

import io
import json
import time
from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from django.utils import timezone

from whatsapp import counters, ingest
from whatsapp.models import Chat, ContentFingerprint, Message
from whatsapp.tests.test_auth import BODY, assert_refused, configured, headers, iso, post, signature  # noqa: F401

pytestmark = pytest.mark.django_db


def batch(*messages, client_id: str = "collector-1") -> bytes:
    return json.dumps({"client_id": client_id, "messages": list(messages)}).encode()


def send(client, body: bytes, **extra):
    return post(client, body, **headers(body), **extra)


def ok(response) -> dict:
    assert response.status_code == 200, response.content
    answer = response.json()
    assert len(answer["request_id"]) == 32 and response["X-Request-ID"] == answer["request_id"]
    return answer


# --------------------------------------------------------------------------- the smoke body and the answer


def test_the_playbook_smoke_body_creates_one_message_in_a_new_chat(client, configured):
    answer = ok(send(client, BODY))
    chat = Chat.objects.get()
    assert answer == {
        "request_id": answer["request_id"], "accepted": 1, "created": 1, "edited": 0, "deduped": 0, "skipped": 0,
        "chats": [{"chat_id": chat.pk, "chat_title": "Smoke Chat", "created": True}], "errors": [],
    }
    message = Message.objects.get()
    assert (message.chat, message.text, message.client_id, message.request_id) == (
        chat, "Pixel 8 Pro - $750", "smoke", answer["request_id"])
    assert (chat.external_id, chat.client_id, chat.title, chat.message_count) == ("", "smoke", "Smoke Chat", 1)
    assert chat.last_seen_at and chat.first_pending_at and chat.extract_due_at
    assert abs((chat.extract_due_at - chat.last_seen_at).total_seconds() - 30) < 1
    totals = counters.totals()
    assert (totals["accepted"], totals["created"], totals["deduped"]) == (1, 1, 0)
    assert counters.per_chat()[chat.pk]["created"] == 1


def test_all_fields_are_stored(client, configured):
    body = batch({"chat_title": "Deals", "chat_id": "120363@g.us", "text": "iPhone 15 128GB  $699",
                  "sender": "+55 11 99999-0000", "sent_at": "2026-11-30T09:15:00-03:00", "message_id": "ABCD1234",
                  "unknown_key": "ignored"})
    ok(send(client, body))
    message = Message.objects.select_related("chat").get()
    assert (message.chat.external_id, message.chat.title) == ("120363@g.us", "Deals")
    assert (message.sender, message.external_id) == ("+55 11 99999-0000", "ABCD1234")
    assert message.sent_at.isoformat() == "2026-11-30T12:15:00+00:00"


# --------------------------------------------------------------------------- chats


def test_a_chat_is_keyed_by_chat_id_across_collectors_else_by_title_per_collector(client, configured):
    first = ok(send(client, batch({"chat_title": "Deals", "chat_id": "g1", "text": "a"},
                                  {"chat_title": "Deals", "text": "b"}, client_id="c1")))
    assert [chat["created"] for chat in first["chats"]] == [True, True]
    second = ok(send(client, batch({"chat_title": "Deals renamed", "chat_id": "g1", "text": "c"},
                                   {"chat_title": "Deals", "text": "d"}, client_id="c2")))
    assert second["chats"][0] == {"chat_id": first["chats"][0]["chat_id"], "chat_title": "Deals renamed",
                                  "created": False}
    assert second["chats"][1]["created"] is True  # the same title from another collector: another chat
    third = ok(send(client, batch({"chat_title": "Deals", "text": "e"}, client_id="c1")))
    assert third["chats"] == [{"chat_id": first["chats"][1]["chat_id"], "chat_title": "Deals", "created": False}]
    assert Chat.objects.count() == 3
    assert Chat.objects.get(external_id="g1").message_count == 2


# --------------------------------------------------------------------------- bad messages


def test_bad_messages_are_reported_by_index_and_the_others_land(client, configured):
    body = batch(
        {"chat_title": "Deals", "text": "good one"},
        {"chat_title": "Deals"},
        {"chat_title": "Deals", "text": 12},
        {"chat_title": "Deals", "text": "x", "sent_at": "yesterday"},
        "just a string",
        {"text": "no chat"},
        {"chat_title": "Deals", "text": "x", "sender": ["a"]},
        {"chat_title": "Deals", "text": "x", "sent_at": 1700000000},
        {"chat_title": "T" * 301, "text": "x"},
        {"chat_title": "Deals", "text": "good two", "sent_at": "2026-11-30T10:00:00"},
    )
    answer = ok(send(client, body))
    assert (answer["accepted"], answer["created"], answer["skipped"]) == (2, 2, 8)
    assert [error["index"] for error in answer["errors"]] == [1, 2, 3, 4, 5, 6, 7, 8]
    details = [error["detail"] for error in answer["errors"]]
    assert "neither text nor an attachment" in details[0]
    assert "text must be a string" in details[1]
    assert "sent_at" in details[2] and "ISO 8601" in details[2]
    assert "must be an object" in details[3]
    assert "chat_title is required" in details[4]
    assert "sender must be a string" in details[5]
    assert "longer than 300" in details[7]
    assert sorted(Message.objects.values_list("text", flat=True)) == ["good one", "good two"]


@pytest.mark.parametrize("body, reason", [
    (b"\xff\xfe{}", "not UTF-8"),
    (b"{not json", "not valid JSON"),
    (b"", "not valid JSON"),
    (b'{"client_id": "c", "messages": [{"chat_title": "x", "text": "y", "n": NaN}]}', "not valid JSON"),
    (b"[1, 2]", "JSON object"),
    (b'{"messages": []}', "client_id is required"),
    (b'{"client_id": 5, "messages": []}', "client_id is required"),
    (b'{"client_id": "   ", "messages": []}', "client_id is required"),
    (b'{"client_id": "c", "messages": {}}', "messages is required"),
    (b'{"client_id": "c"}', "messages is required"),
    (json.dumps({"client_id": "c" * 101, "messages": []}).encode(), "longer than 100"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"client_id": "c", "messages": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "nested too deeply"),
])
def test_a_body_that_is_no_batch_is_400_with_the_reason(client, configured, body, reason):
    response = send(client, body)
    detail = assert_refused(response, 400)["detail"]
    assert reason in detail, detail
    assert not Message.objects.exists()


def test_more_messages_than_the_maximum_is_400(client, configured):
    configured.WHATSAPP_INGEST_MAX_MESSAGES = 3
    four = batch(*({"chat_title": "Deals", "text": f"m{i}"} for i in range(4)))
    assert "at most 3" in assert_refused(send(client, four), 400)["detail"]
    three = batch(*({"chat_title": "Deals", "text": f"m{i}"} for i in range(3)))
    assert ok(send(client, three))["created"] == 3


def test_an_empty_batch_is_taken(client, configured):
    assert ok(send(client, batch()))["accepted"] == 0


# --------------------------------------------------------------------------- body size


def test_a_declared_length_over_the_limit_is_413_before_reading(client, configured):
    configured.WHATSAPP_INGEST_MAX_BODY_BYTES = 2048
    big = batch({"chat_title": "Deals", "text": "x" * 3000})
    response = send(client, big)
    assert "2,048" in assert_refused(response, 413)["detail"]
    # A small body that declares a large length is refused on the header alone.
    assert_refused(send(client, BODY, CONTENT_LENGTH=str(10 * 1024 * 1024)), 413)
    assert counters.recent_failures()[0]["status"] == 413
    assert not Message.objects.exists()


def test_a_bad_content_length_is_400(client, configured):
    # Refused by pricehub.limits before the view (JSON, without a request id); the view says the same.
    response = send(client, BODY, CONTENT_LENGTH="12abc")
    assert response.status_code == 400 and "not a number of bytes" in response.json()["detail"]

    class Request:
        META = {"CONTENT_LENGTH": "\u0661\u0662"}  # Arabic-Indic digits: not a length

    with pytest.raises(ingest.BadBatch, match="not a number of bytes"):
        ingest.read_body(Request())


def test_a_body_without_length_is_read_only_up_to_the_limit(settings):
    settings.WHATSAPP_INGEST_MAX_BODY_BYTES = 4096

    class EndlessRequest:
        META: dict = {}
        given = 0

        def read(self, size):
            self.given += size
            return b"x" * size

    endless = EndlessRequest()
    with pytest.raises(ingest.BodyTooLarge):
        ingest.read_body(endless)
    assert endless.given == 4097

    class Short(EndlessRequest):
        def __init__(self):
            self.stream = io.BytesIO(BODY)

        def read(self, size):
            return self.stream.read(size)

    assert ingest.read_body(Short()) == BODY

    class CutShort(EndlessRequest):
        def read(self, size):
            from django.http import UnreadablePostError

            raise UnreadablePostError("connection reset")

    with pytest.raises(ingest.BadBatch, match="could not be read"):
        ingest.read_body(CutShort())


def test_djangos_own_body_limit_does_not_apply(client, configured):
    configured.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = batch(*({"chat_title": "Deals", "text": f"message {i} " + "x" * 100} for i in range(30)))
    assert len(body) > 2048
    assert ok(send(client, body))["created"] == 30


# --------------------------------------------------------------------------- dedupe


def test_the_same_batch_twice_is_created_once_then_deduped(client, configured):
    body = batch(*({"chat_title": "Deals", "text": f"offer {i}", "sender": "Ana"} for i in range(5)))
    assert ok(send(client, body))["created"] == 5
    second = ok(send(client, body))
    assert (second["accepted"], second["created"], second["deduped"]) == (5, 0, 5)
    assert Message.objects.count() == 5
    chat = Chat.objects.get()
    assert chat.message_count == 5
    assert counters.per_chat()[chat.pk]["deduped"] == 5
    assert ContentFingerprint.objects.filter(message__isnull=False).count() == 5


def test_a_replayed_signed_request_creates_nothing(client, configured):
    given = headers(BODY)
    assert ok(post(client, BODY, **given))["created"] == 1
    replay = ok(post(client, BODY, **given))
    assert (replay["created"], replay["deduped"]) == (0, 1)
    assert Message.objects.count() == 1


def test_the_content_hash_normalizes_text_and_keeps_case(client, configured):
    ok(send(client, batch({"chat_title": "Deals", "text": "Pixel 8  Pro\n$750", "sender": "Ana"})))
    again = ok(send(client, batch({"chat_title": "Deals", "text": " Pixel 8 Pro $750 ", "sender": "Ana"},
                                  {"chat_title": "Deals", "text": "Ｐixel 8 Pro $750", "sender": "Ana"},
                                  {"chat_title": "Deals", "text": "pixel 8 pro $750", "sender": "Ana"},
                                  {"chat_title": "Deals", "text": "Pixel 8 Pro $750", "sender": "Bia"})))
    assert (again["created"], again["deduped"]) == (2, 2)  # NFKC and spaces dedupe; case and sender do not


def test_a_repeat_inside_one_batch_is_deduped(client, configured):
    answer = ok(send(client, batch({"chat_title": "Deals", "text": "same"}, {"chat_title": "Deals", "text": "same"})))
    assert (answer["created"], answer["deduped"]) == (1, 1)


def test_the_same_text_in_another_chat_is_not_a_repeat(client, configured):
    answer = ok(send(client, batch({"chat_title": "A", "text": "same"}, {"chat_title": "B", "text": "same"})))
    assert answer["created"] == 2


def test_a_repeat_after_the_window_is_stored_again(client, configured):
    ok(send(client, batch({"chat_title": "Deals", "text": "weekly list"})))
    ContentFingerprint.objects.update(last_seen_at=timezone.now() - timedelta(hours=25))
    answer = ok(send(client, batch({"chat_title": "Deals", "text": "weekly list"})))
    assert answer["created"] == 1
    assert Message.objects.count() == 2
    fingerprint = ContentFingerprint.objects.get()
    assert fingerprint.message_id == Message.objects.order_by("-id").first().pk
    assert timezone.now() - fingerprint.last_seen_at < timedelta(minutes=1)


def test_a_message_id_sent_again_with_other_text_is_an_edit_that_replaces_the_text(client, configured):
    ok(send(client, batch({"chat_title": "Deals", "chat_id": "g1", "text": "v1", "message_id": "M1"})))
    first = Message.objects.get(external_id="M1")
    Chat.objects.update(extract_due_at=None, first_pending_at=None)
    Message.objects.update(extraction_state=Message.Extraction.EXTRACTED)
    answer = ok(send(client, batch({"chat_title": "Deals", "chat_id": "g1", "text": "v2 edited", "message_id": "M1"},
                                   {"chat_title": "Deals", "chat_id": "g1", "text": "v3", "message_id": "M2"})))
    assert (answer["accepted"], answer["created"], answer["edited"], answer["deduped"]) == (2, 1, 1, 0)
    assert sorted(Message.objects.values_list("external_id", "text")) == [("M1", "v2 edited"), ("M2", "v3")]
    edited = Message.objects.get(external_id="M1")
    assert edited.pk == first.pk and edited.edited_at is not None
    assert edited.extraction_state == Message.Extraction.PENDING and edited.content_hash != first.content_hash
    chat = Chat.objects.get()
    assert chat.extract_due_at is not None and chat.message_count == 2  # an edit is no new message
    again = ok(send(client, batch({"chat_title": "Deals", "chat_id": "g1", "text": "v2 edited", "message_id": "M1"})))
    assert (again["created"], again["edited"], again["deduped"]) == (0, 0, 1)  # the same edit twice: a repeat
    totals = counters.totals()
    assert (totals["accepted"], totals["created"], totals["deduped"]) == (4, 2, 1)


def test_a_batch_of_only_repeats_does_not_push_extraction(client, configured):
    ok(send(client, BODY))
    Chat.objects.update(extract_due_at=None, first_pending_at=None)
    ok(send(client, BODY))
    chat = Chat.objects.get()
    assert chat.extract_due_at is None and chat.message_count == 1


def test_first_pending_at_is_kept_and_extract_due_at_moves(client, configured):
    ok(send(client, batch({"chat_title": "Deals", "text": "one"})))
    first = Chat.objects.get()
    time.sleep(0.01)
    ok(send(client, batch({"chat_title": "Deals", "text": "two"})))
    second = Chat.objects.get()
    assert second.first_pending_at == first.first_pending_at
    assert second.extract_due_at > first.extract_due_at and second.message_count == 2


# --------------------------------------------------------------------------- the rest of the contract


def test_get_is_405_as_json_with_a_request_id(client, configured):
    response = client.get("/integrations/whatsapp/ingest", HTTP_ACCEPT="text/html")
    assert response.status_code == 405 and response["Content-Type"] == "application/json"
    assert len(response.json()["request_id"]) == 32


def test_html_is_never_the_answer(client, configured):
    response = post(client, b"{", **headers(b"{"), HTTP_ACCEPT="text/html")
    assert response.status_code == 400 and response["Content-Type"] == "application/json"


def test_the_endpoint_is_in_the_openapi_schema(staff_client):
    response = staff_client.get("/api/schema", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    operation = schema["paths"]["/integrations/whatsapp/ingest"]["post"]
    assert set(operation["responses"]) >= {"200", "400", "401", "403", "413", "429"}
    assert "X-Ingest-Token" in {parameter["name"] for parameter in operation["parameters"]}
    assert "application/json" in operation["requestBody"]["content"]


def test_a_chat_is_direct_or_a_group_by_its_whatsapp_id(client, configured):
    ok(send(client, batch({"chat_title": "Ann", "chat_id": "5511999999999@s.whatsapp.net", "text": "a"},
                          {"chat_title": "Deals", "chat_id": "120363@g.us", "text": "b"},
                          {"chat_title": "Titled", "text": "c"})))
    kinds = dict(Chat.objects.values_list("title", "is_group"))
    assert kinds == {"Ann": False, "Deals": True, "Titled": True}
    assert [ingest.is_group_chat(chat_id) for chat_id in ("x@c.us", "x@lid", "x@G.US", "")] == [False, False, True, True]


def test_a_sent_at_from_the_future_is_reported_by_index(client, configured):
    future = (timezone.now() + timedelta(days=2)).isoformat()
    answer = ok(send(client, batch({"chat_title": "Deals", "text": "a", "sent_at": future},
                                   {"chat_title": "Deals", "text": "b"})))
    assert answer["created"] == 1 and answer["errors"][0]["index"] == 0
    assert "is in the future" in answer["errors"][0]["detail"]


def test_a_refused_request_names_the_client_id_its_body_claims_and_its_address(client, configured):
    body = batch({"chat_title": "Deals", "text": "a"}, client_id="lagging-collector")
    response = post(client, body, **{**headers(body), "HTTP_X_SIGNATURE": "0" * 64})
    assert response.status_code == 403
    failure = counters.recent_failures()[0]
    assert failure["client_id"] == "lagging-collector" and "from 127.0.0.1" in failure["reason"]
    assert ingest.claimed_client_id(b'{"messages": [], "client_id" : "c1"}') == "c1"
    assert ingest.claimed_client_id(b"not json") == ""


def test_odd_but_valid_json_values_are_stored_or_reported_never_a_500(client, configured):
    """What a schema fuzzer sent (PostgreSQL refuses offsets past 15:59, NUL characters and lone surrogates)."""
    body = json.dumps({"client_id": "fuzz", "messages": [
        {"chat_title": "Odd", "text": "offset", "sent_at": "2026-01-01T12:51:10-18:12"},
        {"chat_title": "Odd", "text": "too old", "sent_at": "0010-12-01T12:51:10Z"},
        {"chat_title": "Odd\u0000", "text": "nul \u0000 inside", "sender": "a\u0000b", "message_id": "m\u0000"},
        {"chat_title": "Odd", "text": "lone \ud800 surrogate"},
        {"chat_title": "Odd", "text": "sender", "sender": "\udfff"},
        {"chat_title": "Odd", "text": "paired \ud83d\ude0d is an emoji"},
    ]}).encode()
    answer = ok(send(client, body))
    assert (answer["accepted"], answer["skipped"]) == (2, 4)
    assert [e["index"] for e in answer["errors"]] == [1, 2, 3, 4] and "surrogate" in answer["errors"][2]["detail"]
    assert Message.objects.filter(text="paired \U0001f60d is an emoji").exists()
    refused = post(client, json.dumps({"client_id": "c\udfff", "messages": []}).encode(),
                   **headers(json.dumps({"client_id": "c\udfff", "messages": []}).encode()))
    assert refused.status_code == 400
    assert [error["index"] for error in answer["errors"]][:1] == [1]  # too old: reported by index
    offset = Message.objects.get(text="offset")
    assert offset.sent_at == datetime(2026, 1, 2, 7, 3, 10, tzinfo=dt_timezone.utc)
