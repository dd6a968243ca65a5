"""The extraction's poll loop (whatsapp.tasks) and its django-q2 schedule."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import Schedule

from offers.models import Offer
from whatsapp import extraction, tasks
from whatsapp.models import Chat, ExtractionPoller, Message

pytestmark = pytest.mark.django_db


def due_chat(title="Smoke Chat") -> Chat:
    past = timezone.now() - timedelta(seconds=5)
    chat = Chat.objects.create(title=title, client_id="smoke", extract_due_at=past, first_pending_at=past)
    Message.objects.create(chat=chat, text="Pixel 8 Pro - $750", sent_at=past, content_hash=f"{chat.pk:064d}")
    return chat


def test_migrate_made_the_every_minute_schedule():
    schedule = Schedule.objects.get(name=tasks.SCHEDULE_NAME)
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        tasks.POLL_TASK, Schedule.MINUTES, 1, -1)
    assert tasks.LOOP_SECONDS > 60 + 30  # the next run (60 s later, fired up to 30 s late) takes over first


def test_the_loop_extracts_due_chats_and_hands_the_poller_back():
    chat = due_chat()
    result = tasks.poll_due_chats(seconds=0.5, interval=0.1)
    assert "1 chat run(s), 1 offer(s)" in result
    assert Offer.all_objects.filter(source_message__chat=chat).count() == 1
    poller = ExtractionPoller.objects.get(name=tasks.POLLER)
    assert poller.owner == "" and poller.expires_at <= timezone.now()


def test_a_newer_run_takes_the_loop_over(monkeypatch):
    polls = []

    def poll_once(*args, **kwargs):
        polls.append(1)
        tasks.take_over("the next run")  # the schedule's next run starts meanwhile
        return []

    monkeypatch.setattr(extraction, "extract_due_chats", poll_once)
    started = time.monotonic()
    tasks.poll_due_chats(seconds=30, interval=0.05)
    assert len(polls) == 1 and time.monotonic() - started < 5
    assert ExtractionPoller.objects.get(name=tasks.POLLER).owner == "the next run"  # not released by the old loop
    assert tasks.still_owner("the next run") and not tasks.still_owner("someone")


def test_the_task_for_one_chat():
    chat = due_chat()
    assert "1 offer(s)" in tasks.extract_chat(chat.pk)
    assert "no WhatsApp chat" in tasks.extract_chat(999999)


def test_a_loop_with_nothing_pending_ends_after_its_idle_time_and_frees_its_worker():
    started = time.monotonic()
    result = tasks.poll_due_chats(seconds=60, interval=0.05, idle=0.3)
    assert time.monotonic() - started < 5 and "0 chat run(s)" in result
    assert ExtractionPoller.objects.get(name=tasks.POLLER).owner == ""


def test_a_loop_waits_for_a_chat_armed_for_later_then_extracts_it():
    chat = due_chat()
    Chat.objects.filter(pk=chat.pk).update(extract_due_at=timezone.now() + timedelta(seconds=0.6))
    result = tasks.poll_due_chats(seconds=30, interval=0.05, idle=0.3)  # idle < the wait: pending is not idle
    assert "1 chat run(s), 1 offer(s)" in result


def test_an_ingest_that_leaves_a_chat_pending_queues_one_loop_for_a_worker():
    from django_q.brokers import get_broker

    broker = get_broker()
    before = broker.queue_size()
    assert tasks.wake() is True
    assert tasks.wake() is False  # queued already: not twice
    assert broker.queue_size() == before + 1
    assert ExtractionPoller.objects.get(name=tasks.POLLER).owner == tasks.WAKING
    tasks.take_over("a worker's run")  # the worker starts it
    assert tasks.wake() is False
    ExtractionPoller.objects.filter(name=tasks.POLLER).update(owner="", expires_at=timezone.now())  # it ended
    assert tasks.wake() is True and broker.queue_size() == before + 2
