"""A scanned PDF uploaded through the API is read in a real django-q2 worker: offline OCR and GPT
vision through the real openai client (against the stub server on 127.0.0.1), its status moving
pending -> processing -> succeeded, with timings in its stats."""

from __future__ import annotations

import json
import time

from tests import document_factory as factory
from tests import servers
from tests.openai_stub import OpenAIStub

PASSWORD = "a long test password 7"


def test_an_uploaded_scan_is_read_by_ocr_and_gpt_vision_in_a_real_worker(live):
    from django.contrib.auth import get_user_model

    from pricehub.tokens import issue_token

    staff = get_user_model().objects.create_user("operator", password=PASSWORD, is_staff=True, is_superuser=True)
    _, key = issue_token(staff, name="scans", scope="write")
    rows = factory.rows(6, seed=21)
    scan = live.storage.parent / "scan.pdf"
    scan.write_bytes(factory.scanned_pdf(factory.render(factory.table_pdf(rows, per_page=3), dpi=200)))
    with OpenAIStub() as stub:
        # Page 1: the model reads its three offers. Page 2: an answer with none -> the offline reading.
        stub.queue(200, OpenAIStub.answer([OpenAIStub.offer(index + 3, model, price, sku=sku, currency="USD",
                                                            quantity=qty)
                                           for index, (sku, model, qty, price) in enumerate(rows[:3])]))
        stub.queue(200, OpenAIStub.answer([]))
        env = live.env(ENABLE_OPENAI="true", OPENAI_API_KEY="test", OPENAI_BASE_URL=stub.base_url,
                       OPENAI_MAX_RETRIES="0", Q_WORKERS="1")
        web = servers.start_gunicorn(env, log_dir=live.logs, workers=1, lifetime=180)
        cluster = None
        try:
            client = servers.Client(web.url, token=key)
            posted = servers.api_write_document(client, scan, vendor="Scan Vendor")
            assert posted.status == 202, posted.body
            document_id = json.loads(posted.body)["id"]
            seen = [json.loads(client.request("GET", f"/documents/{document_id}").body)["status"]]
            cluster = servers.start_qcluster(env, log_dir=live.logs, lifetime=180)
            deadline = time.monotonic() + 120
            while seen[-1] not in ("succeeded", "partial", "failed") and time.monotonic() < deadline:
                status = json.loads(client.request("GET", f"/documents/{document_id}").body)["status"]
                if status != seen[-1]:
                    seen.append(status)
                time.sleep(0.05)
            detail = json.loads(client.request("GET", f"/documents/{document_id}").body)
            offers = json.loads(client.request("GET", f"/offers?document_id={document_id}&page_size=50").body)
        finally:
            web.stop()
            if cluster:
                cluster.stop()
        requests = list(stub.requests)
    assert seen == ["pending", "processing", "succeeded"], (seen, detail.get("failure"), detail.get("notes"))
    stats = detail["stats"]
    assert stats["pages_ocr"] == 2 and stats["ocr_seconds"] > 0 and stats["llm_calls"] == 2
    assert stats["duration_seconds"] > 0 and stats["queued_seconds"] >= 0
    assert any(note.startswith("page 1: read by the LLM") for note in detail["notes"]), detail["notes"]
    assert any(note.startswith("page 2: GPT vision found no offer") for note in detail["notes"]), detail["notes"]
    assert len(requests) == 2 and all(r.path == "/v1/chat/completions" for r in requests)
    parts = requests[0].body["messages"][-1]["content"]
    assert any(part["type"] == "image_url" and part["image_url"]["url"].startswith("data:image/jpeg;base64,")
               for part in parts)
    got = sorted((o["sku"], o["description"], o["price"], o["currency"]) for o in offers["results"])
    assert got == sorted((sku, model, price, "USD") for sku, model, _, price in rows)
