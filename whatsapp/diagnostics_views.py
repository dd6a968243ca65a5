"""``GET /chat/tools/diagnostics`` (JSON; ``?format=csv`` the same figures as a CSV download) and
``GET /chat/tools/diagnostics/log`` (the recent ingest and extraction log lines as a text
download): the views. What they answer is built by ``whatsapp.diagnostics``.

Who may read them: a staff session (active and staff), or the WhatsApp ingest token (a value of
``WHATSAPP_INGEST_TOKEN``) in ``X-Ingest-Token``, checked by ``whatsapp.auth.check_token`` (bytes,
constant time), so the synthetic harness polls with the token it ingests with. Nothing else: no
credentials, a wrong, empty or malformed token (whatever the session) is a 401 JSON ``{"detail"}``
with ``WWW-Authenticate: X-Ingest-Token``; a signed-in user who is not staff a 403, as for
``/metrics``. API tokens (``Authorization: Token``) do not open them. Requests without valid
credentials count against their address in the API's rate limit (``pricehub.throttling``). GET
and HEAD only (any other method is a 405, before the credentials are looked at); answers are
never cached (``Cache-Control: no-store``); errors are always JSON.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from offers.views import CSVRenderer, csv_response
from pricehub.api import reject_unknown_parameters
from whatsapp import diagnostics as diagnostics_data
from whatsapp.api_auth import TOKEN_HEADER, IngestTokenAuthentication, StaffOrToken
from whatsapp.api_base import UncachedJSONErrors
from whatsapp.metrics_views import MetricsNegotiation

class StaffOrIngestToken(StaffOrToken):
    purpose = "the WhatsApp diagnostics"


class PlainTextRenderer(BaseRenderer):
    """``text/plain`` for the log download: the view hands over the text."""

    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)


class DiagnosticsBase(UncachedJSONErrors, APIView):
    """What both views share: access, GET/HEAD only, JSON errors, never cached."""

    authentication_classes = [IngestTokenAuthentication, SessionAuthentication]  # first: the 401's header
    permission_classes = [StaffOrIngestToken]
    content_negotiation_class = MetricsNegotiation  # ?format= as everywhere; no 406 for an odd Accept
    http_method_names = ["get", "head"]

    vary_headers = ("Accept", "Cookie", TOKEN_HEADER)



def _serializer(name: str, doc: str, fields: dict) -> type[serializers.Serializer]:
    return type(name, (serializers.Serializer,), {"__module__": __name__, "__doc__": doc, **fields})


def _count(help_text: str = "") -> serializers.IntegerField:
    return serializers.IntegerField(min_value=0, help_text=help_text)


# The JSON answer's shape, for the OpenAPI schema only (whatsapp.diagnostics.as_json builds it).
DiagnosticsTotals = _serializer("WhatsAppDiagnosticsTotals", "Figures over every chat.", {
    "messages": _count("Messages stored (table)."),
    "pending": _count("Messages awaiting extraction (table)."),
    "extracted": _count("Messages whose extraction finished, extracted or no offers (counter)."),
    "errors": _count("Messages whose extraction failed (counter)."),
    "offers": _count("Offers made from messages (table)."),
    "chats": _count("Chats (table)."),
    "unmapped_chats": _count("Chats not mapped to a vendor (table)."),
    **{name: _count("Counter.") for name in ("accepted", "created", "deduped", "media_failed", "auth_failures",
                                              "forbidden", "rate_limited", "signature_failures")},
})
DiagnosticsLag = _serializer("WhatsAppDiagnosticsLag", "Ingest-to-extraction latency (seconds) of the messages "
                             "extracted in the last hour; null values when none.", {
    "p50": serializers.FloatField(allow_null=True, min_value=0),
    "p95": serializers.FloatField(allow_null=True, min_value=0),
    "max": serializers.FloatField(allow_null=True, min_value=0),
    "samples": _count("Messages the figures are computed over."),
})
DiagnosticsChat = _serializer("WhatsAppDiagnosticsChat", "One chat (chat_id: PriceHub's chat id).", {
    "chat_id": serializers.IntegerField(),
    "chat_title": serializers.CharField(allow_blank=True),
    "vendor": serializers.CharField(allow_null=True, allow_blank=True),
    "mapped": serializers.BooleanField(),
    "messages": _count(),
    "pending": _count(),
    "extracted": _count("Messages extracted or with no offers."),
    "offers": _count("Offers made from the chat's messages."),
    "errors": _count("Messages whose extraction failed."),
    "last_extracted_at": serializers.DateTimeField(allow_null=True),
    "extract_due_at": serializers.DateTimeField(allow_null=True),
    "lag_seconds": serializers.FloatField(allow_null=True, min_value=0,
                                          help_text="How long the oldest pending message has waited; null when "
                                                    "none is pending."),
})
WhatsAppDiagnostics = _serializer("WhatsAppDiagnostics", "The WhatsApp ingest's and extraction's figures.", {
    "generated_at": serializers.DateTimeField(),
    "totals": DiagnosticsTotals(),
    "lag_seconds": DiagnosticsLag(),
    "chats_total": _count("Every chat, listed or not."),
    "chats_listed_max": serializers.IntegerField(help_text="The most chats `chats` lists (the most recently seen)."),
    "chats": DiagnosticsChat(many=True),
})
DiagnosticsErrorDetail = _serializer("DiagnosticsErrorDetail", "Why the request was refused.", {
    "detail": serializers.CharField(),
})

ACCESS = ("Access: a staff session, or the WhatsApp ingest token (a value of WHATSAPP_INGEST_TOKEN) in "
          "`X-Ingest-Token`. Never cached.")
REFUSALS = {
    (400, "application/json"): OpenApiResponse(description="An unknown query parameter or `format`."),
    (401, "application/json"): OpenApiResponse(
        DiagnosticsErrorDetail, description="No staff session and no valid ingest token."),
    (403, "application/json"): OpenApiResponse(DiagnosticsErrorDetail, description="Signed in, but not as staff."),
    (429, "application/json"): OpenApiResponse(
        DiagnosticsErrorDetail, description="Too many requests (API_RATE_LIMIT_PER_MINUTE)."),
}


class Diagnostics(DiagnosticsBase):
    """The diagnostics as JSON, or as a CSV download with ``?format=csv`` (see the module's
    docstring and ``whatsapp.diagnostics``)."""

    renderer_classes = [JSONRenderer, CSVRenderer]

    @extend_schema(
        operation_id="whatsapp_diagnostics",
        summary="WhatsApp ingest and extraction diagnostics (JSON or CSV)",
        description="Totals (counters, and the tables' counts), the ingest-to-extraction latency of the last "
                    "hour, and per chat (the 500 most recently seen; `chats_total` counts them all) its "
                    "messages, pending, extracted, offers, errors, last extraction and lag. `?format=csv`: the "
                    "same as a CSV download (a TOTAL row, then one row per chat; text cells a spreadsheet "
                    "would run as a formula start with '). " + ACCESS,
        parameters=[OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv"], required=False,
                                     description="`csv` for the CSV download; JSON otherwise.")],
        responses={
            (200, "application/json"): WhatsAppDiagnostics,
            (200, "text/csv"): OpenApiTypes.STR,
            **REFUSALS,
        },
        tags=["whatsapp"],
    )
    def get(self, request):
        reject_unknown_parameters(request, ())
        snapshot = diagnostics_data.collect()
        if request.accepted_renderer.format == CSVRenderer.format:
            return csv_response(diagnostics_data.CSV_COLUMNS, diagnostics_data.csv_rows(snapshot),
                                diagnostics_data.csv_filename(snapshot))
        return Response(diagnostics_data.as_json(snapshot))


class DiagnosticsLog(DiagnosticsBase):
    """The recent log lines as a text download (``whatsapp.diagnostics.log_text``)."""

    renderer_classes = [PlainTextRenderer]

    @extend_schema(
        operation_id="whatsapp_diagnostics_log",
        summary="WhatsApp ingest and extraction log lines (text download)",
        description="The latest 500 lines, newest last, after a `#` header line: time (UTC), level, kind, chat id, "
                    "request id and message, separated by tabs (`-` for an empty field; tabs, line breaks and "
                    "backslashes inside a field escaped as \\t, \\n, \\r, \\\\). " + ACCESS,
        responses={(200, "text/plain"): OpenApiTypes.STR, **REFUSALS},
        tags=["whatsapp"],
    )
    def get(self, request):
        reject_unknown_parameters(request, ())
        now = timezone.now()
        response = HttpResponse(diagnostics_data.log_text(), content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{diagnostics_data.log_filename(now)}"'
        return response


diagnostics = Diagnostics.as_view()
diagnostics_log = DiagnosticsLog.as_view()
