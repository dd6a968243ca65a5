"""Concurrent posts of the same batch (threads, each with its own database connection): each message
is created exactly once, created + deduped add up, and the counters are exact. Meaningful on
PostgreSQL (concurrent transactions). On SQLite, test_ingest_live.py does the same against two
gunicorn workers on a database file."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection
from django.test import Client

from whatsapp import counters
from whatsapp.models import Chat, ContentFingerprint, Message
from whatsapp.tests.test_auth import configured, headers, post  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def concurrent_database():
    if connection.vendor == "sqlite":
        pytest.skip("the test suite's in-memory SQLite database refuses concurrent writers ('database table is "
                    "locked') instead of queueing them; test_ingest_live.py posts at once to gunicorn on a file")

THREADS = 8


def run_at_once(bodies: list[bytes]) -> list:
    """Post each body from a thread of its own, all released together; the responses, in order."""
    responses: list = [None] * len(bodies)
    start = threading.Barrier(len(bodies))

    def one(position: int, body: bytes):
        try:
            start.wait()
            responses[position] = post(Client(), body, **headers(body))
        finally:
            connection.close()

    threads = [threading.Thread(target=one, args=(i, body)) for i, body in enumerate(bodies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return responses


def test_the_same_batch_posted_at_once_creates_each_message_once(configured):
    body = json.dumps({"client_id": "race", "messages": [
        {"chat_title": "Deals", "text": f"offer {i} - ${100 + i}", "sender": "Ana"} for i in range(10)
    ] + [{"chat_title": "Other", "chat_id": "g-1", "text": "hello", "message_id": "M1"}]}).encode()
    responses = run_at_once([body] * THREADS)
    assert [response.status_code for response in responses] == [200] * THREADS, [r.content for r in responses]
    answers = [response.json() for response in responses]
    assert sum(answer["created"] for answer in answers) == 11
    assert sum(answer["deduped"] for answer in answers) == 11 * (THREADS - 1)
    assert all(answer["accepted"] == 11 for answer in answers)
    assert Message.objects.count() == 11
    assert Chat.objects.count() == 2
    assert ContentFingerprint.objects.count() == 11
    assert sum(1 for answer in answers for chat in answer["chats"] if chat["created"]) == 2
    totals = counters.totals()
    assert (totals["accepted"], totals["created"], totals["deduped"]) == (11 * THREADS, 11, 11 * (THREADS - 1))
    deals = Chat.objects.get(title="Deals")
    assert deals.message_count == 10 and counters.per_chat()[deals.pk]["created"] == 10


def test_overlapping_batches_in_other_orders_all_land_once(configured):
    messages = [{"chat_title": f"Chat {i % 3}", "text": f"line {i}"} for i in range(12)]
    bodies = []
    for shift in range(THREADS):
        rotated = messages[shift:] + messages[:shift]
        bodies.append(json.dumps({"client_id": f"c{shift % 2}", "messages": rotated[::-1] if shift % 2 else rotated})
                      .encode())
    responses = run_at_once(bodies)
    assert [response.status_code for response in responses] == [200] * THREADS, [r.content for r in responses]
    created = sum(response.json()["created"] for response in responses)
    # Two collectors (c0, c1) each have their own chats by title: each message once per collector.
    assert created == 24 == Message.objects.count()
