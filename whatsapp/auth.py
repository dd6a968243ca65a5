"""Who may post to ``POST /integrations/whatsapp/ingest``: the checks run before the body is parsed.

In the playbook's order (section 7), each refusal a ``Refused`` carrying its status, its
``detail`` (the exact text collectors and operators match on) and the counters it moves:

1. ``check_address``: the optional ingress allowlist ``WHATSAPP_INGEST_ALLOWED_IPS`` (addresses
   or CIDRs; empty: off). The client's address is the peer's (``REMOTE_ADDR``), or with
   ``WHATSAPP_INGEST_TRUSTED_PROXIES`` = n the n-th ``X-Forwarded-For`` entry from the right
   (the one the outermost of our proxies saw) -> ``403``, ``forbidden``.
2. ``check_token``: ``X-Ingest-Token`` against every value of ``WHATSAPP_INGEST_TOKEN``
   (comma-separated: rotation) -> ``401 invalid ingest token``, ``auth_failures``. With no token
   configured every request is refused.
3. ``check_signature``, when ``WHATSAPP_INGEST_HMAC_SECRET`` is set: ``X-Signature`` is the
   lowercase hex HMAC-SHA256, under any configured secret, of the ``X-Signature-Timestamp``
   header's exact bytes, ``.`` and the raw body bytes; the timestamp (UTC ISO 8601
   ``YYYY-MM-DDTHH:MM:SSZ`` or unix seconds, ASCII digits only) must be within
   ``WHATSAPP_INGEST_SIGNATURE_TTL_SECONDS`` of now, either way -> ``403 invalid signature``,
   ``forbidden`` and ``signature_failures``.

Every header is checked for its form before use (ASCII only, exact patterns), and digests are
compared as bytes with ``hmac.compare_digest``, so no header makes a 500 and no comparison leaks
timing. The token and the secrets never appear in a message or a log line.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import re
import time
from calendar import timegm
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings

log = logging.getLogger(__name__)

INVALID_TOKEN = "invalid ingest token"
INVALID_SIGNATURE = "invalid signature"
FORBIDDEN_ADDRESS = "forbidden: this address is not in the ingest allowlist"

_HEX_SIGNATURE = re.compile(rb"[0-9a-f]{64}")
_UNIX_SECONDS = re.compile(rb"[0-9]{1,12}")
_ISO_UTC = re.compile(rb"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z")


@dataclass
class Refused(Exception):
    """A request refused before its body was parsed: ``status`` (401, 403), ``detail`` (what the
    answer says), ``counters`` (the names of ``whatsapp.counters.NAMES`` it moves by one) and
    ``reason`` (what ``recent_failures`` says: the detail and, for operators, why)."""

    status: int
    detail: str
    counters: tuple[str, ...]
    reason: str = ""

    def __post_init__(self):
        super().__init__(self.detail)
        self.reason = self.reason or self.detail


def values(raw: str) -> list[str]:
    """The values of a comma-separated setting (``"a, b,"`` -> ``["a", "b"]``)."""
    return [value.strip() for value in (raw or "").split(",") if value.strip()]


def header_bytes(meta: dict, name: str) -> bytes | None:
    """The raw bytes of header ``name`` (a ``META`` key such as ``HTTP_X_INGEST_TOKEN``), or
    ``None`` when it is absent. WSGI hands headers over as latin-1 text, so this is exactly what
    the client sent."""
    value = meta.get(name)
    if value is None:
        return None
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:  # not from a WSGI server (a test client given other text)
        return value.encode("utf-8", "surrogateescape")


# --------------------------------------------------------------------------- 1. address


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            log.error("WHATSAPP_INGEST_ALLOWED_IPS: %r is not an address or CIDR; ignored", entry)
    return tuple(networks)


def client_address(meta: dict) -> str:
    """The client's address: ``REMOTE_ADDR``, or with ``WHATSAPP_INGEST_TRUSTED_PROXIES`` = n > 0
    and an ``X-Forwarded-For`` header, its n-th entry from the right. ``""`` when the header has
    fewer entries than the proxies trusted (the request did not come through them)."""
    proxies = int(settings.WHATSAPP_INGEST_TRUSTED_PROXIES or 0)
    forwarded = meta.get("HTTP_X_FORWARDED_FOR")
    if proxies and forwarded is not None:
        entries = [entry.strip() for entry in forwarded.split(",")]
        return entries[-proxies] if len(entries) >= proxies else ""
    return str(meta.get("REMOTE_ADDR") or "")


def check_address(meta: dict) -> None:
    """Raise ``Refused`` (403, ``forbidden``) when the allowlist is on and the client's address
    (``client_address``) is not in it, or is not an address."""
    entries = tuple(settings.WHATSAPP_INGEST_ALLOWED_IPS or ())
    if not entries:
        return
    address = client_address(meta)
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        raise Refused(403, FORBIDDEN_ADDRESS, ("forbidden",), "forbidden: no usable client address") from None
    if getattr(parsed, "ipv4_mapped", None):
        parsed = parsed.ipv4_mapped
    if not any(parsed.version == network.version and parsed in network for network in _networks(entries)):
        raise Refused(403, FORBIDDEN_ADDRESS, ("forbidden",), f"forbidden: address {parsed} not in the allowlist")


# --------------------------------------------------------------------------- 2. token


def check_token(meta: dict) -> None:
    """Raise ``Refused`` (401 ``invalid ingest token``, ``auth_failures``) unless ``X-Ingest-Token``
    equals one of ``WHATSAPP_INGEST_TOKEN``'s values. Every configured value is compared (bytes,
    constant time), matched or not. No token configured refuses every request."""
    tokens = values(settings.WHATSAPP_INGEST_TOKEN)
    if not tokens:
        raise Refused(401, INVALID_TOKEN, ("auth_failures",), "invalid ingest token: WHATSAPP_INGEST_TOKEN is not set")
    given = header_bytes(meta, "HTTP_X_INGEST_TOKEN")
    if not given:
        raise Refused(401, INVALID_TOKEN, ("auth_failures",), "invalid ingest token: no X-Ingest-Token header")
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(given, token.encode("utf-8"))
    if not matched:
        raise Refused(401, INVALID_TOKEN, ("auth_failures",), "invalid ingest token: no configured token matches")


# --------------------------------------------------------------------------- 3. signature


def parse_timestamp(raw: bytes) -> int | None:
    """Unix seconds of an ``X-Signature-Timestamp`` value: ``YYYY-MM-DDTHH:MM:SSZ`` (UTC) or 1 to
    12 ASCII digits; ``None`` for anything else (signs, underscores, spaces, other digits, other
    ISO 8601 forms, impossible dates)."""
    if _UNIX_SECONDS.fullmatch(raw):
        return int(raw)
    match = _ISO_UTC.fullmatch(raw)
    if not match:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        time.strptime(f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d}", "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    return timegm((year, month, day, hour, minute, second, 0, 0, 0))


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Signature`` of ``body`` sent with ``timestamp`` (the header's text) under
    ``secret``: lowercase hex HMAC-SHA256 of ``timestamp + "." + body``."""
    return hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def check_signature(meta: dict, body: bytes, *, now: float | None = None) -> None:
    """When ``WHATSAPP_INGEST_HMAC_SECRET`` is set, raise ``Refused`` (403 ``invalid signature``,
    ``forbidden`` and ``signature_failures``) unless ``X-Signature`` is the HMAC of the raw
    ``body`` under one of its values (``sign``) and ``X-Signature-Timestamp`` is within
    ``WHATSAPP_INGEST_SIGNATURE_TTL_SECONDS`` of ``now`` (unix seconds; default the clock)."""
    secrets = values(settings.WHATSAPP_INGEST_HMAC_SECRET)
    if not secrets:
        return

    def refuse(why: str) -> Refused:
        return Refused(403, INVALID_SIGNATURE, ("forbidden", "signature_failures"), f"invalid signature: {why}")

    signature = header_bytes(meta, "HTTP_X_SIGNATURE")
    stamp = header_bytes(meta, "HTTP_X_SIGNATURE_TIMESTAMP")
    if signature is None or stamp is None:
        raise refuse("no X-Signature or X-Signature-Timestamp header")
    if not _HEX_SIGNATURE.fullmatch(signature):
        raise refuse("X-Signature is not 64 lowercase hex characters")
    sent = parse_timestamp(stamp)
    if sent is None:
        raise refuse("X-Signature-Timestamp is neither YYYY-MM-DDTHH:MM:SSZ nor unix seconds")
    skew = (time.time() if now is None else now) - sent
    if abs(skew) > settings.WHATSAPP_INGEST_SIGNATURE_TTL_SECONDS:
        raise refuse(f"timestamp {'older' if skew > 0 else 'newer'} than the "
                     f"{settings.WHATSAPP_INGEST_SIGNATURE_TTL_SECONDS} s allowed (off by {abs(skew):.0f} s)")
    message = stamp + b"." + body
    matched = False
    for secret in secrets:
        expected = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest().encode("ascii")
        matched |= hmac.compare_digest(expected, signature)
    if not matched:
        raise refuse("no configured secret gives this signature for this body and timestamp")

