"""A source document's admin page: what it shows an operator."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_a_chats_lines_that_gave_no_offer_are_a_table_not_a_raw_stat(staff_client, build):
    document = build.document(status="failed", processor="whatsapp_text", extra={
        "failure": "no offers found in chat.txt",
        "warnings": ["2 offers named no currency"],
        "stats": {"messages": 4, "lines_not_offers": 3, "not_offers_sample": [
            {"ref": "line 1", "line": "how much for 15 pro 256?", "reason": "a question"},
        ]},
    })
    html = staff_client.get(reverse("admin:documents_sourcedocument_change", args=[document.pk])).content.decode()
    assert "3 lines with numbers gave no offer; the first:" in html
    assert "<td>line 1</td><td>a question</td><td><code>how much for 15 pro 256?</code></td>" in html
    assert "not_offers_sample" not in html  # the stats table shows counts only
    assert "<li>2 offers named no currency</li>" in html
    assert 'class="error"' in html and "Correct them and re-ingest" in html


def test_a_document_whose_ingest_stopped_is_shown_as_such_and_listed_by_its_filter(staff_client, build):
    from datetime import timedelta

    from django.utils import timezone

    past = timezone.now() - timedelta(minutes=3)
    stopped = build.document(status="processing", lease_owner="worker-1:4242:abc", lease_expires_at=past, attempts=1)
    running = build.document(status="processing", lease_owner="worker-1:4243:def",
                             lease_expires_at=timezone.now() + timedelta(minutes=1), attempts=1)
    changelist = reverse("admin:documents_sourcedocument_changelist")
    html = staff_client.get(changelist).content.decode()
    assert 'The ingest of <a href="/admin/documents/sourcedocument/?stalled=yes">1 document</a> stopped' in html
    assert "check that the worker (manage.py qcluster) is running" in html
    listed = staff_client.get(changelist + "?stalled=yes").context["cl"].result_list
    assert [d.pk for d in listed] == [stopped.pk]
    page = staff_client.get(reverse("admin:documents_sourcedocument_change", args=[stopped.pk])).content.decode()
    assert f"Processing, stopped</strong> (no sign of its process since {past:%Y-%m-%d %H:%M:%S} UTC" in page
    assert "worker-1:4242:abc" in page
    page = staff_client.get(reverse("admin:documents_sourcedocument_change", args=[running.pk])).content.decode()
    assert "Processing, stopped" not in page


def test_a_document_run_again_after_a_stop_says_when_and_why(staff_client, build):
    what = "re-queued: its ingest (attempt 1, worker-1:4242:abc) stopped without ending"
    document = build.document(attempts=2, extra={"recoveries": [{"at": "2026-11-30T05:00:00+00:00", "what": what}]})
    page = staff_client.get(reverse("admin:documents_sourcedocument_change", args=[document.pk])).content.decode()
    assert f"<li>2026-11-30T05:00:00+00:00: {what}</li>" in page
    never = build.document()
    page = staff_client.get(reverse("admin:documents_sourcedocument_change", args=[never.pk])).content.decode()
    assert "Run again after a stop" in page and "Never" in page
