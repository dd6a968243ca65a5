"""The ingest's checks before the body is parsed (whatsapp.auth), through the real endpoint: the
allowlist, the token, the signature and its timestamp, rotation, and headers of every odd form."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime, timezone

import pytest

from whatsapp import auth, counters
from whatsapp.models import Message

pytestmark = pytest.mark.django_db

URL = "/integrations/whatsapp/ingest"
TOKEN = "test-token"
SECRET = "super-secret"
BODY = b'{"client_id":"smoke","messages":[{"chat_title":"Smoke Chat","text":"Pixel 8 Pro - $750"}]}'


def iso(seconds: float) -> str:
    """``seconds`` as the playbook's ``date -u +"%Y-%m-%dT%H:%M:%SZ"`` prints it."""
    return datetime.fromtimestamp(int(seconds), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def signature(body: bytes, timestamp: str, secret: str = SECRET) -> str:
    """Computed here independently of whatsapp.auth.sign."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def headers(body: bytes = BODY, *, token: str | None = TOKEN, secret: str | None = SECRET,
            timestamp: str | None = None, **extra) -> dict:
    """Django test-client keyword arguments for the ingest's headers (``None`` leaves one out)."""
    timestamp = iso(time.time()) if timestamp is None else timestamp
    found = {}
    if token is not None:
        found["HTTP_X_INGEST_TOKEN"] = token
    if secret is not None:
        found["HTTP_X_SIGNATURE"] = signature(body, timestamp, secret)
        found["HTTP_X_SIGNATURE_TIMESTAMP"] = timestamp
    found.update(extra)
    return found


def post(client, body: bytes = BODY, **kw):
    return client.post(URL, data=body, content_type="application/json", **kw)


@pytest.fixture
def configured(settings):
    settings.WHATSAPP_INGEST_TOKEN = TOKEN
    settings.WHATSAPP_INGEST_HMAC_SECRET = SECRET
    settings.WHATSAPP_INGEST_SIGNATURE_TTL_SECONDS = 300
    settings.WHATSAPP_INGEST_RATE_LIMIT_PER_MINUTE = 6000
    settings.WHATSAPP_INGEST_RATE_LIMIT_BURST = 1000
    settings.WHATSAPP_INGEST_ALLOWED_IPS = []
    settings.WHATSAPP_INGEST_TRUSTED_PROXIES = 0
    settings.REDIS_URL = ""
    return settings


def assert_refused(response, status: int, detail: str | None = None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"detail", "request_id"}
    assert len(body["request_id"]) == 32 and response["X-Request-ID"] == body["request_id"]
    if detail is not None:
        assert body["detail"] == detail
    assert TOKEN not in response.content.decode() and SECRET not in response.content.decode()
    return body


def test_a_signed_request_is_taken(client, configured):
    response = post(client, **headers())
    assert response.status_code == 200, response.content
    assert response.json()["created"] == 1


# --------------------------------------------------------------------------- token


@pytest.mark.parametrize("token", [None, "", "wrong-token", "test-token ", "tést-token", "test-token\x00"])
def test_a_missing_or_wrong_token_is_401_counted_as_auth_failure(client, configured, token):
    given = headers(token=token)
    response = post(client, **given)
    assert_refused(response, 401, "invalid ingest token")
    assert counters.totals()["auth_failures"] == 1 and counters.totals()["forbidden"] == 0
    assert counters.recent_failures()[0]["status"] == 401
    assert not Message.objects.exists()


def test_a_non_ascii_token_header_is_401_not_500(client, configured):
    # What a WSGI server hands over for raw bytes \xc3\xa9 (latin-1 text), and an arbitrary code point.
    for value in ("\xc3\xa9t\xe9", "\u20ac\U0001F600"):
        assert_refused(post(client, **headers(token=value)), 401, "invalid ingest token")


def test_no_token_configured_refuses_every_request(client, configured):
    configured.WHATSAPP_INGEST_TOKEN = ""
    assert_refused(post(client, **headers(token="")), 401, "invalid ingest token")
    assert_refused(post(client, **headers()), 401, "invalid ingest token")
    assert "not set" in counters.recent_failures()[0]["reason"]


def test_two_tokens_during_rotation_are_both_taken_then_the_retired_one_is_refused(client, configured):
    configured.WHATSAPP_INGEST_TOKEN = "old-token, new-token"
    assert post(client, **headers(token="old-token")).status_code == 200
    assert post(client, **headers(token="new-token")).status_code == 200
    configured.WHATSAPP_INGEST_TOKEN = "new-token"
    assert_refused(post(client, **headers(token="old-token")), 401, "invalid ingest token")


# --------------------------------------------------------------------------- signature


def test_two_secrets_during_rotation_are_both_taken(client, configured):
    configured.WHATSAPP_INGEST_HMAC_SECRET = "old-secret,new-secret"
    assert post(client, **headers(secret="old-secret")).status_code == 200
    assert post(client, **headers(secret="new-secret")).status_code == 200
    configured.WHATSAPP_INGEST_HMAC_SECRET = "new-secret"
    assert_refused(post(client, **headers(secret="old-secret")), 403, "invalid signature")


def test_a_wrong_signature_is_403_counted_forbidden_and_signature_failure(client, configured):
    assert_refused(post(client, **headers(secret="other-secret")), 403, "invalid signature")
    totals = counters.totals()
    assert (totals["forbidden"], totals["signature_failures"], totals["auth_failures"]) == (1, 1, 0)
    assert counters.recent_failures()[0]["status"] == 403
    assert not Message.objects.exists()


def test_a_body_changed_by_one_byte_or_reserialized_is_refused(client, configured):
    given = headers(BODY)
    changed = BODY.replace(b"750", b"751")
    assert_refused(post(client, changed, **given), 403, "invalid signature")
    # The same JSON, serialized again (spaces after separators): not the bytes that were signed.
    reserialized = json.dumps(json.loads(BODY)).encode()
    assert reserialized != BODY
    assert_refused(post(client, reserialized, **given), 403, "invalid signature")
    # A signature computed over the re-serialized JSON does not pass for the bytes sent either.
    over_reserialized = headers(reserialized)
    assert_refused(post(client, BODY, **over_reserialized), 403, "invalid signature")
    assert post(client, BODY, **given).status_code == 200


@pytest.mark.parametrize("missing", ["HTTP_X_SIGNATURE", "HTTP_X_SIGNATURE_TIMESTAMP"])
def test_a_missing_signature_header_is_403(client, configured, missing):
    given = headers()
    del given[missing]
    assert_refused(post(client, **given), 403, "invalid signature")


@pytest.mark.parametrize("bad", [
    "", "zz" * 32, "A" * 64, "0" * 63, "0" * 65, "sha256=" + "0" * 64, "é" * 64, "\u0660" * 64, "0" * 63 + "\xff",
])
def test_a_malformed_or_non_ascii_signature_is_403_not_500(client, configured, bad):
    given = headers()
    given["HTTP_X_SIGNATURE"] = bad
    assert_refused(post(client, **given), 403, "invalid signature")


def test_an_uppercase_copy_of_the_right_signature_is_refused(client, configured):
    given = headers()
    given["HTTP_X_SIGNATURE"] = given["HTTP_X_SIGNATURE"].upper()
    assert_refused(post(client, **given), 403, "invalid signature")


@pytest.mark.parametrize("offset, taken", [(-299, True), (299, True), (-301, False), (301, False)])
def test_the_timestamp_window_holds_both_ways_iso_and_unix(client, configured, offset, taken):
    now = time.time()
    for stamp in (iso(now + offset), str(int(now + offset))):
        response = post(client, **headers(timestamp=stamp))
        if taken:
            assert response.status_code == 200, (stamp, response.content)
        else:
            assert_refused(response, 403, "invalid signature")


@pytest.mark.parametrize("stamp", [
    "+{now}", "{now} ", " {now}", "1_{rest}", "{fullwidth}", "{now}.0", "-{now}", "0x{hexnow}",
    "{iso_no_z}", "{iso_offset}", "{iso_millis}", "{iso_lower}", "{iso_fullwidth}", "2026-02-30T12:00:00Z",
    "", "é",
])
def test_a_timestamp_of_any_other_form_is_refused(client, configured, stamp):
    now = int(time.time())
    moment = iso(now)
    fullwidth = "".join(chr(ord(c) - ord("0") + 0xFF10) for c in str(now))
    value = stamp.format(
        now=now, rest=str(now)[1:], fullwidth=fullwidth, hexnow=format(now, "x"),
        iso_no_z=moment[:-1], iso_offset=moment[:-1] + "+00:00", iso_millis=moment[:-1] + ".000Z",
        iso_lower=moment.replace("T", "t"), iso_fullwidth=moment.replace(moment[0], chr(0xFF10 + int(moment[0]))),
    )
    # Signed over the very header text sent: only the form is wrong.
    given = headers(timestamp="x")
    given["HTTP_X_SIGNATURE_TIMESTAMP"] = value
    given["HTTP_X_SIGNATURE"] = hmac.new(SECRET.encode(), value.encode("utf-8") + b"." + BODY,
                                         hashlib.sha256).hexdigest()
    assert_refused(post(client, **given), 403, "invalid signature")


def test_parse_timestamp_reads_exactly_the_two_forms():
    assert auth.parse_timestamp(b"1700000000") == 1700000000
    assert auth.parse_timestamp(b"2023-11-14T22:13:20Z") == 1700000000
    for bad in (b"+1700000000", b"1_700_000_000", "１７００".encode(), b"2023-11-14T22:13:20+00:00", b"2023-13-01T00:00:00Z"):
        assert auth.parse_timestamp(bad) is None


def test_the_reference_vector_of_the_signing_scheme():
    body = b'{"messages":[{"id":"m1","text":"hi"}]}'
    assert auth.sign("test_secret_0123456789", "1700000000", body) == (
        "594a67a9ae912bc141e5e2a810ba11e08adb58b7efc6fcd2db4ebe1085aa4092")


def test_without_a_secret_configured_the_token_alone_is_enough(client, configured):
    configured.WHATSAPP_INGEST_HMAC_SECRET = ""
    assert post(client, **headers(secret=None)).status_code == 200


def test_the_token_is_checked_before_the_signature(client, configured):
    assert_refused(post(client, **headers(token="wrong", secret="wrong")), 401, "invalid ingest token")
    assert counters.totals()["signature_failures"] == 0


# --------------------------------------------------------------------------- allowlist


def test_the_allowlist_refuses_other_addresses_before_the_token(client, configured):
    configured.WHATSAPP_INGEST_ALLOWED_IPS = ["10.0.0.0/8", "192.0.2.7"]
    assert_refused(post(client, **headers(), REMOTE_ADDR="203.0.113.9"), 403)
    assert_refused(post(client, **headers(token="wrong"), REMOTE_ADDR="203.0.113.9"), 403)
    assert counters.totals()["forbidden"] == 2 and counters.totals()["auth_failures"] == 0
    assert post(client, **headers(), REMOTE_ADDR="10.1.2.3").status_code == 200
    assert post(client, **headers(), REMOTE_ADDR="192.0.2.7").status_code == 200


def test_x_forwarded_for_counts_only_for_the_trusted_proxies(client, configured):
    configured.WHATSAPP_INGEST_ALLOWED_IPS = ["192.0.2.0/24"]
    # No proxy trusted: the header is ignored, the peer is the client.
    assert_refused(post(client, **headers(), REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.5"), 403)
    configured.WHATSAPP_INGEST_TRUSTED_PROXIES = 1
    assert post(client, **headers(), REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.5").status_code == 200
    # A client's own forged entry stays on the left of what our proxy appended.
    assert_refused(post(client, **headers(), REMOTE_ADDR="10.0.0.1",
                        HTTP_X_FORWARDED_FOR="192.0.2.5, 203.0.113.9"), 403)
    configured.WHATSAPP_INGEST_TRUSTED_PROXIES = 2
    assert post(client, **headers(), REMOTE_ADDR="10.0.0.1",
                HTTP_X_FORWARDED_FOR="192.0.2.5, 10.0.0.2").status_code == 200
    # Fewer entries than proxies: the request did not come through them.
    assert_refused(post(client, **headers(), REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.5"), 403)
    assert_refused(post(client, **headers(), REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="not-an-ip, x"), 403)
