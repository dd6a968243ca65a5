"""The LLM normalization pass (``ingestion.llm``): the real ``openai`` client against a stub of the
API on 127.0.0.1 (``tests/openai_stub.py``), and the pass inside the real ingest of a WhatsApp
transcript and of a CSV without a header row."""

from __future__ import annotations

import base64
import json
import re
from collections import Counter
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from documents.models import SourceDocument
from ingestion import llm
from ingestion.llm import LlmError, SourceLine
from ingestion.services import ingest_path
from ingestion.types import IngestContext, Notice, OfferCandidate, RowError
from offers.models import Offer
from tests.openai_stub import OpenAIStub

offer = OpenAIStub.offer
FAST = {"retry-after-ms": "10"}  # the client's backoff waits this long instead of 0.5 s and more


LINES = [
    SourceLine("line 4", "iPhone 15 128GB Black - $1,299.00"),
    SourceLine("line 5", "Galaxy S24 256GB 699 EUR x3 used"),
]


# --------------------------------------------------------------------------- enabled

def test_enabled_needs_the_flag_and_the_key(settings):
    settings.ENABLE_OPENAI, settings.OPENAI_API_KEY = False, "key"
    assert not llm.enabled() and llm.disabled_reason() == "ENABLE_OPENAI is not true"
    settings.ENABLE_OPENAI, settings.OPENAI_API_KEY = True, ""
    assert not llm.enabled() and llm.disabled_reason() == "OPENAI_API_KEY is not set"
    settings.OPENAI_API_KEY = "key"
    assert llm.enabled() and llm.disabled_reason() == ""
    assert llm.wanted(IngestContext(options={"prefer_llm": "true"}))
    assert not llm.wanted(IngestContext(options={"prefer_llm": "false"}))
    assert not llm.wanted(IngestContext())


def test_price_digits_ignore_separators_and_zero_decimals():
    assert llm.price_digits("$1,299.00") == "1299"
    assert llm.price_digits("R$ 3.999,50") == "39995"
    assert llm.price_digits("1299.5") == "12995"
    assert llm.price_digits("١٢٩٩ €") == "1299"
    assert llm.price_digits("call") == ""


# --------------------------------------------------------------------------- the request

def test_request_shape_and_offers(openai_on, stub):
    stub.queue(200, OpenAIStub.answer([
        offer(1, "iPhone 15 128GB Black", "1299", currency="USD"),
        offer(2, "Galaxy S24 256GB", "699", sku="SM-S921", currency="EUR", quantity="3", condition="used"),
    ], total_tokens=42))
    template = OfferCandidate(ref="", sender="Mario", observed_at=datetime(2024, 3, 12, tzinfo=timezone.utc),
                              condition="new", extra={"message_id": "7"})
    lines = [SourceLine(LINES[0].ref, LINES[0].text, template), LINES[1]]
    stats = Counter()

    items = llm.extract(lines, hint="a chat", stats=stats)

    assert items == [
        OfferCandidate("line 4", "", "iPhone 15 128GB Black", "1299", "USD", "", "new",
                       datetime(2024, 3, 12, tzinfo=timezone.utc), "Mario", {"message_id": "7", "read_by": "llm"}),
        OfferCandidate("line 5", "SM-S921", "Galaxy S24 256GB", "699", "EUR", "3", "used", extra={"read_by": "llm"}),
    ]
    assert template.extra == {"message_id": "7"}  # the template is copied, not changed
    assert stats == Counter(llm_calls=1, llm_offers=2, llm_tokens=42)
    [request] = stub.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer test"
    body = request.body
    assert body["model"] == "gpt-test" and body["temperature"] == 0
    assert body["max_completion_tokens"] == 4096
    assert body["response_format"]["type"] == "json_schema"
    schema = body["response_format"]["json_schema"]
    assert schema["name"] == "price_offers" and schema["strict"] is True
    item = schema["schema"]["properties"]["offers"]["items"]
    assert set(item["required"]) == set(item["properties"]) == {
        "line", "sku", "description", "price", "currency", "quantity", "condition"}
    assert item["additionalProperties"] is False and item["properties"]["line"] == {"type": "integer"}
    system, user = body["messages"]
    assert system["role"] == "system" and "never" in system["content"].lower()
    assert user["role"] == "user"
    assert "a chat" in user["content"]
    assert "[1] iPhone 15 128GB Black - $1,299.00\n[2] Galaxy S24 256GB 699 EUR x3 used" in user["content"]


def test_image_goes_as_a_data_url_and_each_offer_must_name_the_ocr_line_showing_its_price(openai_on, stub):
    png = b"\x89PNG\r\n\x1a\nnot really an image"
    stub.queue(200, OpenAIStub.answer([
        offer(2, "Galaxy S24 256GB", "699"),
        offer(1, "Pixel 8", "640"),  # no OCR line shows 640
        offer(1, "Galaxy S24 256GB", "699"),  # 699 is on line 2, not on the line named: never moved there
        offer(9, "Galaxy S24 256GB", "699"),  # a line that was not sent
    ]))

    items = llm.extract(LINES, image=png, image_mime="image/png", hint="a scanned price list page")

    assert items[0].ref == "line 5" and items[0].price == "699"
    assert isinstance(items[1], RowError) and items[1].field == "price" and items[1].value == "640"
    assert isinstance(items[2], RowError) and (items[2].ref, items[2].field) == ("line 4", "price")
    assert isinstance(items[3], RowError) and items[3].field == "line"
    content = stub.requests[0].body["messages"][1]["content"]
    text, image = content
    assert text["type"] == "text" and "a scanned price list page" in text["text"] and "[2] Galaxy" in text["text"]
    assert image == {"type": "image_url", "image_url": {
        "url": "data:image/png;base64," + base64.b64encode(png).decode(), "detail": "high"}}


@pytest.mark.parametrize("text, price, currency, why", [
    ("Galaxy A55 8/256 - 329€", "256", "EUR", "price"),  # the storage of 8/256
    ("iPhone 15 Pro 256GB - 999$", "256", "USD", "price"),  # 256GB
    ("Redmi Note 13 8/256 - 185 usd x 200pcs", "200", "USD", "price"),  # the quantity
    ("Galaxy S24 - 1.549,00 €", "1.549,00", "USD", "currency"),  # the line names EUR
    ("iPhone 15 128GB MX$ 15,499", "15,499", "USD", "currency"),  # MX$ is MXN, not the $ of USD
])
def test_a_spec_a_quantity_or_another_currency_is_not_taken_for_the_price(openai_on, stub, text, price, currency,
                                                                          why):
    stub.queue(200, OpenAIStub.answer([offer(1, "the product", price, currency=currency)]))
    [item] = llm.extract([SourceLine("line 1", text)])
    assert isinstance(item, RowError) and item.field == why, item


def test_the_price_as_written_with_its_currency_passes_and_a_currency_the_line_does_not_name_is_dropped(
        openai_on, stub):
    stub.queue(200, OpenAIStub.answer([offer(1, "Galaxy A55 8/256", "329€", currency="EUR"),
                                       offer(2, "Redmi Note 13", "USD185", currency="USD"),
                                       offer(3, "Pixel 8", "640", currency="GBP"),
                                       offer(4, "iPhone 15", "R$ 1.149,00", currency="BRL")]))
    items = llm.extract([SourceLine("line 1", "Galaxy A55 8/256 - 329€"), SourceLine("line 2", "Redmi Note 13 USD185"),
                         SourceLine("line 3", "Pixel 8 128GB 640"), SourceLine("line 4", "iPhone 15 R$ 1.149,00")])
    assert [(item.price, item.currency) for item in items] == [("329€", "EUR"), ("USD185", "USD"), ("640", ""),
                                                               ("R$ 1.149,00", "BRL")]


def test_a_price_the_line_does_not_show_is_a_row_error(openai_on, stub):
    stub.queue(200, OpenAIStub.answer([
        offer(1, "iPhone 15 128GB Black", "1,199.00"),  # the line says 1,299.00
        offer(2, "", "699"),  # no description
        offer(7, "Ghost", "699"),  # a line that was not sent
        offer(2, "Galaxy S24 256GB", "699.00 EUR"),  # fine: zero decimals do not matter
    ]))
    stats = Counter()

    items = llm.extract(LINES, stats=stats)

    assert items[0] == RowError("line 4", "the model read price 1,199.00 here, which the source text does not show; "
                                          "not stored", field="price", value="1,199.00")
    assert items[1].field == "description" and items[1].ref == "line 5"
    assert items[2].field == "line" and "[7]" in items[2].message
    assert isinstance(items[3], OfferCandidate) and items[3].ref == "line 5"
    assert stats["llm_prices_rejected"] == 1 and stats["llm_offers"] == 1


# --------------------------------------------------------------------------- failures

def test_a_429_is_retried_by_the_client(openai_on, stub):
    stub.queue(429, OpenAIStub.error("Rate limit reached", type="rate_limit_exceeded"), FAST)
    stub.queue(200, OpenAIStub.answer([offer(2, "Galaxy S24 256GB", "699")]))

    items = llm.extract(LINES)

    assert [item.description for item in items] == ["Galaxy S24 256GB"]
    assert len(stub.requests) == 2
    assert stub.requests[1].headers["x-stainless-retry-count"] == "1"


def test_a_500_on_every_try_is_an_llm_error_and_a_notice(openai_on, stub):
    for _ in range(2):
        stub.queue(500, OpenAIStub.error("The server had an error"), FAST)
    context = IngestContext()

    items, notices = llm.normalize(LINES, context, where="chat.txt")

    assert items is None
    assert len(stub.requests) == 2  # OPENAI_MAX_RETRIES=1
    [notice] = notices
    assert notice.ref == "chat.txt"
    assert notice.message == ("the LLM pass failed (the API answered HTTP 500 after 2 tries: The server had an "
                              "error); the heuristics read it instead")
    assert context.stats["llm_calls"] == 1 and context.stats["llm_failures"] == 1


@pytest.mark.parametrize(("answer", "why"), [
    (OpenAIStub.answer([offer(1, "iPhone", "1299")], finish_reason="length"),
     "answer cut at OPENAI_MAX_TOKENS=4096 tokens"),
    (OpenAIStub.answer(content='{"offers": [{"line": 1, "price": '), "the answer is not JSON"),
    (OpenAIStub.answer(content='{"offers": [{"line": "1"}]}'),
     "the answer does not match the schema: offers[0].line is not an integer"),
    (OpenAIStub.answer(content='{"items": []}'), 'the answer does not match the schema: no "offers" list'),
    (OpenAIStub.answer(refusal="I can't help with that."), "the model refused: I can't help with that."),
])
def test_unusable_answers_are_llm_errors(openai_on, stub, answer, why):
    stub.queue(200, answer)
    with pytest.raises(LlmError, match="^" + re.escape(why)):
        llm.extract(LINES)
    assert len(stub.requests) == 1


def test_an_unreachable_endpoint_is_an_llm_error(openai_on, stub):
    with OpenAIStub() as gone:
        url = gone.base_url
    openai_on.OPENAI_BASE_URL = url
    openai_on.OPENAI_MAX_RETRIES = 0
    with pytest.raises(LlmError, match=f"^cannot reach the API at {url} after 1 try"):
        llm.extract(LINES)


def test_the_client_follows_the_settings(openai_on, stub):
    llm.extract(LINES)
    with OpenAIStub() as other:
        openai_on.OPENAI_BASE_URL = other.base_url
        openai_on.OPENAI_API_KEY = "other-key"
        llm.extract(LINES)
        assert other.requests[0].headers["authorization"] == "Bearer other-key"
    assert len(stub.requests) == 1


# --------------------------------------------------------------------------- size

def test_lines_go_in_batches_of_max_input_chars(openai_on, stub):
    openai_on.OPENAI_MAX_INPUT_CHARS = 100
    lines = [SourceLine(f"line {n}", f"Phone model {n:02d} with a long name - {n}99") for n in range(1, 9)]
    # "[n] " + 37 characters + newline: two lines per call, four calls
    for call in range(4):
        stub.queue(200, OpenAIStub.answer([offer(2 * call + 2, f"Phone model {2 * call + 2:02d}",
                                                 f"{2 * call + 2}99")]))
    stats = Counter()

    items = llm.extract(lines, stats=stats)

    assert [item.ref for item in items] == ["line 2", "line 4", "line 6", "line 8"]
    assert stats["llm_calls"] == 4
    sent = [request.body["messages"][1]["content"].split("Lines:\n")[1] for request in stub.requests]
    assert sent[1] == "[3] Phone model 03 with a long name - 399\n[4] Phone model 04 with a long name - 499"
    assert all(len(text) <= 100 for text in sent)


def test_a_line_longer_than_the_limit_is_cut(openai_on, stub):
    openai_on.OPENAI_MAX_INPUT_CHARS = 100
    stats = Counter()
    llm.extract([SourceLine("line 1", "x" * 300 + " 750")], stats=stats)
    assert stats["llm_lines_cut"] == 1
    assert stub.requests[0].body["messages"][1]["content"].split("Lines:\n")[1] == "[1] " + "x" * 96


def test_more_calls_than_the_cap_is_an_llm_error_before_any_call(openai_on, stub):
    openai_on.OPENAI_MAX_INPUT_CHARS = 100
    openai_on.OPENAI_MAX_CALLS_PER_DOCUMENT = 3
    lines = [SourceLine(f"line {n}", f"Phone model {n:02d} with a long name - {n}99") for n in range(1, 9)]
    with pytest.raises(LlmError, match="needs 4 calls .* more than OPENAI_MAX_CALLS_PER_DOCUMENT=3"):
        llm.extract(lines)
    assert stub.requests == []


def test_nothing_to_read_makes_no_call(openai_on, stub):
    assert llm.extract([]) == []
    assert stub.requests == []


# --------------------------------------------------------------------------- through the ingest

CHAT = (
    "12/03/2024, 14:05 - Mario Phones: NEW SEALED\n"
    "iPhone 15 128GB - $750\n"
    "Galaxy S24 256GB 699$\n"
    "12/03/2024, 14:07 - Ana Buyer: how much for the pixel?\n"
    "13/03/2024, 09:00 - Mario Phones: Pixel 8 Pro @ 640 usd x5\n"
)

HEADERLESS_CSV = (
    "A3090,iPhone 15 128GB Black,750,10\n"
    "SM-S928B,Galaxy S24 Ultra 256GB,1045.50,5\n"
    "G9BQD,Pixel 8 Pro 128GB,640,2\n"
)


def _offers(document):
    return [(o.source_ref, o.description, o.price, o.currency)
            for o in Offer.objects.filter(source_document=document).order_by("source_ref")]


@pytest.mark.django_db
def test_prefer_llm_reads_a_whatsapp_transcript_through_the_model(openai_on, stub, tmp_path):
    path = tmp_path / "WhatsApp Chat with Mario.txt"
    path.write_text(CHAT, encoding="utf-8")
    stub.queue(200, OpenAIStub.answer([
        offer(2, "iPhone 15 128GB", "$750", currency="USD", condition="NEW SEALED"),
        offer(3, "Galaxy S24 256GB", "699$", currency="USD"),
        offer(5, "Pixel 8 Pro", "640", currency="USD", quantity="5"),
        offer(4, "Pixel 8", "600", currency="USD"),  # the question shows no price: rejected
    ]))

    document = ingest_path(path, processor="whatsapp_text", vendor_name="Mario Phones",
                           options={"prefer_llm": "true"})

    assert document.status == SourceDocument.Status.PARTIAL
    assert _offers(document) == [
        ("line 2", "iPhone 15 128GB", Decimal("750.00"), "USD"),
        ("line 3", "Galaxy S24 256GB", Decimal("699.00"), "USD"),
        ("line 5", "Pixel 8 Pro", Decimal("640.00"), "USD"),
    ]
    pixel = Offer.objects.get(source_document=document, source_ref="line 5")
    assert pixel.observed_at == datetime(2024, 3, 13, 9, 0, tzinfo=pixel.observed_at.tzinfo)
    assert document.notes == ["WhatsApp Chat with Mario.txt: read by the LLM (gpt-test): 3 offers, 1 price rejected"]
    assert [error["ref"] for error in document.errors] == ["line 4"]
    assert document.stats["llm_calls"] == 1 and document.stats["llm_offers"] == 3
    sent = stub.requests[0].body["messages"][1]["content"]
    assert "[1] NEW SEALED\n[2] iPhone 15 128GB - $750\n[3] Galaxy S24 256GB 699$\n" in sent
    assert "[4] how much for the pixel?\n[5] Pixel 8 Pro @ 640 usd x5" in sent


@pytest.mark.django_db
def test_a_failed_pass_falls_back_to_the_heuristics_with_a_notice(openai_on, stub, tmp_path):
    path = tmp_path / "WhatsApp Chat with Mario.txt"
    path.write_text(CHAT, encoding="utf-8")
    stub.queue(200, OpenAIStub.answer(content="not json"))

    document = ingest_path(path, processor="whatsapp_text", vendor_name="Mario Phones",
                           options={"prefer_llm": "true"})

    assert document.status == SourceDocument.Status.SUCCEEDED
    assert [ref for ref, *_ in _offers(document)] == ["line 2", "line 3", "line 5"]
    [note] = document.notes
    assert note.startswith("WhatsApp Chat with Mario.txt: the LLM pass failed (the answer is not JSON")
    assert note.endswith("; the heuristics read it instead")


@pytest.mark.django_db
def test_without_enable_openai_prefer_llm_runs_the_heuristics(settings, stub, tmp_path):
    settings.ENABLE_OPENAI = False
    settings.OPENAI_API_KEY = "test"
    settings.OPENAI_BASE_URL = stub.base_url
    chat = tmp_path / "WhatsApp Chat with Mario.txt"
    chat.write_text(CHAT, encoding="utf-8")
    sheet = tmp_path / "list.csv"
    sheet.write_text(HEADERLESS_CSV, encoding="utf-8")

    document = ingest_path(chat, processor="whatsapp_text", vendor_name="Mario Phones", options={"prefer_llm": "true"})
    assert document.status == SourceDocument.Status.SUCCEEDED
    assert [ref for ref, *_ in _offers(document)] == ["line 2", "line 3", "line 5"]
    assert "llm_calls" not in document.stats

    document = ingest_path(sheet, processor="spreadsheet", vendor_name="Acme", options={"prefer_llm": "true"})
    assert document.status == SourceDocument.Status.FAILED
    assert "no header row found" in document.errors[0]["message"]
    assert stub.requests == []


@pytest.mark.django_db
def test_a_csv_without_a_header_is_read_by_the_model_when_enabled(openai_on, stub, tmp_path):
    sheet = tmp_path / "list.csv"
    sheet.write_text(HEADERLESS_CSV, encoding="utf-8")
    stub.queue(200, OpenAIStub.answer([
        offer(1, "iPhone 15 128GB Black", "750", sku="A3090", quantity="10"),
        offer(2, "Galaxy S24 Ultra 256GB", "1045.50", sku="SM-S928B", quantity="5"),
        offer(3, "Pixel 8 Pro 128GB", "640", sku="G9BQD", quantity="2"),
    ]))

    document = ingest_path(sheet, processor="spreadsheet", vendor_name="Acme", currency="EUR")

    assert document.status == SourceDocument.Status.SUCCEEDED
    assert _offers(document) == [
        ("line 1", "iPhone 15 128GB Black", Decimal("750.00"), "EUR"),
        ("line 2", "Galaxy S24 Ultra 256GB", Decimal("1045.50"), "EUR"),
        ("line 3", "Pixel 8 Pro 128GB", Decimal("640.00"), "EUR"),
    ]
    assert document.notes == ["list.csv: read by the LLM (gpt-test): 3 offers, 0 prices rejected"]
    sent = stub.requests[0].body["messages"][1]["content"]
    assert "[1] A3090 | iPhone 15 128GB Black | 750 | 10\n[2] SM-S928B | Galaxy S24 Ultra 256GB | 1045.50 | 5" in sent


@pytest.mark.django_db
def test_a_csv_without_a_header_stays_an_error_when_the_pass_fails(openai_on, stub, tmp_path):
    sheet = tmp_path / "list.csv"
    sheet.write_text(HEADERLESS_CSV, encoding="utf-8")
    stub.queue(200, OpenAIStub.answer([offer(1, "iPhone", "750")], finish_reason="length"))

    document = ingest_path(sheet, processor="spreadsheet", vendor_name="Acme")

    assert document.status == SourceDocument.Status.FAILED
    assert "no header row found" in document.errors[0]["message"]
    assert document.notes == ["list.csv: the LLM pass failed (answer cut at OPENAI_MAX_TOKENS=4096 tokens; raise it "
                              "or send less text per call (OPENAI_MAX_INPUT_CHARS)); the heuristics read it instead"]


@pytest.mark.django_db
def test_prefer_llm_on_a_sheet_with_a_header_and_its_fallbacks(openai_on, stub, tmp_path):
    sheet = tmp_path / "list.csv"
    sheet.write_text("SKU,Description,Price\n" + HEADERLESS_CSV.replace(",10\n", "\n").replace(",5\n", "\n")
                     .replace(",2\n", "\n"), encoding="utf-8")
    stub.queue(200, OpenAIStub.answer([offer(3, "Galaxy S24 Ultra 256GB", "1045.50", sku="SM-S928B")]))

    document = ingest_path(sheet, processor="spreadsheet", vendor_name="Acme", currency="USD",
                           options={"prefer_llm": "true"})
    assert [ref for ref, *_ in _offers(document)] == ["line 3"]  # only what the model read
    assert stub.requests[0].body["messages"][1]["content"].endswith("[1] SKU | Description | Price\n"
                                                                   "[2] A3090 | iPhone 15 128GB Black | 750\n"
                                                                   "[3] SM-S928B | Galaxy S24 Ultra 256GB | 1045.50\n"
                                                                   "[4] G9BQD | Pixel 8 Pro 128GB | 640")

    # Too large for the calls allowed: not sent, the rules read it
    openai_on.OPENAI_MAX_INPUT_CHARS = 100
    openai_on.OPENAI_MAX_CALLS_PER_DOCUMENT = 1
    document = ingest_path(sheet, processor="spreadsheet", vendor_name="Acme", currency="USD",
                           options={"prefer_llm": "true"}, force=True)
    assert [ref for ref, *_ in _offers(document)] == ["line 2", "line 3", "line 4"]
    assert document.notes == ["list.csv: too large for the LLM pass (more than 100 characters: "
                              "OPENAI_MAX_INPUT_CHARS x OPENAI_MAX_CALLS_PER_DOCUMENT); the heuristics read it"]
    assert len(stub.requests) == 1


def test_normalize_counts_and_notice(openai_on, stub):
    stub.queue(200, OpenAIStub.answer([offer(1, "iPhone 15", "1,299.00"), offer(2, "Galaxy", "1")]))
    context = IngestContext()
    items, notices = llm.normalize(LINES, context, where="page 3", hint="a scanned page")
    assert [type(item) for item in items] == [OfferCandidate, RowError]
    assert notices == [Notice("page 3", "read by the LLM (gpt-test): 1 offer, 1 price rejected")]
    assert json.loads(json.dumps(dict(context.stats))) == {"llm_calls": 1, "llm_offers": 1, "llm_prices_rejected": 1,
                                                          "llm_tokens": 30}


@pytest.mark.django_db
def test_prefer_llm_reads_a_telegram_export_with_message_refs(openai_on, stub, tmp_path):
    export = {"name": "Deals", "type": "private_group", "id": 1, "messages": [
        {"id": 7, "type": "message", "date": "2024-03-12T14:05:00", "date_unixtime": "1710252300",
         "from": "Mario Phones", "from_id": "user1", "text": "Price list\niPhone 15 128GB 750 USD"},
        {"id": 8, "type": "service", "date": "2024-03-12T14:06:00", "date_unixtime": "1710252360",
         "actor": "Ana", "action": "invite_members", "text": ""},
    ]}
    path = tmp_path / "result.json"
    path.write_text(json.dumps(export), encoding="utf-8")
    stub.queue(200, OpenAIStub.answer([offer(2, "iPhone 15 128GB", "750", currency="USD")]))

    document = ingest_path(path, processor="telegram", vendor_name="Mario Phones", options={"prefer_llm": "true"})

    assert _offers(document) == [("message 7 line 2", "iPhone 15 128GB", Decimal("750.00"), "USD")]
    assert Offer.objects.get(source_document=document).observed_at is not None
    assert "[1] Price list\n[2] iPhone 15 128GB 750 USD" in stub.requests[0].body["messages"][1]["content"]


def test_the_stub_speaks_the_responses_api_too(stub):
    """The stub's other route, for callers of ``client.responses`` (the real client parses it)."""
    import openai

    stub.queue(200, OpenAIStub.response([offer(1, "iPhone 15", "750")]))
    client = openai.OpenAI(api_key="test", base_url=stub.base_url, max_retries=0)
    answer = client.responses.create(model="gpt-test", input="[1] iPhone 15 750")
    assert json.loads(answer.output_text)["offers"][0]["price"] == "750"
    assert stub.requests[0].path == "/v1/responses" and stub.requests[0].body["input"] == "[1] iPhone 15 750"
    client.close()
