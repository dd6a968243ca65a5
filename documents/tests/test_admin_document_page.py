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
