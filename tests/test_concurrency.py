"""Concurrency against real processes (issue 9, item 1): two ``manage.py ingest`` runs at once while
a real gunicorn serves an admin login and upload, API writes (``POST /documents``) and API reads;
and two admin uploads at once ingested by a real django-q2 cluster. On SQLite every connection
waits at most ``BUSY_TIMEOUT_MS`` (tests/conftest.py) for a writer, far less than one ingest takes,
so any write that waited for a whole ingest would fail with ``database is locked``. On PostgreSQL
the same. A document's offers must appear all at once, when it completes.
"""

from __future__ import annotations

import threading
import time

import pytest

from tests import servers
from tests.live import TERMINAL, document_named, offer_rows, status_of, visible_offers, wait_for

pytestmark = pytest.mark.slow

PASSWORD = "pw-operator-123"
ROWS = 100_000
API_WRITES = 10


class Watch:
    """Polls documents' visible offers while they are ingested: records any count seen that is
    neither none nor all of them (a partial snapshot a reader could see)."""

    def __init__(self):
        self.partial: list[tuple[int, int, str]] = []
        self.polls = 0

    def poll(self, document_id: int, rows: int) -> None:
        """Read the document's visible offers once, between two reads of its status."""
        before = status_of(document_id)
        seen = visible_offers(document_id)
        after = status_of(document_id)
        self.polls += 1
        if seen not in (0, rows) or (seen and before == after == "processing"):
            self.partial.append((document_id, seen, after))


def make_staff():
    """A superuser who logs in to the admin, with a write and a read API token (committed: the
    servers see them)."""
    from django.contrib.auth import get_user_model

    from pricehub.tokens import issue_token

    staff = get_user_model().objects.create_user("operator", password=PASSWORD, is_staff=True, is_superuser=True)
    _, write_key = issue_token(staff, name="live writes", scope="write")
    _, read_key = issue_token(staff, name="live reads", scope="read")
    return staff, write_key, read_key


def test_two_ingests_an_admin_login_and_upload_and_api_writes_at_once_all_succeed(live):
    _, write_key, read_key = make_staff()
    folder = live.storage.parent
    lists = [servers.write_price_csv(folder / f"{name}.csv", ROWS, prefix=name.upper()) for name in ("alpha", "beta")]
    small = [servers.write_price_csv(folder / f"api-{i}.csv", 20, prefix=f"API{i}") for i in range(API_WRITES)]
    upload = servers.write_price_csv(folder / "upload.csv", 50, prefix="UPLOAD")
    env = live.env(API_RATE_LIMIT_PER_MINUTE="100000")
    web = servers.start_gunicorn(env, log_dir=live.logs, workers=2, lifetime=240)
    ingests = []
    outcomes: dict[str, object] = {}
    reads: list[servers.Response] = []
    stop_reading = threading.Event()

    def admin():
        client = servers.Client(web.url)
        outcomes["login"] = servers.admin_login(client, "operator", PASSWORD)
        outcomes["upload"] = servers.admin_upload(client, upload, vendor="Upload Vendor")

    def api_writes():
        client = servers.Client(web.url, token=write_key)
        outcomes["api"] = [servers.api_write_document(client, path, vendor="API Vendor") for path in small]

    def api_reads():
        client = servers.Client(web.url, token=read_key)
        while not stop_reading.is_set():
            reads.append(client.get("/offers?page_size=20"))

    try:
        ingests = [servers.start_ingest(path.stem, path, env, vendor=f"{path.stem} vendor", log_dir=live.logs,
                                        lifetime=240) for path in lists]
        def one_processing():
            for name in ("alpha.csv", "beta.csv"):
                document = document_named(name)
                if document is not None and document.status == "processing":
                    return document
            return None

        first = wait_for(lambda: one_processing() or not all(i.running() for i in ingests), timeout=60,
                         what="an ingest to be processing")
        both_running_at_start = all(ingest.running() for ingest in ingests)
        assert both_running_at_start, "an ingest ended before the writes began:\n" + "\n".join(
            i.log()[-3000:] for i in ingests if not i.running())
        writers = [threading.Thread(target=admin), threading.Thread(target=api_writes)]
        reader = threading.Thread(target=api_reads)
        for thread in [*writers, reader]:
            thread.start()

        watch = Watch()
        while any(ingest.running() for ingest in ingests):
            for name in ("alpha.csv", "beta.csv"):
                document = document_named(name)
                if document is not None:
                    watch.poll(document.pk, ROWS)
            time.sleep(0.1)
        codes = [ingest.wait(10) for ingest in ingests]
        for thread in writers:
            thread.join(120)
        stop_reading.set()
        reader.join(60)
    finally:
        stop_reading.set()
        for ingest in ingests:
            ingest.stop()
        web.stop()

    # Each ingest lasted several busy timeouts: a writer that waited for one would have failed.
    first.refresh_from_db()
    assert first.status == "succeeded", first.extra.get("failure")
    lasted = (first.finished_at - first.started_at).total_seconds()
    assert lasted > 2 * live.busy_timeout_ms / 1000 or live.kind == "postgres", lasted

    for ingest, code, path in zip(ingests, codes, lists):
        result = servers.ingest_result(ingest)
        assert code == 0 and result["status"] == "succeeded", (code, result, ingest.log()[-3000:])
        assert result["offers_created"] == ROWS
        assert visible_offers(result["document_id"]) == offer_rows(result["document_id"]) == ROWS
    assert watch.polls > 10 and watch.partial == [], watch.partial

    form, login = outcomes["login"]
    assert (form.status, login.status, login.location) == (200, 302, "/admin/"), login.body[:2000]
    form, posted = outcomes["upload"]
    assert (form.status, posted.status) == (200, 302), posted.body[:2000]
    uploaded = servers.document_id_from_admin_redirect(posted)
    assert uploaded and status_of(uploaded) == "pending"  # queued for the worker (none runs here)

    api = outcomes["api"]
    assert [response.status for response in api] == [202] * API_WRITES, [r.body[:300] for r in api if r.status != 202]
    assert [status_of(response.json()["id"]) for response in api] == ["pending"] * API_WRITES

    assert reads and {response.status for response in reads} == {200}, {r.status for r in reads}


def test_two_admin_uploads_at_once_are_both_ingested_by_the_worker(live):
    """Two operators upload at the same moment (and a script through the API); a real cluster with
    two workers ingests all three, none left pending or processing."""
    _, write_key, _ = make_staff()
    rows = 30_000
    folder = live.storage.parent
    uploads = [servers.write_price_csv(folder / f"{name}.csv", rows, prefix=name.upper()) for name in ("one", "two")]
    api_file = servers.write_price_csv(folder / "script.csv", rows, prefix="SCRIPT")
    env = live.env(API_RATE_LIMIT_PER_MINUTE="100000", Q_WORKERS="2")
    web = servers.start_gunicorn(env, log_dir=live.logs, workers=2, lifetime=180)
    cluster = None
    posted: dict[str, servers.Response] = {}
    try:
        cluster = servers.start_qcluster(env, log_dir=live.logs, lifetime=180)
        clients = []
        for _ in uploads:
            client = servers.Client(web.url)
            servers.admin_login(client, "operator", PASSWORD)
            client.get("/admin/documents/sourcedocument/upload/")
            clients.append(client)
        start = threading.Barrier(len(uploads) + 1)

        def upload(client, path):
            start.wait(10)
            posted[path.name] = client.post_form(
                "/admin/documents/sourcedocument/upload/",
                {"new_vendor": f"{path.stem} vendor", "processor": "", "currency": "USD", "options": ""},
                files={"file": (path.name, path.read_bytes(), "text/csv")},
            )

        def script():
            start.wait(10)
            posted[api_file.name] = servers.api_write_document(servers.Client(web.url, token=write_key), api_file,
                                                               vendor="Script Vendor")

        threads = [threading.Thread(target=upload, args=(c, p)) for c, p in zip(clients, uploads)]
        threads.append(threading.Thread(target=script))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted((name, r.status) for name, r in posted.items()) == [
            ("one.csv", 302), ("script.csv", 202), ("two.csv", 302)
        ], {name: r.body[:500] for name, r in posted.items()}
        documents = [document_named(name) for name in ("one.csv", "two.csv", "script.csv")]
        wait_for(lambda: all(status_of(d.pk) in TERMINAL for d in documents), timeout=120, every=0.5,
                 what="the worker to ingest the three uploads")
    finally:
        if cluster is not None:
            cluster.stop()
        web.stop()
    for document in documents:
        document.refresh_from_db()
        assert document.status == "succeeded", (document.original_filename, document.extra.get("failure"))
        assert visible_offers(document.pk) == offer_rows(document.pk) == rows
