"""The ``telegram`` processor: Telegram Desktop copies and Telegram JSON exports."""

import io
import json
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ingestion.processors import telegram, whatsapp_text
from ingestion.processors.telegram import iter_json_messages, looks_like_desktop_copy, parse_desktop_copy, processor
from ingestion.types import IngestContext, OfferCandidate, RowError

ROOT = Path(__file__).resolve().parents[2] / "tests" / "fixtures"
FIELD_CASE = ROOT / "field-cases" / "02-telegram-desktop-copy.txt"
DESKTOP_12H = ROOT / "chats" / "telegram" / "desktop_copy_en_12h.txt"
RESULT_JSON = ROOT / "chats" / "telegram" / "result.json"
WHATSAPP = ROOT / "chats" / "android_en_eu_24h.txt"


def run(path, **options):
    context = IngestContext(filename=Path(path).name, timezone=timezone.utc, options=options)
    items = list(processor.process(path, context))
    return ([i for i in items if isinstance(i, OfferCandidate)], [i for i in items if isinstance(i, RowError)],
            context.stats)


# --------------------------------------------------------------------------- Desktop copy


def test_field_case_02_desktop_copy():
    offers, errors, stats = run(FIELD_CASE)
    assert errors == []
    assert [(o.ref, o.price, o.sender) for o in offers] == [
        ("line 2", "51500", "Gadget Hub Opt"), ("line 3", "62500", "Gadget Hub Opt"),
        ("line 6", "89600", "Gadget Hub Opt"), ("line 7", "72700", "Gadget Hub Opt"),
    ]
    assert [o.observed_at for o in offers] == [datetime(2025, 9, 12, 10, 2, tzinfo=timezone.utc)] * 2 + [
        datetime(2025, 9, 12, 10, 3, tzinfo=timezone.utc)] * 2
    assert stats["chat_format"] == "telegram_desktop"
    assert (stats["messages"], stats["text_messages"], stats["offers_found"], stats["lines"]) == (2, 2, 4, 7)


def test_desktop_copy_messages_and_month_first_12h():
    transcript = parse_desktop_copy(DESKTOP_12H.read_text(encoding="utf-8"), tz=ZoneInfo("America/New_York"))
    assert [(m.sent_at.isoformat(), m.author, m.kind, m.line_no, m.body_line) for m in transcript.messages] == [
        ("2025-09-12T10:02:00-04:00", "Phone Hub NYC", "text", 1, 2),
        ("2025-09-12T13:15:00-04:00", "Mike R", "text", 5, 6),
        ("2025-09-13T09:05:00-04:00", "Phone Hub NYC", "text", 8, 9),
    ]
    assert transcript.day_first is False and transcript.date_order == "over_12"
    assert transcript.messages[0].body == "iPhone 15 128GB Blue - $689\niPhone 15 Pro 256GB - $949"


def test_desktop_copy_options_and_orphans():
    text = "copied:\nShop, [03.04.2025 10:02]\niPhone 15 - 700$\n\nShop, [04.04.2025 10:03]\nPixel 8 - 500$\n"
    transcript = parse_desktop_copy(text, day_first=False)
    assert [m.sent_at.date().isoformat() for m in transcript.messages] == ["2025-03-04", "2025-04-04"]
    assert transcript.orphan_lines == [(1, "copied:")]
    assert looks_like_desktop_copy(text) is False and looks_like_desktop_copy(text.split("\n", 1)[1])


def test_timezone_option_makes_times_aware(tmp_path):
    offers, _, _ = run(FIELD_CASE, timezone="Europe/Moscow")
    assert offers[0].observed_at == datetime(2025, 9, 12, 10, 2, tzinfo=ZoneInfo("Europe/Moscow"))
    with pytest.raises(ValueError, match="timezone"):
        run(FIELD_CASE, timezone="Mars/Olympus")


# --------------------------------------------------------------------------- JSON export


def test_json_export_offers_senders_ids_and_kinds():
    offers, errors, stats = run(RESULT_JSON)
    assert errors == []
    assert [(o.ref, o.price, o.sender, o.extra["message_id"]) for o in offers] == [
        ("message 2 line 2", "51500", "Opt Phones Channel", "2"),
        ("message 2 line 3", "62500", "Opt Phones Channel", "2"),
        ("message 3 line 1", "72700", "Opt Phones Channel", "3"),  # a photo's caption
        ("message 4 line 1", "89600", "Opt Phones Channel", "4"),
    ]
    assert offers[2].observed_at == datetime(2025, 9, 12, 10, 3, tzinfo=timezone.utc)
    assert dict(stats) == {
        "chat_format": "telegram_json", "chat_name": "Opt Phones Channel", "messages": 6, "system_messages": 1,
        "text_messages": 3, "media_omitted": 2, "edited": 1, "offers_found": 4, "lines_not_offers": 1,
        "not_offers_sample": [{"ref": "message 5 line 1", "line": "16 pro 256 есть?", "reason": "a question"}],
    }


def test_json_messages_as_chat_messages():
    with open(RESULT_JSON, encoding="utf-8") as handle:
        values = [v for v in iter_json_messages(handle) if isinstance(v, dict)]
    tz = ZoneInfo("Asia/Dubai")
    messages = [telegram._json_message(value, tz) for value in values]
    assert [(m.message_id, m.author, m.kind, m.edited, m.sent_at.isoformat()) for m in messages] == [
        ("1", "", "system", False, "2025-09-12T09:58:00+04:00"),
        ("2", "Opt Phones Channel", "text", False, "2025-09-12T10:02:00+04:00"),
        ("3", "Opt Phones Channel", "media", False, "2025-09-12T10:03:00+04:00"),
        ("4", "Opt Phones Channel", "text", True, "2025-09-12T10:05:00+04:00"),
        ("5", "Ilya Z", "text", False, "2025-09-12T10:07:00+04:00"),
        ("6", "Opt Phones Channel", "media", False, "2025-09-12T10:08:00+04:00"),
    ]
    assert messages[1].body == "📱 iPhone\n15 128GB Blue - 51500\n15 256GB Black - 62500"  # parts joined


@pytest.mark.parametrize("window", [1, 7, 64, 1 << 20])
def test_json_is_streamed_in_windows_of_any_size(window):
    text = RESULT_JSON.read_text(encoding="utf-8")
    streamed = list(iter_json_messages(io.StringIO(text), window=window))
    assert streamed == ["Opt Phones Channel", *json.loads(text)["messages"]]


def test_whole_account_export_reads_every_chat(tmp_path):
    chat = json.loads(RESULT_JSON.read_text(encoding="utf-8"))
    other = {**chat, "name": "Second Shop", "messages": chat["messages"][1:3]}
    account = {"about": "x", "personal_information": {"first_name": "A"},
               "chats": {"about": "y", "list": [chat, other]}}
    path = tmp_path / "result.json"
    path.write_text(json.dumps(account, ensure_ascii=False), encoding="utf-8")
    offers, errors, stats = run(path)
    assert errors == [] and stats["messages"] == 8 and stats["chat_name"] == "Second Shop"
    assert [o.price for o in offers] == ["51500", "62500", "72700", "89600", "51500", "62500", "72700"]


def test_cut_off_json_is_an_error(tmp_path):
    path = tmp_path / "result.json"
    path.write_text(RESULT_JSON.read_text(encoding="utf-8")[:900], encoding="utf-8")
    with pytest.raises(ValueError, match="ends inside the messages array|not valid JSON"):
        run(path)


def test_message_without_date_is_reported(tmp_path):
    path = tmp_path / "result.json"
    path.write_text(json.dumps({"name": "S", "type": "personal_chat", "id": 1, "messages": [
        {"id": 7, "type": "message", "date": "yesterday", "from": "S", "from_id": "user1", "text": "x"}]}))
    _, errors, _ = run(path)
    assert [(e.ref, e.message) for e in errors] == [("message 7", "no usable date")]


# --------------------------------------------------------------------------- detection


def head(path):
    return Path(path).read_bytes()[:64 * 1024]


def test_detect_prefers_telegram_on_telegram_input_and_whatsapp_on_whatsapp():
    for path in (FIELD_CASE, DESKTOP_12H, RESULT_JSON):
        assert processor.detect(path, head(path)) > whatsapp_text.processor.detect(path, head(path)), path
    assert processor.detect(WHATSAPP, head(WHATSAPP)) == 0
    assert whatsapp_text.processor.detect(WHATSAPP, head(WHATSAPP)) > 0


@pytest.mark.parametrize("content", [
    b'{"messages": [{"role": "user", "content": "hi"}]}',
    b'[{"id": 1, "type": "message"}]',
    b'{"name": "x", "items": [1, 2, 3]}',
    b'{"data": {"messages": [{"id": 1, "type": "message", "text": "no telegram fields"}]}}',
])
def test_other_json_is_not_claimed(tmp_path, content):
    path = tmp_path / "data.json"
    path.write_bytes(content)
    assert processor.detect(path, content) == 0


def test_forced_whatsapp_on_a_telegram_json_export_reads_it_as_telegram():
    context = IngestContext(filename="result.json", timezone=timezone.utc)
    items = list(whatsapp_text.processor.process(RESULT_JSON, context))
    assert [i.price for i in items if isinstance(i, OfferCandidate)] == ["51500", "62500", "72700", "89600"]
    assert not [i for i in items if isinstance(i, RowError)]
    assert context.stats["chat_format"] == "telegram_json"


def test_json_that_is_not_telegram_given_to_whatsapp_stays_an_error(tmp_path):
    path = tmp_path / "data.json"
    path.write_text('{"messages": [{"role": "user", "content": "hi"}]}')
    context = IngestContext(filename="data.json", timezone=timezone.utc)
    items = list(whatsapp_text.processor.process(path, context))
    assert [i.message for i in items] == ["text before the first message header"]
