"""GET /metrics and /metrics/whatsapp: the JSON and Prometheus answers, who may read them, their
fixed query count, and counters that stay exact when several threads add to them at once."""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from whatsapp import counters, metrics
from whatsapp.models import Chat

pytestmark = pytest.mark.django_db

PATHS = ["/metrics", "/metrics/whatsapp"]
PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
                     "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")  # what Prometheus 2.x sends when it scrapes
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
TRICKY_TITLE = 'Deals "iPhone" \\ Used\nSecond line'


# --------------------------------------------------------------------------- a small text-format parser

SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)")
LABEL_NAME = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="')
UNESCAPE = {"\\": "\\", '"': '"', "n": "\n"}


def parse_labels(line: str, start: int) -> tuple[dict[str, str], int]:
    """The labels between ``{`` at ``start`` and its ``}``, unescaped; and the index after ``}``."""
    labels: dict[str, str] = {}
    i = start + 1
    while line[i] != "}":
        match = LABEL_NAME.match(line, i)
        assert match, f"bad label at {i} in {line!r}"
        i, value = match.end(), []
        while line[i] != '"':
            if line[i] == "\\":
                assert line[i + 1] in UNESCAPE, f"bad escape in {line!r}"
                value.append(UNESCAPE[line[i + 1]])
                i += 2
            else:
                value.append(line[i])
                i += 1
        labels[match.group(1)] = "".join(value)
        i += 1
        if line[i] == ",":
            i += 1
    return labels, i + 1


def parse_exposition(text: str) -> dict[str, dict]:
    """``{family name: {"help", "type", "samples": [(labels, value)]}}`` from text format 0.0.4;
    fails on any line that is not a HELP, a TYPE or a sample of a family announced before it."""
    assert text.endswith("\n")
    families: dict[str, dict] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            assert name not in families, f"{name} announced twice"
            families[name] = {"help": help_text.replace("\\n", "\n").replace("\\\\", "\\"), "samples": []}
        elif line.startswith("# TYPE "):
            name, kind = line[7:].split(" ")
            assert kind in ("counter", "gauge") and "type" not in families[name]
            families[name]["type"] = kind
        else:
            match = SAMPLE.match(line)
            assert match, f"not a sample: {line!r}"
            name, i = match.group(1), match.end()
            labels = {}
            if line[i] == "{":
                labels, i = parse_labels(line, i)
            assert line[i] == " ", f"no value in {line!r}"
            assert name in families and "type" in families[name], f"{name} sampled before its HELP and TYPE"
            families[name]["samples"].append((labels, float(line[i + 1:])))
    return families


def test_the_parser_reads_escapes_and_refuses_a_raw_newline():
    line = 'x{a="q\\"b\\\\c\\nd",b=""} 1'
    labels, end = parse_labels(line, 1)
    assert labels == {"a": 'q"b\\c\nd', "b": ""} and line[end:] == " 1"
    with pytest.raises((AssertionError, IndexError)):  # the sample's line ends inside its label value
        parse_exposition('# HELP x h\n# TYPE x gauge\nx{a="one\ntwo"} 1\n')


# --------------------------------------------------------------------------- data


@pytest.fixture
def chats(build):
    """Three chats: a mapped one seen a minute ago, an unmapped one seen an hour ago, one never seen;
    counters on the first two and on the totals, and three failures."""
    now = timezone.now()
    vendor = build.vendor("Mobile World")
    recent = Chat.objects.create(external_id="c-recent", title=TRICKY_TITLE, vendor=vendor,
                                 last_seen_at=now - timedelta(minutes=1), message_count=7)
    older = Chat.objects.create(external_id="c-older", title="Older chat", last_seen_at=now - timedelta(hours=1),
                                message_count=2)
    never = Chat.objects.create(external_id="c-never", title="")
    counters.add({"accepted": 5, "created": 4, "deduped": 1, "media_failed": 1}, chat_id=recent.pk)
    counters.add({"accepted": 2, "created": 2, "extracted": 3}, chat_id=older.pk)
    counters.add({"auth_failures": 2, "rate_limited": 1, "forbidden": 1, "signature_failures": 1})
    counters.record_failure(status=401, reason="invalid ingest token", client_id="ext-1")
    counters.record_failure(status=429, reason="ingest rate limit exceeded", client_id="n8n", request_id="r-2")
    counters.record_failure(status=200, reason="attachment over WHATSAPP_MEDIA_MAX_BYTES", client_id="node",
                            chat_title=TRICKY_TITLE)
    return recent, older, never


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = "metrics-old-token, metrics-new-token"
    return "metrics-new-token"


# --------------------------------------------------------------------------- JSON


@pytest.mark.parametrize("path", PATHS)
def test_json_has_totals_chats_and_recent_failures(staff_client, chats, path):
    recent, older, never = chats
    before = timezone.now()
    response = staff_client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"generated_at", "totals", "chats_total", "chats_listed_max", "chats", "recent_failures"}
    generated = datetime.fromisoformat(body["generated_at"])
    assert body["generated_at"].endswith("Z") and before <= generated <= timezone.now()
    assert body["totals"] == {
        "accepted": 7, "created": 6, "deduped": 1, "extracted": 3, "errors": 0, "auth_failures": 2,
        "forbidden": 1, "rate_limited": 1, "signature_failures": 1, "media_failed": 1,
    }
    assert list(body["totals"]) == list(counters.NAMES)
    assert (body["chats_total"], body["chats_listed_max"]) == (3, metrics.CHATS_LISTED)
    # Most recently seen first; a chat never seen last, with zeros.
    assert [c["chat_id"] for c in body["chats"]] == [recent.pk, older.pk, never.pk]
    first, second, third = body["chats"]
    assert first == {
        "chat_id": recent.pk, "chat_title": TRICKY_TITLE, "vendor": "Mobile World",
        "accepted": 5, "created": 4, "deduped": 1, "extracted": 0, "errors": 0, "auth_failures": 0, "forbidden": 0,
        "rate_limited": 0, "signature_failures": 0, "media_failed": 1,
        "last_seen_at": recent.last_seen_at.isoformat().replace("+00:00", "Z"), "message_count": 7,
    }
    assert (second["vendor"], second["extracted"], second["message_count"]) == (None, 3, 2)
    assert third["last_seen_at"] is None and all(third[name] == 0 for name in counters.NAMES)
    failures = body["recent_failures"]
    assert [(f["status"], f["client_id"]) for f in failures] == [(200, "node"), (429, "n8n"), (401, "ext-1")]
    assert failures[0]["chat_title"] == TRICKY_TITLE and failures[1]["request_id"] == "r-2"
    assert {"client_id", "chat_title", "status", "reason", "at"} <= set(failures[0])
    assert all(f["at"].endswith("Z") for f in failures)


def test_recent_failures_are_the_latest_50(staff_client):
    for n in range(55):
        counters.record_failure(status=401, reason="invalid ingest token", client_id=f"c{n}")
    failures = staff_client.get("/metrics").json()["recent_failures"]
    assert [f["client_id"] for f in failures] == [f"c{n}" for n in range(54, 4, -1)]


def test_the_list_of_chats_is_bounded_to_the_most_recently_seen(build):
    now = timezone.now()
    made = [Chat.objects.create(external_id=f"c{n}", title=f"Chat {n}", last_seen_at=now - timedelta(minutes=n))
            for n in range(6)]
    for chat in made:
        counters.add({"accepted": chat.pk}, chat_id=chat.pk)
    snapshot = metrics.collect(chats_listed=4)
    assert [c.chat_id for c in snapshot.chats] == [chat.pk for chat in made[:4]]
    assert [c.counters["accepted"] for c in snapshot.chats] == [chat.pk for chat in made[:4]]
    assert snapshot.chats_total == 6
    assert set(counters.per_chat(chat_ids=[made[0].pk])) == {made[0].pk}


# --------------------------------------------------------------------------- Prometheus


def test_prometheus_text_has_every_counter_with_help_type_and_escaped_labels(staff_client, chats):
    recent, older, never = chats
    response = staff_client.get("/metrics?format=prometheus")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert response["Cache-Control"] == "no-store"
    families = parse_exposition(response.content.decode("utf-8"))
    totals = counters.totals()
    for name in counters.NAMES:
        family = families[f"pricehub_whatsapp_{name}_total"]
        assert family["type"] == "counter" and family["help"]
        assert family["samples"] == [({}, float(totals[name]))]
        per_chat = families[f"pricehub_whatsapp_chat_{name}_total"]
        assert per_chat["type"] == "counter"
        assert [labels for labels, _ in per_chat["samples"]] == [
            {"chat_id": str(recent.pk)}, {"chat_id": str(older.pk)}, {"chat_id": str(never.pk)}]
    assert all(name.endswith("_total") for name, family in families.items() if family["type"] == "counter")
    accepted = dict((labels["chat_id"], value) for labels, value in families["pricehub_whatsapp_chat_accepted_total"]["samples"])
    assert accepted == {str(recent.pk): 5.0, str(older.pk): 2.0, str(never.pk): 0.0}
    # Titles and vendors go through label escaping (backslash, double quote, newline) and back.
    info = families["pricehub_whatsapp_chat_info"]["samples"]
    assert info[0] == ({"chat_id": str(recent.pk), "chat_title": TRICKY_TITLE, "vendor": "Mobile World"}, 1.0)
    assert info[1][0]["vendor"] == "" and info[2][0]["chat_title"] == ""
    assert families["pricehub_whatsapp_chat_messages"]["samples"][0] == ({"chat_id": str(recent.pk)}, 7.0)
    seen = families["pricehub_whatsapp_chat_last_seen_timestamp_seconds"]["samples"]
    assert [labels["chat_id"] for labels, _ in seen] == [str(recent.pk), str(older.pk)]  # never seen: no sample
    assert seen[0][1] == pytest.approx(recent.last_seen_at.timestamp(), abs=0.001)
    assert families["pricehub_whatsapp_chats"]["samples"] == [({}, 3.0)]
    assert families["pricehub_whatsapp_metrics_chats_listed"]["samples"] == [({}, 3.0)]
    generated = families["pricehub_whatsapp_metrics_generated_timestamp_seconds"]
    assert generated["type"] == "gauge"
    assert abs(generated["samples"][0][1] - timezone.now().timestamp()) < 60


def test_help_text_is_escaped():
    assert metrics.escape_help("a\\b\nc") == "a\\\\b\\nc"
    assert metrics.escape_label_value('a\\b"c\nd') == 'a\\\\b\\"c\\nd'


@pytest.mark.parametrize("accept, text", [
    ("text/plain", True),
    ("text/plain; version=0.0.4", True),
    ("application/openmetrics-text; version=1.0.0", True),
    (PROMETHEUS_ACCEPT, True),
    ("text/*", True),
    ("application/json;q=0.2, text/plain", True),  # by quality, not by order
    ("application/json", False),
    ("*/*", False),
    (BROWSER_ACCEPT, False),
    (None, False),
    ("text/plain;q=0, */*", False),  # q=0: refused
    ("text/plain;q=0.4, application/json", False),
    ("", False),  # nothing acceptable: JSON, not 406
    ("image/png", False),
    (";;;, =, ü/ü", False),
    ("text/plain;q=abc", True),
])
def test_accept_header_chooses_the_format(staff_client, accept, text):
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    response = staff_client.get("/metrics/whatsapp", **headers)
    assert response.status_code == 200
    if text:
        assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        assert "pricehub_whatsapp_accepted_total" in parse_exposition(response.content.decode())
    else:
        assert response["Content-Type"] == "application/json"
        assert "totals" in response.json()


def test_accepted_media_ranges_rank_by_quality_then_specificity():
    from whatsapp.metrics_views import accepted_media_ranges

    assert accepted_media_ranges(PROMETHEUS_ACCEPT) == [
        "application/openmetrics-text;version=1.0.0", "application/openmetrics-text;version=0.0.1;q=0.75",
        "text/plain;version=0.0.4;q=0.5", "*/*;q=0.1"]
    assert accepted_media_ranges("*/*, text/*, text/plain, a/b;q=0, , c/d;q=0.0") == ["text/plain", "text/*", "*/*"]


def test_format_json_wins_over_accept_and_bad_parameters_are_400(staff_client):
    assert staff_client.get("/metrics?format=json", HTTP_ACCEPT="text/plain")["Content-Type"] == "application/json"
    response = staff_client.get("/metrics?format=xml")
    assert response.status_code == 400 and "prometheus" in response.json()["format"][0]
    response = staff_client.get("/metrics?verbose=1")
    assert response.status_code == 400 and "verbose" in response.json()["detail"]


# --------------------------------------------------------------------------- access


def _refused(response, status=401):
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    assert response.json()["detail"]
    if status == 401:
        assert response["WWW-Authenticate"] == "Bearer"
    return response.json()["detail"]


@pytest.mark.parametrize("path", PATHS)
def test_anonymous_is_401_even_when_asking_for_text(client, token, path):
    detail = _refused(client.get(path))
    assert "X-Metrics-Token" in detail
    _refused(client.get(path, HTTP_ACCEPT="text/plain"))  # the error is JSON whatever was asked for
    _refused(client.get(path + "?format=prometheus"))


def test_non_staff_session_is_403_and_inactive_staff_401(client, django_user_model, token):
    user = django_user_model.objects.create_user(username="clerk", password="pw-clerk-123")
    client.force_login(user)
    assert "not staff" in _refused(client.get("/metrics"), 403)
    staff = django_user_model.objects.create_user(username="gone", password="pw-gone-123", is_staff=True)
    client.force_login(staff)
    assert client.get("/metrics").status_code == 200
    staff.is_active = False
    staff.save()
    _refused(client.get("/metrics"))


def test_staff_session_without_any_token_configured(staff_client, settings):
    settings.METRICS_TOKEN = ""
    assert staff_client.get("/metrics").status_code == 200


@pytest.mark.parametrize("header", ["HTTP_AUTHORIZATION", "HTTP_X_METRICS_TOKEN"])
def test_token_in_either_header(client, token, header):
    value = f"Bearer {token}" if header == "HTTP_AUTHORIZATION" else token
    response = client.get("/metrics", **{header: value})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert "totals" in response.json()
    response = client.get("/metrics?format=prometheus", **{header: value})
    assert response.status_code == 200 and "pricehub_whatsapp_chats" in parse_exposition(response.content.decode())


def test_bearer_scheme_is_case_insensitive_and_spaces_around_the_token_are_ignored(client, token):
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"bearer   {token} ").status_code == 200
    assert client.get("/metrics", HTTP_X_METRICS_TOKEN=f" {token}").status_code == 200


@pytest.mark.parametrize("headers", [
    {"HTTP_AUTHORIZATION": "Bearer metrics-new-tokeN"},
    {"HTTP_AUTHORIZATION": "Bearer metrics-new-token-and-more"},
    {"HTTP_AUTHORIZATION": "Bearer"},
    {"HTTP_AUTHORIZATION": "Bearer "},
    {"HTTP_X_METRICS_TOKEN": ""},
    {"HTTP_X_METRICS_TOKEN": "metrics-old-token,metrics-new-token"},
    {"HTTP_X_METRICS_TOKEN": "wrong", "HTTP_AUTHORIZATION": "Bearer metrics-new-token"},  # X-Metrics-Token wins
    {"HTTP_AUTHORIZATION": "Token metrics-new-token"},  # an API token's scheme is not a metrics token
    {"HTTP_AUTHORIZATION": "Basic bWV0cmljczptZXRyaWNz"},
    {"HTTP_AUTHORIZATION": "Bearer tökén-✓"},  # not Latin-1: still a 401, never a 500
    {"HTTP_X_METRICS_TOKEN": "t\u00f6k\u00e9n"},
    {"HTTP_X_METRICS_TOKEN": "\udcff"},
    {"HTTP_AUTHORIZATION": "Bearer \x00\x01"},
])
def test_wrong_empty_or_malformed_tokens_are_401(client, token, headers):
    _refused(client.get("/metrics", **headers))


def test_rotation_accepts_every_configured_token_until_it_is_retired(client, settings):
    settings.METRICS_TOKEN = "old-token,new-token"
    assert client.get("/metrics", HTTP_X_METRICS_TOKEN="old-token").status_code == 200
    assert client.get("/metrics", HTTP_X_METRICS_TOKEN="new-token").status_code == 200
    settings.METRICS_TOKEN = "new-token"
    assert "invalid metrics token" in _refused(client.get("/metrics", HTTP_X_METRICS_TOKEN="old-token"))
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer new-token").status_code == 200


def test_a_token_is_refused_when_none_is_configured(client, settings):
    settings.METRICS_TOKEN = " , "
    assert "METRICS_TOKEN is not set" in _refused(client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything"))
    assert "no METRICS_TOKEN" in _refused(client.get("/metrics"))


def test_a_non_ascii_token_is_compared_as_the_utf8_bytes_sent(client, settings):
    settings.METRICS_TOKEN = "clé-métriques"
    as_wsgi_hands_it_over = "clé-métriques".encode("utf-8").decode("latin-1")
    assert client.get("/metrics", HTTP_X_METRICS_TOKEN=as_wsgi_hands_it_over).status_code == 200
    _refused(client.get("/metrics", HTTP_X_METRICS_TOKEN="clé-métriques".encode("latin-1").decode("latin-1")))


def test_header_bytes_and_token_is_valid(settings):
    assert metrics.header_bytes("abc") == b"abc" and metrics.header_bytes("✓") == "✓".encode()
    settings.METRICS_TOKEN = "one, two ,,"
    assert metrics.configured_tokens() == [b"one", b"two"]
    assert metrics.token_is_valid(b"one") and metrics.token_is_valid(b"two")
    assert not metrics.token_is_valid(b"") and not metrics.token_is_valid(b"one,two")
    settings.METRICS_TOKEN = ""
    assert not metrics.token_is_valid(b"") and not metrics.token_is_valid(b"one")


def test_the_token_never_appears_in_an_answer(client, token):
    for response in (client.get("/metrics", HTTP_X_METRICS_TOKEN="metrics-new-tokenX"),
                     client.get("/metrics", HTTP_X_METRICS_TOKEN=token)):
        assert b"metrics-new-token" not in response.content and b"metrics-old-token" not in response.content


# --------------------------------------------------------------------------- methods


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options"])
def test_only_get_and_head(client, staff_user, token, method):
    client.force_login(staff_user)
    for headers in ({}, {"HTTP_X_METRICS_TOKEN": token}):
        response = getattr(client, method)("/metrics", **headers)
        assert response.status_code == 405
        assert response["Allow"] == "GET, HEAD" and response["Cache-Control"] == "no-store"
    client.logout()
    assert getattr(client, method)("/metrics/whatsapp").status_code == 405  # whoever sends it


def test_head_answers_the_headers_only(client, token):
    response = client.head("/metrics", HTTP_X_METRICS_TOKEN=token)
    assert response.status_code == 200 and response.content == b""
    assert response["Content-Type"] == "application/json"
    assert client.head("/metrics").status_code == 401


# --------------------------------------------------------------------------- queries


def _make_chats(count: int, build) -> None:
    vendor = build.vendor()
    now = timezone.now()
    for n in range(count):
        chat = Chat.objects.create(external_id=f"q{n}-{count}", title=f"Chat {n}", vendor=vendor if n % 2 else None,
                                   last_seen_at=now - timedelta(seconds=n))
        counters.add({"accepted": 1, "created": 1}, chat_id=chat.pk)
        counters.record_failure(status=429, reason="ingest rate limit exceeded", client_id=f"c{n}")


def test_a_snapshot_costs_a_fixed_number_of_queries(build, django_assert_num_queries):
    with django_assert_num_queries(metrics.QUERIES - 1):  # no chat: no counters to read for them
        metrics.collect()
    _make_chats(3, build)
    with django_assert_num_queries(metrics.QUERIES):
        metrics.collect()
    _make_chats(60, build)
    with django_assert_num_queries(metrics.QUERIES):
        snapshot = metrics.collect()
    assert len(snapshot.chats) == 63 and all(c.vendor in (None, "Vendor 1", "Vendor 2") for c in snapshot.chats)
    with django_assert_num_queries(0):
        metrics.as_json(snapshot)
        metrics.as_prometheus(snapshot)


@pytest.mark.parametrize("fmt", ["json", "prometheus"])
def test_the_view_costs_as_many_queries_for_3_chats_as_for_63(staff_client, build, fmt,
                                                               django_assert_max_num_queries):
    staff_client.get("/metrics")  # the session and throttle's first use out of the way
    _make_chats(3, build)
    with CaptureQueriesContext(connection) as few:
        assert staff_client.get(f"/metrics?format={fmt}").status_code == 200
    _make_chats(60, build)
    with django_assert_max_num_queries(len(few)):
        assert staff_client.get(f"/metrics?format={fmt}").status_code == 200
    # The rest is the session, its user and the rate limit's counter (engine-dependent, the same each time).
    assert sum('"whatsapp_' in query["sql"] for query in few.captured_queries) == metrics.QUERIES


# --------------------------------------------------------------------------- concurrency


@pytest.mark.django_db(transaction=True)
def test_counters_stay_exact_when_threads_add_at_once():
    """Several threads, each on its own database connection, add to the same counters at once: every
    addition counts (one upsert per change). PostgreSQL only: SQLite's in-memory test database
    serialises its connections, so threads would not run at once."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL): concurrent writers on one in-memory SQLite database lock it")
    chat = Chat.objects.create(external_id="busy", title="Busy")
    threads_count, rounds = 8, 40
    start = threading.Barrier(threads_count)
    errors: list[BaseException] = []

    def work():
        try:
            start.wait()
            for _ in range(rounds):
                counters.add({"accepted": 1, "created": 2}, chat_id=chat.pk)
                counters.add({"rate_limited": 1})
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=work) for _ in range(threads_count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not errors, errors
    totals = counters.totals()
    expected = threads_count * rounds
    assert (totals["accepted"], totals["created"], totals["rate_limited"]) == (expected, 2 * expected, expected)
    assert counters.per_chat()[chat.pk]["accepted"] == expected


ADDER = """
import os, time
from whatsapp import counters
chat, rounds = int(os.environ["METRICS_TEST_CHAT"]), int(os.environ["METRICS_TEST_ROUNDS"])
start = float(os.environ["METRICS_TEST_START"])
while time.time() < start:  # every process starts adding at the same moment
    time.sleep(0.005)
for _ in range(rounds):
    counters.add({"accepted": 1, "created": 2}, chat_id=chat)
    counters.add({"rate_limited": 1})
"""


@pytest.mark.slow
def test_processes_add_exactly_and_gunicorn_workers_answer_the_same_totals(tmp_path):
    """Four processes add to the same counters at once on a database of their own (a SQLite file,
    or a PostgreSQL database when the suite runs on PostgreSQL); then a real gunicorn with two
    workers answers the exact sums to a metrics token, as JSON and as Prometheus text."""
    import json
    import time
    import urllib.error
    import urllib.request

    from tests import servers

    base = connection.settings_dict
    if connection.vendor == "sqlite":
        database = servers.LiveDatabase("sqlite", str(tmp_path / "metrics.sqlite3"))
    else:
        database = servers.LiveDatabase.unique_postgres(servers.postgres_server_url(base), "test_pricehub_metrics")
    storage, logs = tmp_path / "storage", tmp_path / "logs"
    storage.mkdir()
    logs.mkdir()
    database.create()
    try:
        database.migrate(storage)
        env = servers.live_env(database, storage, METRICS_TOKEN="retired-token,scrape-token")
        made = servers.manage(["shell", "-c", "from whatsapp.models import Chat; "
                                              "print(Chat.objects.create(external_id='busy', title='Busy').pk)"], env)
        chat = int(made.stdout.strip().splitlines()[-1])
        processes, rounds = 4, 150
        adders_env = {**env, "METRICS_TEST_CHAT": str(chat), "METRICS_TEST_ROUNDS": str(rounds),
                      "METRICS_TEST_START": str(time.time() + 6)}
        adders = [servers.Service(f"adder-{n}", [servers.PYTHON, "manage.py", "shell", "-c", ADDER],
                                  env=adders_env, log_dir=logs, lifetime=120) for n in range(processes)]
        try:
            codes = [adder.wait(120) for adder in adders]
            assert codes == [0] * processes, "\n".join(adder.log()[-2000:] for adder in adders)
        finally:
            for adder in adders:
                adder.stop()
        expected = processes * rounds
        with servers.start_gunicorn(env, log_dir=logs, workers=2, lifetime=120) as server:
            for _ in range(4):  # several requests: both workers answer
                request = urllib.request.Request(server.url + "/metrics/whatsapp",
                                                 headers={"Authorization": "Bearer scrape-token"})
                with urllib.request.urlopen(request, timeout=30) as response:
                    assert response.headers["Cache-Control"] == "no-store"
                    body = json.loads(response.read())
                assert (body["totals"]["accepted"], body["totals"]["created"], body["totals"]["rate_limited"]) == (
                    expected, 2 * expected, expected)
                assert [(c["chat_id"], c["accepted"]) for c in body["chats"]] == [(chat, expected)]
            request = urllib.request.Request(server.url + "/metrics", headers={"X-Metrics-Token": "scrape-token",
                                                                               "Accept": PROMETHEUS_ACCEPT})
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.headers["Content-Type"] == metrics.PROMETHEUS_CONTENT_TYPE
                families = parse_exposition(response.read().decode("utf-8"))
            assert families["pricehub_whatsapp_accepted_total"]["samples"] == [({}, float(expected))]
            assert families["pricehub_whatsapp_chat_created_total"]["samples"] == [({"chat_id": str(chat)},
                                                                                    float(2 * expected))]
            refused = urllib.request.Request(server.url + "/metrics", headers={"X-Metrics-Token": "wrong"})
            with pytest.raises(urllib.error.HTTPError) as error:
                urllib.request.urlopen(refused, timeout=30)
            assert error.value.code == 401 and error.value.headers["WWW-Authenticate"] == "Bearer"
    finally:
        database.drop()
