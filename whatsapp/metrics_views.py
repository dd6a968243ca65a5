"""``GET /metrics`` and ``GET /metrics/whatsapp``: the WhatsApp ingest's counters (``whatsapp.metrics``)
as JSON, or in Prometheus' text format for scrapers (``?format=prometheus``, or an ``Accept`` of
``text/plain`` or ``application/openmetrics-text``, answered with the 0.0.4 text format).

Who may read them: a staff session (active and staff), or a token of ``METRICS_TOKEN`` sent as
``Authorization: Bearer <token>`` or ``X-Metrics-Token: <token>`` (``X-Metrics-Token`` wins when
both are sent). Anything else is a 401 JSON ``{"detail"}`` with ``WWW-Authenticate: Bearer`` (a
signed-in user who is not staff: 403); requests without valid credentials count against their
address in the API's rate limit (``pricehub.throttling``). Answers are never cached
(``Cache-Control: no-store``); methods other than GET and HEAD are 405. Errors are always JSON.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.utils.mediatypes import _MediaType, media_type_matches
from rest_framework.views import APIView

from pricehub.api import StrictContentNegotiation, reject_unknown_parameters
from pricehub.throttling import count_anonymous
from whatsapp import metrics as metrics_data
from whatsapp.api_auth import StaffOrToken
from whatsapp.api_base import UncachedJSONErrors
from whatsapp.counters import NAMES

PROMETHEUS_FORMAT = "prometheus"


class MetricsToken:
    """``request.auth`` of a request that sent a valid metrics token (it acts for no user)."""

    def __repr__(self) -> str:
        return "<metrics token>"


class MetricsTokenAuthentication(BaseAuthentication):
    """A token of ``METRICS_TOKEN`` in ``X-Metrics-Token`` or ``Authorization: Bearer``, compared as
    bytes in constant time (``whatsapp.metrics.token_is_valid``). Returns ``None`` when the request
    sends neither header (or another ``Authorization`` scheme, such as an API ``Token``); raises
    ``AuthenticationFailed`` (401) for a wrong, empty or malformed one, after counting the request
    against its address in the rate limit."""

    def authenticate(self, request):
        candidate = self.candidate(request)
        if candidate is None:
            return None
        if metrics_data.token_is_valid(candidate):
            return AnonymousUser(), MetricsToken()
        count_anonymous(request)
        if not metrics_data.configured_tokens():
            raise AuthenticationFailed("metrics tokens are not enabled on this server (METRICS_TOKEN is not set): "
                                       "sign in with a staff account")
        raise AuthenticationFailed("invalid metrics token")

    @staticmethod
    def candidate(request) -> bytes | None:
        """The token bytes the request sends, or ``None`` when it sends none."""
        value = request.META.get("HTTP_X_METRICS_TOKEN")
        if value is not None:
            return metrics_data.header_bytes(value).strip()
        value = request.META.get("HTTP_AUTHORIZATION")
        if value is None:
            return None
        scheme, _, token = metrics_data.header_bytes(value).strip().partition(b" ")
        if scheme.lower() != b"bearer":
            return None
        return token.strip()

    def authenticate_header(self, request) -> str:
        return "Bearer"


class MetricsTokenScheme(OpenApiAuthenticationExtension):
    """The OpenAPI schema's description of ``MetricsTokenAuthentication`` (drf-spectacular)."""

    target_class = "whatsapp.metrics_views.MetricsTokenAuthentication"
    name = "metricsToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A token of METRICS_TOKEN (comma-separated: several during a rotation), as "
                           "`Authorization: Bearer <token>` or `X-Metrics-Token: <token>`.",
        }


class StaffOrMetricsToken(StaffOrToken):
    """A valid metrics token, or an active staff user's session."""

    token_class = MetricsToken
    purpose = "the metrics"
    token_hint = "a metrics token (Authorization: Bearer <token>, or X-Metrics-Token: <token>)"

    def anonymous_detail(self) -> str:
        if metrics_data.configured_tokens():
            return super().anonymous_detail()
        return "the metrics need a staff session (no METRICS_TOKEN is configured on this server)"


class PrometheusTextRenderer(BaseRenderer):
    """Prometheus' text format: the view hands over the text (``whatsapp.metrics.as_prometheus``)."""

    media_type = "text/plain"
    format = PROMETHEUS_FORMAT
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        return data.encode("utf-8")


class OpenMetricsRequestRenderer(PrometheusTextRenderer):
    """Scrapers asking for OpenMetrics get the 0.0.4 text format, which Prometheus reads as well
    (the answer's ``Content-Type`` says which format it is)."""

    media_type = "application/openmetrics-text"


def accepted_media_ranges(accept: str) -> list[str]:
    """The media ranges of an ``Accept`` header, most wanted first: by quality (``q``; a range with
    ``q=0`` is refused and left out; an unreadable ``q`` counts as 1), then by specificity
    (``text/plain;version=0.0.4`` before ``text/plain`` before ``text/*`` before ``*/*``), then in the
    header's order. DRF's own negotiation ignores ``q``."""
    ranked = []
    for index, media_range in enumerate(part.strip() for part in accept.split(",")):
        if not media_range:
            continue
        parsed = _MediaType(media_range)
        try:
            quality = float(parsed.params.get("q", "1"))
        except ValueError:
            quality = 1.0
        if quality > 0:
            ranked.append((-quality, -parsed.precedence, index, media_range))
    return [media_range for *_, media_range in sorted(ranked)]


class MetricsNegotiation(StrictContentNegotiation):
    """``?format=`` as everywhere in the API (an unknown one is a 400); otherwise the ``Accept``
    header by ``accepted_media_ranges``. When nothing it names is available (an empty or odd
    header), the answer is JSON rather than a 406: a metrics reader always gets the figures."""

    def select_renderer(self, request, renderers, format_suffix=None):
        wanted_format = format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        if wanted_format:
            renderers = self.filter_renderers(renderers, wanted_format)
        for media_range in accepted_media_ranges(request.META.get("HTTP_ACCEPT", "*/*")):
            for renderer in renderers:
                if media_type_matches(renderer.media_type, media_range):
                    return renderer, renderer.media_type
        return renderers[0], renderers[0].media_type


def _serializer(name: str, doc: str, fields: dict) -> type[serializers.Serializer]:
    return type(name, (serializers.Serializer,), {"__module__": __name__, "__doc__": doc, **fields})


def _counter_fields() -> dict:
    return {name: serializers.IntegerField(min_value=0) for name in NAMES}


# The JSON answer's shape, for the OpenAPI schema only (whatsapp.metrics.as_json builds it).
MetricsTotals = _serializer("WhatsAppMetricsTotals", "Counters over every chat.", _counter_fields())
ChatMetrics = _serializer("WhatsAppChatMetrics", "One chat's counters (chat_id: PriceHub's chat id).", {
    "chat_id": serializers.IntegerField(),
    "chat_title": serializers.CharField(allow_blank=True),
    "vendor": serializers.CharField(allow_null=True, allow_blank=True),
    **_counter_fields(),
    "last_seen_at": serializers.DateTimeField(allow_null=True),
    "message_count": serializers.IntegerField(min_value=0),
})
IngestFailure = _serializer("WhatsAppIngestFailure", "A refused ingest request or a failed attachment.", {
    "client_id": serializers.CharField(allow_blank=True),
    "chat_title": serializers.CharField(allow_blank=True),
    "status": serializers.IntegerField(),
    "reason": serializers.CharField(allow_blank=True),
    "request_id": serializers.CharField(allow_blank=True),
    "at": serializers.DateTimeField(),
})
WhatsAppMetrics = _serializer("WhatsAppMetrics", "The WhatsApp ingest's counters.", {
    "generated_at": serializers.DateTimeField(),
    "totals": MetricsTotals(),
    "chats_total": serializers.IntegerField(min_value=0, help_text="Every chat, listed or not."),
    "chats_listed_max": serializers.IntegerField(help_text="The most chats `chats` lists (the most recently seen)."),
    "chats": ChatMetrics(many=True),
    "recent_failures": IngestFailure(many=True, help_text="The latest 50, newest first."),
})
MetricsErrorDetail = _serializer("MetricsErrorDetail", "Why the request was refused.", {
    "detail": serializers.CharField(),
})


class Metrics(UncachedJSONErrors, APIView):
    """The WhatsApp ingest's counters: JSON, or Prometheus' text format (see the module's docstring)."""

    authentication_classes = [MetricsTokenAuthentication, SessionAuthentication]  # Bearer first: the 401's header
    permission_classes = [StaffOrMetricsToken]
    renderer_classes = [JSONRenderer, PrometheusTextRenderer, OpenMetricsRequestRenderer]
    content_negotiation_class = MetricsNegotiation
    http_method_names = ["get", "head"]

    vary_headers = ("Accept", "Authorization", "Cookie", "X-Metrics-Token")

    @extend_schema(
        summary="WhatsApp ingest counters (JSON or Prometheus text)",
        description="Totals, per-chat counters (the 500 most recently seen chats; `chats_total` counts them all) "
                    "and the latest 50 refused requests or failed attachments. `?format=prometheus`, or an "
                    "`Accept` of `text/plain` or `application/openmetrics-text`, answers the same counters in "
                    "Prometheus' text format 0.0.4. Access: a staff session, or a METRICS_TOKEN token as "
                    "`Authorization: Bearer <token>` or `X-Metrics-Token: <token>`. Never cached.",
        parameters=[OpenApiParameter("format", str, enum=["json", PROMETHEUS_FORMAT], required=False,
                                     description="`prometheus` for the text format; JSON otherwise.")],
        responses={
            (200, "application/json"): WhatsAppMetrics,
            (200, "text/plain"): OpenApiTypes.STR,
            (400, "application/json"): OpenApiResponse(
                description="A `format` other than json or prometheus, or an unknown query parameter."),
            (401, "application/json"): OpenApiResponse(
                MetricsErrorDetail, description="No staff session and no valid metrics token."),
            (403, "application/json"): OpenApiResponse(MetricsErrorDetail, description="Signed in, but not as staff."),
            (429, "application/json"): OpenApiResponse(
                MetricsErrorDetail, description="Too many requests (API_RATE_LIMIT_PER_MINUTE)."),
        },
    )
    def get(self, request):
        reject_unknown_parameters(request, ())
        snapshot = metrics_data.collect()
        if request.accepted_renderer.format == PROMETHEUS_FORMAT:
            return Response(metrics_data.as_prometheus(snapshot), content_type=metrics_data.PROMETHEUS_CONTENT_TYPE)
        return Response(metrics_data.as_json(snapshot))



metrics = Metrics.as_view()
