"""The LLM normalization pass: messy lines (and, for GPT vision, an image) into offer candidates.

``extract(lines, image=...)`` sends numbered source lines to the chat completions API of the
``openai`` client with a strict JSON schema and turns the answer into ``OfferCandidate``s, each
validated against the line it names: a price whose digits that line does not show is a
``RowError``, never an offer. Any failure of the model call (HTTP status after the client's own
retries, no connection, timeout, an answer cut at ``OPENAI_MAX_TOKENS``, not JSON, not the
schema, a refusal) or an input needing more than ``OPENAI_MAX_CALLS_PER_DOCUMENT`` calls raises
``LlmError``, whose text says why; callers then read the input with their heuristics.

Processors use ``wanted(context)`` (``--option prefer_llm=true`` and the pass enabled) and
``normalize(lines, context, where=...)``, which turns the outcome into items and a ``Notice``.
The pass runs only with ``ENABLE_OPENAI=true`` and an ``OPENAI_API_KEY`` (``enabled()``).

Settings: ``OPENAI_MODEL``, ``OPENAI_BASE_URL`` (another OpenAI-compatible endpoint),
``OPENAI_TIMEOUT_SECONDS``, ``OPENAI_MAX_RETRIES`` (429, 5xx and timeouts are retried with the
client's backoff, which honours ``retry-after``), ``OPENAI_MAX_TOKENS`` (the answer's limit),
``OPENAI_MAX_INPUT_CHARS`` (text per call) and ``OPENAI_MAX_CALLS_PER_DOCUMENT``. See
``docs/llm.md``.

Runs in the ingest's forked reader process: no database access here. ``openai`` is imported on
the first call, so a process that never calls the model does not pay for the import.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from ingestion.types import IngestContext, Notice, OfferCandidate, RowError
from ingestion.normalize import is_currency, iso_currency_code, parse_currency
from offers.text import ascii_digits
from offers.wording import counted

__all__ = ["LlmError", "SourceLine", "disabled_reason", "enabled", "extract", "input_budget", "normalize", "wanted"]


class LlmError(Exception):
    """A model call gave nothing usable; str(exc) says why in plain words (for a Notice)."""


def enabled() -> bool:
    """True when the pass may run: ``ENABLE_OPENAI`` is true and ``OPENAI_API_KEY`` is set."""
    return not disabled_reason()


def disabled_reason() -> str:
    """Why the pass is off: ``"ENABLE_OPENAI is not true"``, ``"OPENAI_API_KEY is not set"``, or ``""`` when on."""
    if not settings.configured or not getattr(settings, "ENABLE_OPENAI", False):
        return "ENABLE_OPENAI is not true"
    if not getattr(settings, "OPENAI_API_KEY", ""):
        return "OPENAI_API_KEY is not set"
    return ""


@dataclass(slots=True)
class SourceLine:
    """One line of the source as read, with where it is.

    ``ref``: ``"page 2, line 7"``, ``"Sheet1!12"``, ``"line 34"``. ``template``: the fields a
    candidate from this line carries (``observed_at``, ``sender``, ``extra``; ``condition`` and
    ``currency`` when the model gives none), e.g. a chat message's time and author; ``None``: none.
    """

    ref: str
    text: str
    template: OfferCandidate | None = None


# --------------------------------------------------------------------------- the request

FIELDS = ("sku", "description", "price", "currency", "quantity", "condition")
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "offers": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"line": {"type": "integer"}, **{name: {"type": "string"} for name in FIELDS}},
                "required": ["line", *FIELDS],
                "additionalProperties": False,
            },
        },
    },
    "required": ["offers"],
    "additionalProperties": False,
}
RESPONSE_FORMAT = {"type": "json_schema", "json_schema": {"name": "price_offers", "strict": True, "schema": SCHEMA}}

SYSTEM_PROMPT = """\
You read wholesale price lists of phones and electronics (spreadsheet rows, chat messages, \
scanned or photographed pages) and list the offers in them.

The user gives numbered source lines "[n] text" (and sometimes the image they were read from). \
Return one offer per product line that has a price:
- line: the number n of the line the offer's price is on.
- sku: the model number or part code when the line gives one, else "".
- description: the product as written (brand, model, storage, colour, variant).
- price: the unit price exactly as written on that line, with its separators and symbol \
(e.g. "$1,299.00", "3.999,00", "750"). Never compute, convert or invent a price; a line \
without a price is not an offer.
- currency: the ISO 4217 code (USD, EUR, BRL ...) only when the text names the currency \
(a symbol or word); otherwise "".
- quantity: the quantity or stock exactly as written, else "".
- condition: the condition exactly as written (new, used, refurbished, grade A, sealed ...), else "".
Headers, totals, greetings and lines with no price are not offers. Keep the order of the lines."""


def _user_text(numbered: list[str], hint: str) -> str:
    intro = f"Source: {hint}.\n" if hint else ""
    return f"{intro}Lines:\n" + "\n".join(numbered)


def _request(numbered: list[str], image: bytes | None, image_mime: str, hint: str) -> dict[str, Any]:
    """The keyword arguments of ``chat.completions.create`` for one call."""
    text = _user_text(numbered, hint)
    if image is None:
        content: Any = text
    else:
        url = f"data:{image_mime or 'image/png'};base64,{base64.b64encode(image).decode('ascii')}"
        content = [{"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": url, "detail": "high"}}]
    return {
        "model": settings.OPENAI_MODEL,
        "messages": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": content}],
        "response_format": RESPONSE_FORMAT,
        "max_completion_tokens": settings.OPENAI_MAX_TOKENS,
        "temperature": 0,
    }


# --------------------------------------------------------------------------- the client

_client: tuple[tuple, Any] | None = None  # (the settings and process it was made for, the client)


def _get_client():
    """The process's ``openai.OpenAI`` client, made on first use and again when the settings it
    was made with change (tests) or in a forked child (a connection pool is not shared across a fork)."""
    global _client
    key = (os.getpid(), settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL or "", settings.OPENAI_TIMEOUT_SECONDS,
           settings.OPENAI_MAX_RETRIES)
    if _client is None or _client[0] != key:
        import openai

        _client = (key, openai.OpenAI(
            api_key=settings.OPENAI_API_KEY,
            base_url=settings.OPENAI_BASE_URL or None,
            timeout=float(settings.OPENAI_TIMEOUT_SECONDS),
            max_retries=settings.OPENAI_MAX_RETRIES,
        ))
    return _client[1]


def _call(request: dict[str, Any], stats: Counter) -> list[dict[str, Any]]:
    """One chat completion; its offers as dicts of the schema. Raises ``LlmError`` saying why not."""
    import openai

    stats["llm_calls"] += 1
    retries = settings.OPENAI_MAX_RETRIES
    tries = f"{retries + 1} tries" if retries else "1 try"
    try:
        completion = _get_client().chat.completions.create(**request)
    except openai.APIStatusError as exc:
        body = exc.body if isinstance(exc.body, dict) else {}
        detail = str(body.get("message") or exc.message)[:300]
        raise LlmError(f"the API answered HTTP {exc.status_code} after {tries}: {detail}") from None
    except openai.APITimeoutError:
        raise LlmError(f"no answer within OPENAI_TIMEOUT_SECONDS={settings.OPENAI_TIMEOUT_SECONDS} s, "
                       f"{tries}") from None
    except openai.APIConnectionError as exc:
        cause = exc.__cause__ or exc
        raise LlmError(f"cannot reach the API at {_endpoint()} after {tries}: {cause}") from None
    except openai.OpenAIError as exc:
        raise LlmError(f"the openai client failed: {exc}") from None
    usage = getattr(completion, "usage", None)
    if usage is not None and getattr(usage, "total_tokens", None):
        stats["llm_tokens"] += usage.total_tokens
    if not completion.choices:
        raise LlmError("the answer holds no choice")
    choice = completion.choices[0]
    if choice.finish_reason == "length":
        raise LlmError(f"answer cut at OPENAI_MAX_TOKENS={settings.OPENAI_MAX_TOKENS} tokens; "
                       "raise it or send less text per call (OPENAI_MAX_INPUT_CHARS)")
    if choice.finish_reason == "content_filter":
        raise LlmError("the answer was stopped by the API's content filter")
    if getattr(choice.message, "refusal", None):
        raise LlmError(f"the model refused: {str(choice.message.refusal)[:300]}")
    return _offers_in(choice.message.content)


def _endpoint() -> str:
    return settings.OPENAI_BASE_URL or "https://api.openai.com/v1"


def _offers_in(content: str | None) -> list[dict[str, Any]]:
    """The offers of an answer's content, checked against ``SCHEMA``; ``LlmError`` naming what is wrong."""
    if not content:
        raise LlmError("the answer is empty")
    try:
        answer = json.loads(content)
    except ValueError as exc:
        raise LlmError(f"the answer is not JSON ({exc.msg} at character {exc.pos}): {content[:100]!r}") from None
    offers = answer.get("offers") if isinstance(answer, dict) else None
    if not isinstance(offers, list):
        raise LlmError(f"the answer does not match the schema: no \"offers\" list in {content[:100]!r}")
    for index, offer in enumerate(offers):
        if not isinstance(offer, dict):
            raise LlmError(f"the answer does not match the schema: offers[{index}] is not an object")
        if type(offer.get("line")) is not int:
            raise LlmError(f"the answer does not match the schema: offers[{index}].line is not an integer")
        for name in FIELDS:
            if not isinstance(offer.get(name), str):
                raise LlmError(f"the answer does not match the schema: offers[{index}].{name} is not a string")
    return offers


# --------------------------------------------------------------------------- batches

def _batches(lines: list[SourceLine], limit: int, stats: Counter) -> list[list[tuple[int, str]]]:
    """``lines`` as numbered ``(n, "[n] text")`` in batches of at most ``limit`` characters (one
    call each); a line longer than the limit alone is cut to fit (``stats["llm_lines_cut"]``)."""
    batches: list[list[tuple[int, str]]] = []
    batch: list[tuple[int, str]] = []
    size = 0
    for number, line in enumerate(lines, 1):
        text = f"[{number}] {line.text}"
        if len(text) > limit:
            text = text[:limit]
            stats["llm_lines_cut"] += 1
        if batch and size + len(text) + 1 > limit:
            batches.append(batch)
            batch, size = [], 0
        batch.append((number, text))
        size += len(text) + 1
    if batch:
        batches.append(batch)
    return batches


# --------------------------------------------------------------------------- validation

# A number as written: digit groups joined by a thousands or decimal separator ("1,299.00", "3.999,00", "1 299").
_NUMBER = re.compile(r"[0-9]+(?:[.,'\u00a0\u202f\u2009 ][0-9]+)*")
_GROUP = re.compile(r"[0-9]+")
_DECIMALS = re.compile(r"[.,]([0-9]{1,2})$")  # a decimal part: one or two digits after the last separator


def price_digits(text: str) -> str:
    """The digits of the first number in ``text`` with separators and trailing decimal zeros dropped:
    ``"$1,299.00"`` -> ``"1299"``, ``"R$ 3.999,50"`` -> ``"39995"``, ``"١٢٩٩"`` -> ``"1299"``;
    ``""`` when it holds no digit."""
    match = _NUMBER.search(ascii_digits(text))
    return _number_digits(match.group()) if match else ""


def _number_digits(number: str) -> str:
    """``"1,299.00"`` -> ``"1299"``, ``"1299.50"`` -> ``"12995"``: the digits, trailing decimal zeros dropped."""
    decimals = _DECIMALS.search(number)
    if decimals is not None:
        number = number[:decimals.start(1)] + decimals.group(1).rstrip("0")
    return re.sub(r"[^0-9]", "", number)


# Words after a number that make it a spec or a quantity, not a price ("128GB", "128 GB", "200pcs").
_NOT_PRICE_WORDS = frozenset({"gb", "tb", "mb", "g", "mah", "mp", "hz", "w", "pcs", "pc", "pz", "units", "unit",
                              "uds", "un", "stk", "шт"})
_WORD_AFTER = re.compile(r"( ?)([^\W\d_]+)")
_WORD_BEFORE = re.compile(r"([^\W\d_]+)$")
_QUANTITY_MARK = re.compile(r"(?:^|\s)[xX] ?$")


def _price_like(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` (a number) can be a price: not part of ``8/256``, not a spec or a
    quantity (``128GB``, ``128 GB``, ``200pcs``, ``x200``), not inside a model name (``S24``,
    ``14T``); a currency glued to it (``USD750``, ``750usd``, ``999$``) is fine."""
    before, after = text[:start], text[end:]
    if after[:1] == "/" or before[-1:] == "/" or _QUANTITY_MARK.search(before):
        return False
    word = _WORD_AFTER.match(after)
    if word is not None:
        spaced, letters = word.groups()
        if letters.casefold() in _NOT_PRICE_WORDS:
            return False
        if not spaced and not is_currency(letters) and letters.casefold() not in ("k", "m"):
            return False
    glued = _WORD_BEFORE.search(before)
    return glued is None or is_currency(glued.group(1))


def _line_numbers(text: str) -> set[str]:
    """The digit strings a price read from ``text`` may have: each number in it that can be a price
    (``_price_like``), and each run of its digit groups (``"13 128 750"`` gives ``"13"``, ``"128"``,
    ``"750"``, ``"13128"`` ...)."""
    text = ascii_digits(text)
    found: set[str] = set()
    for match in _NUMBER.finditer(text):
        groups = list(_GROUP.finditer(match.group()))
        for first in range(len(groups)):
            for last in range(first, len(groups)):
                start, end = match.start() + groups[first].start(), match.start() + groups[last].end()
                if _price_like(text, start, end):
                    found.add(_number_digits(text[start:end]))
    return found


# A symbol with the letters glued before it ("MX$", "R$", "HK$": one currency each), or a word.
_CURRENCY_TOKEN = re.compile(r"[^\W\d_]{0,3}[^\w\s]+|[^\W\d_]+")


def _currencies_on(text: str) -> set[str]:
    """The ISO codes of the currencies a line names (symbols, codes, names: ``normalize.parse_currency``)."""
    return {code for token in _CURRENCY_TOKEN.findall(text) if (code := parse_currency(token))}


def _supports(line: SourceLine, digits: str, cache: dict[int, set[str]]) -> bool:
    numbers = cache.get(id(line))
    if numbers is None:
        numbers = cache[id(line)] = _line_numbers(line.text)
    return digits in numbers


def _item(offer: dict[str, Any], sent: dict[int, SourceLine], fallback_ref: str,
          cache: dict[int, set[str]]) -> OfferCandidate | RowError:
    """One offer of the answer, validated against the line it names (see ``extract``)."""
    price = offer["price"].strip()
    line = sent.get(offer["line"])
    digits = price_digits(price)
    if line is None:
        return RowError(fallback_ref, f"the model named line [{offer['line']}], which is not one of the lines "
                                      "sent; not stored", field="line", value=str(offer["line"]))
    if not digits:
        return RowError(line.ref, f"the model gave no price with digits here ({price!r}); not stored",
                        field="price", value=price)
    if not _supports(line, digits, cache):
        return RowError(line.ref, f"the model read price {price} here, which the source text does not show; "
                                  "not stored", field="price", value=price)
    currency = offer["currency"].strip()
    if currency:
        named = _currencies_on(line.text)
        if named and iso_currency_code(currency) not in named:
            return RowError(line.ref, f"the model gave the currency {currency} here, where the source text names "
                                      f"{', '.join(sorted(named))}; not stored", field="currency", value=currency)
        if not named:  # a currency the text does not name is a guess: the document's own rules decide it
            currency = ""
    description = offer["description"].strip()
    if not description:
        return RowError(line.ref, "the model gave no description for this offer; not stored",
                        field="description", value=line.text[:200])
    template = line.template
    candidate = OfferCandidate(
        ref=line.ref,
        sku=offer["sku"].strip(),
        description=description,
        price=price,
        currency=currency or (template.currency if template else ""),
        quantity=offer["quantity"].strip(),
        condition=offer["condition"].strip() or (template.condition if template else ""),
    )
    if template is not None:
        candidate.observed_at = template.observed_at
        candidate.sender = template.sender
        candidate.extra.update(template.extra)
    candidate.extra["read_by"] = "llm"
    return candidate


# --------------------------------------------------------------------------- extract

def extract(lines: list[SourceLine], *, image: bytes | None = None, image_mime: str = "",
            hint: str = "", stats: Counter | None = None) -> list[OfferCandidate | RowError]:
    """The offers the model finds in ``lines`` (and ``image``, for vision: the lines are then the
    offline OCR text of that same image, used to validate prices and to give refs).

    Text: the lines go numbered (``[1] text``) in batches of at most ``OPENAI_MAX_INPUT_CHARS``
    characters, one call each; a line longer than that is cut (``stats["llm_lines_cut"]``).
    Vision: one call with the image as a ``data:<image_mime>;base64,...`` URL and the lines that
    fit in one batch; each offer must name the OCR line it is on, as a text offer does. ``hint``
    (``"a scanned price list page"``) tells the model what it reads.

    Returns, in the answer's order, an ``OfferCandidate`` (``ref`` of its line, the model's
    fields as text, ``observed_at``/``sender``/``extra`` from the line's template,
    ``extra["read_by"] = "llm"``) per valid offer, and a ``RowError`` per offer whose line was
    not sent, whose price digits (separators and zero decimals aside) that line does not show as
    a number that can be a price (``_price_like``: not ``128GB``, ``8/256``, ``200pcs``, ``S24``),
    whose currency is not one the line names (a currency the line does not name at all is
    dropped: the document's rules then give one, flagged), or whose description is empty.
    Nothing to read (no lines, no image): ``[]``, no call.

    Raises ``LlmError`` when the input needs more than ``OPENAI_MAX_CALLS_PER_DOCUMENT`` calls
    (before any call) or a call fails (see the module docstring); nothing is returned then, not
    even the offers of earlier calls. ``stats`` (when given) counts ``llm_calls`` (calls, not the
    client's retries), ``llm_failures`` (failed calls and refused inputs), ``llm_offers``,
    ``llm_prices_rejected`` (prices the line does not show, or without a digit), ``llm_tokens``
    (``usage.total_tokens``), ``llm_lines_cut`` and, for vision, ``llm_lines_not_sent``.
    """
    stats = stats if stats is not None else Counter()
    if not lines and image is None:
        return []
    limit = settings.OPENAI_MAX_INPUT_CHARS
    batches = _batches(lines, limit, stats)
    if image is not None:
        if len(batches) > 1:
            stats["llm_lines_not_sent"] += sum(len(batch) for batch in batches[1:])
        batches = batches[:1] or [[]]
    elif len(batches) > settings.OPENAI_MAX_CALLS_PER_DOCUMENT:
        stats["llm_failures"] += 1
        raise LlmError(
            f"the text ({len(lines):,} lines) needs {len(batches)} calls of at most OPENAI_MAX_INPUT_CHARS="
            f"{limit:,} characters, more than OPENAI_MAX_CALLS_PER_DOCUMENT={settings.OPENAI_MAX_CALLS_PER_DOCUMENT}"
        )
    items: list[OfferCandidate | RowError] = []
    cache: dict[int, set[str]] = {}
    for batch in batches:
        request = _request([text for _, text in batch], image, image_mime, hint)
        try:
            offers = _call(request, stats)
        except LlmError:
            stats["llm_failures"] += 1
            raise
        sent = {number: lines[number - 1] for number, _ in batch}
        fallback_ref = lines[batch[0][0] - 1].ref if batch else ""
        for offer in offers:
            item = _item(offer, sent, fallback_ref, cache)
            if isinstance(item, RowError):
                if item.field == "price":
                    stats["llm_prices_rejected"] += 1
            else:
                stats["llm_offers"] += 1
            items.append(item)
    return items


# --------------------------------------------------------------------------- processor side

def input_budget() -> int:
    """The most characters of line text one ``extract`` may send: ``OPENAI_MAX_INPUT_CHARS`` x
    ``OPENAI_MAX_CALLS_PER_DOCUMENT``. A caller collecting lines from a stream stops past it (the
    pass would refuse them) and reads the stream with its heuristics."""
    return settings.OPENAI_MAX_INPUT_CHARS * settings.OPENAI_MAX_CALLS_PER_DOCUMENT


def wanted(context: IngestContext) -> bool:
    """True when the processor should use the pass for everything it reads: ``prefer_llm=true``
    in ``context.options`` and ``enabled()``. ``ValueError`` for a ``prefer_llm`` that is not a boolean."""
    return bool(context.option_bool("prefer_llm", False)) and enabled()


def normalize(lines: list[SourceLine], context: IngestContext, *, where: str, image: bytes | None = None,
              image_mime: str = "", hint: str = "") -> tuple[list[OfferCandidate | RowError] | None, list[Notice]]:
    """Run ``extract``; on LlmError return (None, [Notice(where, "the LLM pass failed (<why>); the
    heuristics read it instead")]) so the caller runs its heuristics; on success (items,
    [Notice(where, "read by the LLM (<model>): N offers, M prices rejected")]).

    ``where`` names the part read (a sheet, the file name, ``"page 3"``); counters go to
    ``context.stats`` (see ``extract``).
    """
    try:
        items = extract(lines, image=image, image_mime=image_mime, hint=hint, stats=context.stats)
    except LlmError as exc:
        return None, [Notice(where, f"the LLM pass failed ({exc}); the heuristics read it instead")]
    offers = sum(1 for item in items if isinstance(item, OfferCandidate))
    rejected = sum(1 for item in items if isinstance(item, RowError) and item.field == "price")
    return items, [Notice(where, f"read by the LLM ({settings.OPENAI_MODEL}): {counted(offers, 'offer')}, "
                                 f"{counted(rejected, 'price')} rejected")]
