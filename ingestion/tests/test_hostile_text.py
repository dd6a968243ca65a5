"""Hostile and broken chat text: huge lines and messages, extraction linear in the text, UTF-16 without a mark.

Every text and file is built by the test. Timing is never asserted: ``bench/hostile_text.py``
prints how extraction time grows with the size of a line.
"""

import json
import random
import tracemalloc
from datetime import timezone

import pytest

from ingestion import chat_text, text_offers
from ingestion.chat_text import UTF16_NO_BOM, encoding_problem, read_chat_text, sniff_encoding
from ingestion.processors import telegram, whatsapp_text
from ingestion.text_offers import extract_offers
from ingestion.types import IngestContext, OfferCandidate, RowError


def run(processor, path, **options):
    context = IngestContext(filename=path.name, timezone=timezone.utc, options=options)
    items = list(processor.process(path, context))
    return ([i for i in items if isinstance(i, OfferCandidate)], [i for i in items if isinstance(i, RowError)],
            context.stats)


def android(minute: int, author: str, body: str) -> str:
    return f"12/03/2024, 10:{minute:02d} - {author}: {body}\n"


# --------------------------------------------------------------------------- extraction stays linear


def test_a_2_mb_line_of_old_prices_gives_its_one_offer():
    # Every "was 900" is a span cut out of the description: the text was rebuilt once per span (13 s for 2 MB).
    text = "iPhone 15 128GB $750 " + "was 900 " * 250_000
    offers = list(extract_offers(text))
    assert [(o.price, o.description) for o in offers] == [("$750", "iPhone 15 128GB")]


def test_a_line_of_twenty_thousand_products_gives_each_in_order():
    # Each product after a separator was read by reading the rest of the line again (and past about
    # a thousand products the recursion overflowed).
    items = [(f"S{n % 90 + 10} {n % 7 + 1}GB", f"${100 + n % 900}") for n in range(20_000)]
    text = " / ".join(f"{name} {price}" for name, price in items)
    offers = list(extract_offers(text))
    assert [(o.description, o.price) for o in offers] == items


def test_splitting_a_line_once_gives_the_points_reading_each_rest_again_gives():
    # _segments finds every split point from one reading of the line; the rule it replaces read
    # the rest after each point again. Lines mixing the cases where the two could part: amounts
    # grouped by spaces (joined only when the part read has a "15 750" pair), separators without
    # a space before them (", " and "; "), currencies and marks before the first number of a part.
    def reread(text):
        lower = text_offers._lower(text)
        line = text_offers._scan(text, lower, text_offers._words(lower), text)
        points = text_offers._split_points(line)[:1]
        return points and points + [points[0] + point for point in reread(text[points[0]:])]

    pieces = ["iPhone 15", "$629", "629$", "1 234 zł", "3 499 zł", "75 000 ₽", "now $700", "x10", "/", ";", ",",
              "|", "-", "S23+", "€1.299,00", "(€690)", "15 128", "Rs1,05,000", "was 900", "@ 750", "USD 800", "kr"]
    rng = random.Random(9)
    for _ in range(3000):
        text = " ".join(rng.choice(pieces) for _ in range(rng.randint(2, 30)))
        text = text.replace(" , ", rng.choice([", ", " , "])).replace(" ; ", rng.choice(["; ", " ; "]))
        lower = text_offers._lower(text)
        line = text_offers._scan(text, lower, text_offers._words(lower), text)
        assert text_offers._segments(text, lower, text, line) == reread(text), text


def test_a_run_of_a_million_digit_groups_and_a_line_of_price_words_are_read():
    # The number regex tried its "1 299,00" groups from every number of the run to its end; the
    # "Prices in EUR" regex its gap from every price word to the next digit.
    rejected = []
    text = "iPhone 15 128GB $750\n1" + " 234" * 250_000
    assert [o.price for o in extract_offers(text, rejected=rejected)] == ["$750"]
    assert [(ref, reason) for ref, _, reason in rejected] == [
        ("line 2", "chit-chat or a counter-offer, not a product")]
    text = "prices " * 150_000 + "in EUR\niPhone 15 - 750"
    assert [(o.price, o.currency) for o in extract_offers(text)] == [("750", "EUR")]


def test_numbers_and_the_currency_hint_are_the_regexes_matches():
    rng = random.Random(3)
    pieces = ["1", "234", " ", ",", ",00", ".", "'", "\u00a0", "a", "2345", " 234", " 23"]
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        assert list(text_offers._number_matches(text)) == [m.span() for m in text_offers._NUMBER.finditer(text)]
    words = ["prices", "Price", "all", "in", "en", "EUR", "1", "x", "na", ".", "preis", "  ", "in1", "allprices", ")"]
    for _ in range(20_000):
        line = "".join(rng.choice(words) + rng.choice([" ", "", "  "]) for _ in range(rng.randint(0, 12)))
        match = text_offers._CURRENCY_HINT.search(line)
        assert text_offers._currency_hint(line) == (match.group(1) if match else None), line


def test_long_lines_are_read_as_short_ones_are(monkeypatch):
    # Lines longer than _LONG_LINE take the linear ways (word starts from an index of spaces, long
    # words never a currency, numbers without the regex, spans blanked in one pass): forced on short
    # random lines, they give what the plain ways give.
    pieces = ["iPhone 15", "128GB", "$750", "750$", "€1.299,00", "/", "|", ";", ",", "-", "now", "was", "x10",
              "10pcs", "3 499 zł", "1 234", "75 000 ₽", "+44 7911 123456", "0142", "http://x.com/1;", "USD",
              "Rs1,05,000", "1.65 lakh", "15.5L", "NEW", "grade A", "700-750", "A2849", "S23+", "(€690)", "@",
              "450k", "each", "🇮🇳", "~999~", "down to", "12/128", "Prices in EUR", "N250,000", "kr", "13 128 450 kr",
              "U.S.D.", "((", "$", "abc" * 30, "." * 70 + "USD", "now" + ":" * 80]
    rng = random.Random(12)
    texts = ["\n".join(" ".join(rng.choice(pieces) for _ in range(rng.randint(1, 30))) for _ in range(rng.randint(1, 3)))
             for _ in range(1500)]

    def read_all():
        results = []
        for text in texts:
            rejected = []
            offers = [(o.ref, o.sku, o.description, o.price, o.currency, o.quantity, o.condition, o.extra)
                      for o in extract_offers(text, rejected=rejected)]
            results.append((offers, rejected))
        return results

    plain = read_all()
    monkeypatch.setattr(text_offers, "_LONG_LINE", 0)
    monkeypatch.setattr(text_offers, "_FEW_SPANS", 0)
    monkeypatch.setattr(text_offers, "_KEY_CHARS_MAX", 4)
    assert read_all() == plain


def test_spans_are_blanked_and_cut_as_one_at_a_time_did():
    def without_one_by_one(text, spans, start=0):
        for low, high in spans:
            if high > start:
                text = text[:low] + " " * (high - low) + text[high:]
        return text[start:]

    rng = random.Random(4)
    for _ in range(5000):
        size = rng.randint(0, 12)
        text = "".join(rng.choice("ab c|") for _ in range(size))
        spans = [(low, rng.randint(low, size + 6)) for low in (rng.randint(0, size + 4) for _ in range(rng.randint(0, 5)))]
        start = rng.randint(0, size + 2)
        assert text_offers._without(text, spans, start) == without_one_by_one(text, spans, start)
        inside = [(low, min(high, size)) for low, high in spans if low <= size]
        expected = text
        for low, high in reversed(text_offers._merged(inside)):
            expected = f"{expected[:low]} | {expected[high:]}"
        assert text_offers._cut(text, inside) == expected


# --------------------------------------------------------------------------- lines and messages over the limits


def test_a_20_mb_one_line_message_is_cut_and_the_rest_of_the_chat_lands(tmp_path):
    path = tmp_path / "chat.txt"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(android(0, "Karim", "iPhone 15 128GB - $750"))
        handle.write(android(1, "Karim", "Pixel 8 128GB - $500 / ").rstrip("\n"))
        handle.write("Galaxy S24 256GB $800 / " * 850_000)  # 20 MB, no newline
        handle.write("\n")
        handle.write(android(2, "Karim", "AirPods Pro 2 - $180"))
    assert path.stat().st_size > 20_000_000
    offers, errors, stats = run(whatsapp_text.processor, path)
    prices = [(o.ref, o.price) for o in offers]
    assert prices[:3] == [("line 1", "$750"), ("line 2", "$500"), ("line 2", "$800")]
    assert prices[-1] == ("line 3", "$180")  # the next message still lands
    assert 300 < len(offers) < 500  # the kept start of the line: 10,000 characters of 24-character products
    length = len(android(1, "Karim", "Pixel 8 128GB - $500 / ")) - 1 + 24 * 850_000
    assert [e.ref for e in errors] == ["line 2"]
    assert errors[0].message.startswith(f"the line is {length:,} characters long, more than the limit of 10,000")
    assert "INGESTION_MAX_LINE_CHARS" in errors[0].message and "split it" in errors[0].message
    assert stats["lines_cut"] == 1 and stats["messages"] == 3


def test_the_line_limit_is_a_setting(tmp_path, settings):
    settings.INGESTION_MAX_LINE_CHARS = 45
    path = tmp_path / "chat.txt"
    first = android(0, "Karim", "iPhone 15 - $750 / Pixel 8 - $500 / Galaxy S24 - $800")
    path.write_text(first + android(1, "Ana", "ok"), encoding="utf-8")
    offers, errors, _ = run(whatsapp_text.processor, path)
    assert [o.price for o in offers] == ["$750"]  # "12/03/2024, 10:00 - Karim: iPhone 15 - $750 / " is 45 characters
    assert [(e.ref, e.message.split(":")[0]) for e in errors] == [
        ("line 1", f"the line is {len(first) - 1} characters long, more than the limit of 45 (INGESTION_MAX_LINE_CHARS)")]


def test_a_message_over_the_limit_is_cut_at_a_line_end_naming_the_lines_not_read(tmp_path, settings):
    settings.INGESTION_MAX_MESSAGE_CHARS = 1000
    lines = [f"Model {n} 128GB - ${100 + n}" for n in range(200)]  # about 25 characters each
    path = tmp_path / "chat.txt"
    path.write_text(android(0, "Karim", "Price list\n" + "\n".join(lines)) + android(1, "Karim", "Pixel 8 - $500"),
                    encoding="utf-8")
    offers, errors, stats = run(whatsapp_text.processor, path)
    kept = [o for o in offers if o.description.startswith("Model")]
    assert [o.price for o in kept] == [f"${100 + n}" for n in range(len(kept))]
    first_not_read = len(kept) + 2  # line 1 is "Price list", line 2 the first model
    assert [e.ref for e in errors] == [f"line {first_not_read}"]
    assert f"line {first_not_read} to line 201 not read for offers" in errors[0].message
    assert "INGESTION_MAX_MESSAGE_CHARS" in errors[0].message
    assert offers[-1].price == "$500" and stats["messages_cut"] == 1


def test_a_message_of_a_million_lines_is_cut_and_the_chat_goes_on(tmp_path):
    path = tmp_path / "chat.txt"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(android(0, "Karim", "list"))
        handle.write("iPhone 15 - $750\n" * 1_000_000)
        handle.write(android(1, "Karim", "Pixel 8 - $500"))
    offers, errors, _ = run(whatsapp_text.processor, path)
    limit = chat_text.DEFAULT_MAX_MESSAGE_CHARS
    assert len(offers) == limit // len("iPhone 15 - $750\n") + 1
    assert offers[-1].price == "$500"
    assert [e.ref for e in errors] == [f"line {limit // 17 + 2}"]
    assert "line 1000001 not read" in errors[0].message


def test_a_telegram_json_message_over_the_limits_is_cut_naming_message_and_line(tmp_path, settings):
    settings.INGESTION_MAX_LINE_CHARS = 100
    settings.INGESTION_MAX_MESSAGE_CHARS = 600
    long_line = "Galaxy S24 $800 / " * 20  # 360 characters
    models = [f"Model {n} - ${100 + n}" for n in range(40)]
    export = {"name": "Shop", "messages": [
        {"id": 7, "type": "message", "date": "2025-09-12T10:02:00", "date_unixtime": "1757671320", "from": "Shop",
         "from_id": "channel1", "text": "\n".join([long_line, *models])},
        {"id": 8, "type": "message", "date": "2025-09-12T10:03:00", "date_unixtime": "1757671380", "from": "Shop",
         "from_id": "channel1", "text": "Pixel 8 - $500"},
    ]}
    path = tmp_path / "result.json"
    path.write_text(json.dumps(export), encoding="utf-8")
    offers, errors, _ = run(telegram.processor, path)
    kept, size = 0, len(long_line)
    while size + 1 + len(models[kept]) <= 600:
        size += 1 + len(models[kept])
        kept += 1
    assert [e.ref for e in errors] == [f"message 7 line {kept + 2}", "message 7 line 1"]
    assert f"message 7 line {kept + 2} to message 7 line 41 not read" in errors[0].message
    assert errors[1].message.startswith("the line is 360 characters long, more than the limit of 100")
    assert [o.price for o in offers] == ["$800"] * 5 + [f"${100 + n}" for n in range(kept)] + ["$500"]


def test_a_telegram_json_message_of_more_json_than_any_real_one_is_refused_by_its_size(tmp_path, settings):
    settings.INGESTION_MAX_MESSAGE_CHARS = 1000  # a message may take 8,000 characters of JSON, or one window
    export = {"name": "Shop", "messages": [{"id": 1, "type": "message", "date": "2025-09-12T10:02:00",
                                            "from": "Shop", "text": "iPhone 15 $750 / " * 200_000}]}
    path = tmp_path / "result.json"
    path.write_text(json.dumps(export), encoding="utf-8")
    with pytest.raises(ValueError, match=r"not valid JSON \(Unterminated string starting at\) within 1,048,576 "
                                         r"characters.*INGESTION_MAX_MESSAGE_CHARS"):
        run(telegram.processor, path)


def test_a_file_without_newlines_is_never_held_whole(tmp_path):
    path = tmp_path / "chat.txt"
    with open(path, "wb") as handle:
        handle.write(b"12/03/2024, 10:00 - Karim: ")
        block = b"iPhone 15 $750 / " * 60_000  # 1 MB
        for _ in range(30):
            handle.write(block)
    tracemalloc.start()
    try:
        chat = read_chat_text(path, max_line=10_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(chat.text) == 10_000 and chat.cut_lines == [(1, path.stat().st_size)]
    assert peak < 8 * 2 ** 20  # a chunk or two of a 30 MB file


def test_lines_are_numbered_and_cut_across_chunks_and_line_endings(tmp_path):
    path = tmp_path / "chat.txt"
    path.write_bytes(b"ab\r\ncdefgh\rij\n\xffkl\r\n" + b"m" * 30 + b"\n")
    chat = read_chat_text(path, max_line=4, chunk_bytes=3)
    assert chat.text == "ab\ncdef\nij\n\ufffdkl\nmmmm\n"
    assert chat.cut_lines == [(2, 6), (5, 30)]
    assert chat.replaced == [(4, "\ufffdkl")]


# --------------------------------------------------------------------------- UTF-16 without a byte-order mark

CHAT = android(0, "Karim", "iPhone 15 128GB - $750") + android(1, "Karim", "Pixel 8 - $500") + android(2, "Ana", "ok") + android(3, "Ana", "thanks")


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_mark_is_read_when_every_other_byte_is_nul(tmp_path, encoding):
    path = tmp_path / "chat.txt"
    path.write_bytes(CHAT.encode(encoding))
    head = path.read_bytes()[:65536]
    assert whatsapp_text.processor.detect(path, head) == 95
    offers, errors, stats = run(whatsapp_text.processor, path)
    assert [(o.ref, o.price, o.sender) for o in offers] == [("line 1", "$750", "Karim"), ("line 2", "$500", "Karim")]
    assert errors == [] and stats["encoding"] == encoding


def test_utf16_with_a_mark_and_a_telegram_copy_in_utf16_are_read(tmp_path):
    path = tmp_path / "chat.txt"
    path.write_bytes(CHAT.encode("utf-16"))  # with its byte-order mark
    assert [o.price for o in run(whatsapp_text.processor, path)[0]] == ["$750", "$500"]
    copy = tmp_path / "copy.txt"
    copy.write_bytes("Shop, [12.09.2025 10:02]\niPhone 15 - 700$\n".encode("utf-16-le"))
    assert telegram.processor.detect(copy, copy.read_bytes()) == 97
    assert [o.price for o in run(telegram.processor, copy)[0]] == ["700$"]


def test_utf16_without_a_mark_that_is_not_ascii_heavy_is_refused_saying_so(tmp_path):
    persian = android(0, "کریم", "آیفون ۱۵ قیمت ۷۲۰ دلار برای همه مشتریان عزیز فروشگاه ما") * 3
    path = tmp_path / "chat.txt"
    path.write_bytes(persian.encode("utf-16-le"))
    head = path.read_bytes()
    assert whatsapp_text.processor.detect(path, head) == 0
    with pytest.raises(ValueError, match=UTF16_NO_BOM) as refused:
        run(whatsapp_text.processor, path)
    assert "chat.txt" in str(refused.value) and "save it as UTF-8" in str(refused.value)
    assert UTF16_NO_BOM in encoding_problem(head, "chat.txt")


def test_files_that_are_not_utf16_are_not_taken_for_it():
    assert sniff_encoding("12/03/2024 iPhone 15 $750\n".encode()).name == "utf-8"
    assert sniff_encoding(b"12/03/2024 iPhone\x00 15 $750\n" * 20).name == "utf-8"  # a stray NUL: item 7's
    zipped = bytes(random.Random(1).randrange(256) for _ in range(4096)) + b"\x00" * 64
    assert sniff_encoding(b"PK\x03\x04" + zipped).name == "utf-8"  # binary: NULs at both parities
    assert encoding_problem(b"PK\x03\x04" + zipped) == ""
    assert encoding_problem(CHAT.encode("utf-16-le"), "list.csv").startswith(f"list.csv is in {UTF16_NO_BOM}")
