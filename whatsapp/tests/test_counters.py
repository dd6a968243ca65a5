import pytest

from whatsapp import counters
from whatsapp.models import Chat

pytestmark = pytest.mark.django_db


def test_counters_add_to_totals_and_to_the_chat():
    chat = Chat.objects.create(external_id="c1", title="C1")
    counters.add({"accepted": 3, "created": 2, "deduped": 0})
    counters.add({"accepted": 1, "deduped": 1}, chat_id=chat.pk)
    totals = counters.totals()
    assert list(totals) == list(counters.NAMES)
    assert (totals["accepted"], totals["created"], totals["deduped"], totals["forbidden"]) == (4, 2, 1, 0)
    assert counters.per_chat() == {chat.pk: {**dict.fromkeys(counters.NAMES, 0), "accepted": 1, "deduped": 1}}
    with pytest.raises(ValueError, match="unknown counter"):
        counters.add({"acepted": 1})


def test_recent_failures_are_newest_first_and_cut_to_their_columns():
    counters.record_failure(status=401, reason="invalid ingest token", client_id="a")
    counters.record_failure(status=429, reason="ingest rate limit exceeded", client_id="b" * 500, chat_title="Deals")
    failures = counters.recent_failures()
    assert [(f["status"], f["client_id"][:1], len(f["client_id"])) for f in failures] == [(429, "b", 100), (401, "a", 1)]
    assert failures[0]["chat_title"] == "Deals" and failures[0]["at"].endswith("Z")


def test_counters_of_several_chats_add_up_to_the_totals_in_one_statement(django_assert_num_queries):
    first, second = Chat.objects.create(external_id="a", title="A"), Chat.objects.create(external_id="b", title="B")
    with django_assert_num_queries(1):
        counters.add_per_chat({first.pk: {"accepted": 2, "created": 2}, second.pk: {"accepted": 3, "deduped": 3},
                               0: {"media_failed": 1}})
    assert {k: v for k, v in counters.totals().items() if v} == {"accepted": 5, "created": 2, "deduped": 3,
                                                                   "media_failed": 1}
    assert counters.per_chat()[second.pk]["deduped"] == 3 and counters.per_chat()[first.pk]["media_failed"] == 0


def test_events_are_kept_newest_first_and_cut_to_their_column():
    from whatsapp import events

    events.record("ingest", "batch abc: 3 accepted", request_id="r1")
    events.record("refusal", "x" * 2000, level="warning")
    latest = events.recent()
    assert [(e.kind, e.level, len(e.message)) for e in latest] == [("refusal", "warning", 1000), ("ingest", "info", 21)]


def test_counters_cannot_be_deleted_from_the_admin(admin_client):
    counters.add({"accepted": 1})
    counter = counters.Counter.objects.get(name="accepted", chat_key=0)
    assert admin_client.get(f"/admin/whatsapp/counter/{counter.pk}/delete/").status_code == 403
    assert admin_client.post("/admin/whatsapp/counter/", {"action": "delete_selected", "_selected_action": [counter.pk]}
                             ).status_code in (200, 302)
    assert counters.totals()["accepted"] == 1
