"""``POST /integrations/whatsapp/ingest``: the collectors' signed batches (docs/whatsapp-ingest.md).

A thin view: the checks are ``whatsapp.auth`` (address, token, signature), ``whatsapp.ratelimit``
(the collector's bucket) and ``whatsapp.ingest`` (body, batch, storage). It reads the raw body
itself, from the request's stream and within ``WHATSAPP_INGEST_MAX_BODY_BYTES``: no DRF parser
and no ``request.body`` (whose ``DATA_UPLOAD_MAX_MEMORY_SIZE`` answer is Django's, not JSON) runs
first. Every answer is JSON with a ``request_id`` (also in the ``X-Request-ID`` header).
"""

from __future__ import annotations

import logging

from django.db import OperationalError
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from whatsapp import auth, counters, events, ingest as batches, ratelimit
from whatsapp.api_base import RequestIdJSON
from whatsapp.models import IngestEvent

log = logging.getLogger(__name__)

RATE_LIMITED = "ingest rate limit exceeded"


# --------------------------------------------------------------------------- the schema's shapes


class _MediaSchema(serializers.Serializer):
    filename = serializers.CharField(max_length=255)
    mime_type = serializers.CharField(max_length=120, required=False)
    data_base64 = serializers.CharField(help_text="The file, base64; at most WHATSAPP_MEDIA_MAX_BYTES once decoded.")


class _MessageSchema(serializers.Serializer):
    chat_title = serializers.CharField(max_length=300, help_text="Keys the chat (per client_id) when no chat_id is sent.")
    text = serializers.CharField(allow_blank=True, help_text="May be empty only with media.")
    chat_id = serializers.CharField(max_length=200, required=False, help_text="The collector's chat id.")
    sender = serializers.CharField(max_length=200, required=False)
    sent_at = serializers.DateTimeField(required=False, help_text="ISO 8601; UTC when no offset; default: now.")
    message_id = serializers.CharField(max_length=200, required=False, help_text="Unique per chat: a repeat is deduped.")
    media = _MediaSchema(required=False)


class _BatchSchema(serializers.Serializer):
    client_id = serializers.CharField(max_length=100, help_text="The collector; its rate-limit bucket.")
    messages = _MessageSchema(many=True, help_text="At most WHATSAPP_INGEST_MAX_MESSAGES.")


class _ChatSchema(serializers.Serializer):
    chat_id = serializers.IntegerField(help_text="PriceHub's chat id (/admin/whatsapp/{chat_id}).")
    chat_title = serializers.CharField()
    created = serializers.BooleanField(help_text="This request made the chat.")


class _ErrorSchema(serializers.Serializer):
    index = serializers.IntegerField(help_text="The message's position in messages.")
    detail = serializers.CharField()


class _ResultSchema(serializers.Serializer):
    request_id = serializers.CharField()
    accepted = serializers.IntegerField(help_text="Valid messages: created + edited + deduped.")
    created = serializers.IntegerField()
    edited = serializers.IntegerField(help_text="Messages whose message_id was stored with another text: the new "
                                                "text replaces it, and its offers are extracted again.")
    deduped = serializers.IntegerField()
    skipped = serializers.IntegerField(help_text="Invalid messages, each in errors.")
    chats = _ChatSchema(many=True)
    errors = _ErrorSchema(many=True)


class _RefusalSchema(serializers.Serializer):
    detail = serializers.CharField()
    request_id = serializers.CharField()


def _refusal(description: str) -> OpenApiResponse:
    return OpenApiResponse(_RefusalSchema, description=description)


SMOKE_BODY = {"client_id": "smoke", "messages": [{"chat_title": "Smoke Chat", "text": "Pixel 8 Pro - $750"}]}


# --------------------------------------------------------------------------- the view


class IngestView(RequestIdJSON, APIView):
    """The collectors' endpoint; no session, no API token, no DRF throttle: its own checks."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]  # for the schema only: the view reads the raw bytes itself

    @extend_schema(
        operation_id="whatsapp_ingest",
        summary="Post a batch of WhatsApp messages (collectors)",
        description=(
            "Signed ingest for collectors. Headers: `X-Ingest-Token` (one of WHATSAPP_INGEST_TOKEN); when "
            "WHATSAPP_INGEST_HMAC_SECRET is set, `X-Signature` (lowercase hex HMAC-SHA256 of "
            "`X-Signature-Timestamp` + '.' + the raw body) and `X-Signature-Timestamp` (UTC "
            "`YYYY-MM-DDTHH:MM:SSZ` or unix seconds, within WHATSAPP_INGEST_SIGNATURE_TTL_SECONDS). Each "
            "message is stored once (content hash window, message_id); a bad message is reported by index. "
            "See docs/whatsapp-ingest.md."
        ),
        request=_BatchSchema,
        parameters=[
            OpenApiParameter("X-Ingest-Token", str, OpenApiParameter.HEADER, required=True),
            OpenApiParameter("X-Signature", str, OpenApiParameter.HEADER, required=False),
            OpenApiParameter("X-Signature-Timestamp", str, OpenApiParameter.HEADER, required=False),
        ],
        responses={
            200: _ResultSchema,
            400: _refusal("Not a batch: invalid UTF-8 or JSON, nested too deep, no client_id or messages, more "
                          "than WHATSAPP_INGEST_MAX_MESSAGES messages."),
            401: _refusal("`invalid ingest token`."),
            403: _refusal("`invalid signature`, or an address outside WHATSAPP_INGEST_ALLOWED_IPS."),
            413: _refusal("The body is over WHATSAPP_INGEST_MAX_BODY_BYTES."),
            429: _refusal("`ingest rate limit exceeded`; wait `Retry-After` seconds."),
            503: _refusal("The database could not take the batch (nothing stored); send it again."),
        },
        examples=[OpenApiExample("The playbook's smoke test", value=SMOKE_BODY, request_only=True)],
        auth=[],
        tags=["whatsapp"],
    )
    def post(self, request):
        raw_request = request._request  # Django's request: its stream, unread
        meta = raw_request.META
        raw = b""
        try:
            auth.check_address(meta)
            auth.check_token(meta)
            raw = batches.read_body(raw_request)
            auth.check_signature(meta, raw)
            batch = batches.parse_batch(raw)
        except auth.Refused as refused:
            # Who it was, for operators finding a lagging collector in recent_failures: the client_id
            # the body claims (not verified: the request was refused) once the body was read, and
            # the address it came from.
            return self._refuse(refused.status, refused.detail, counted=refused.counters,
                                reason=f"{refused.reason} (from {auth.client_address(meta) or 'unknown address'})",
                                client_id=batches.claimed_client_id(raw))
        except batches.BodyTooLarge as exc:
            return self._refuse(413, str(exc))
        except batches.BadBatch as exc:
            return self._refuse(400, str(exc), client_id=batches.claimed_client_id(raw))
        decision = ratelimit.take(batch.client_id)
        if not decision.allowed:
            response = self._refuse(429, RATE_LIMITED, counted=("rate_limited",), client_id=batch.client_id,
                                    reason=f"{RATE_LIMITED} (retry after {decision.retry_after} s)")
            response["Retry-After"] = str(decision.retry_after)
            return response
        try:
            outcome = batches.ingest_batch(batch, request_id=self.request_id)
        except OperationalError as exc:  # SQLite's write lock held past its timeout, a dropped connection
            log.warning("WhatsApp ingest %s: database unavailable (%s)", self.request_id, exc)
            try:  # shown in recent_failures when the database takes it (it may still be busy)
                counters.record_failure(status=503, reason=f"database unavailable: {exc}"[:300],
                                        client_id=batch.client_id, request_id=self.request_id)
            except OperationalError:
                pass
            response = Response({"detail": "the database is busy; nothing of this batch was stored, send it again",
                                 "request_id": self.request_id}, status=503)
            response["Retry-After"] = "1"
            return response
        log.info("WhatsApp ingest %s: client %r, %d accepted, %d created, %d edited, %d deduped, %d skipped",
                 self.request_id, batch.client_id, outcome.accepted, outcome.created, outcome.edited, outcome.deduped,
                 len(outcome.errors))
        return Response({"request_id": self.request_id, **outcome.as_json()})

    def _refuse(self, status: int, detail: str, *, counted: tuple[str, ...] = (), reason: str = "",
                client_id: str = "") -> Response:
        """The JSON refusal; counted (``counted``) and remembered for ``recent_failures``."""
        if counted:
            counters.add(dict.fromkeys(counted, 1))
        counters.record_failure(status=status, reason=reason or detail, client_id=client_id, request_id=self.request_id)
        events.record("refusal", f"{status} {reason or detail}" + (f" (client {client_id!r})" if client_id else ""),
                      level=IngestEvent.Level.WARNING, request_id=self.request_id)
        log.warning("WhatsApp ingest %s refused %s: %s", self.request_id, status, reason or detail)
        return Response({"detail": detail, "request_id": self.request_id}, status=status)


ingest = IngestView.as_view()
