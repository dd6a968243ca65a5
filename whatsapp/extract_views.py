"""``POST /integrations/whatsapp/chats/{chat_id}/extract-latest``: extract a chat's pending messages now.

A thin view over ``whatsapp.extraction.extract_latest`` (synchronous, at most
``extraction.SYNC_MAX_MESSAGES`` messages; the poller extracts any rest). ``chat_id`` is PriceHub's
chat id (``/admin/whatsapp/{chat_id}``).

Who may call it: the WhatsApp ingest token in ``X-Ingest-Token`` (any value of
``WHATSAPP_INGEST_TOKEN``, compared as bytes in constant time: ``whatsapp.auth.check_token``; such
requests carry no session, so no CSRF token either), or a staff session of a user who may change
chats (``whatsapp.change_chat``), with Django's CSRF token as every session POST. Anything else:
401 (no or a wrong token, no session) or 403 (signed in, but not staff or without the
permission). Every answer is JSON with a ``request_id`` (also in ``X-Request-ID``)::

    200 {"chat_id", "extracted", "offers", "errors", "request_id"}
    404 {"detail", "request_id"}    no chat has this id
    401/403/415/429/503 {"detail", "request_id"}
"""

from __future__ import annotations

import logging

from django.db import OperationalError
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from whatsapp import extraction
from whatsapp.api_auth import IngestToken, IngestTokenAuthentication, StaffOrToken
from whatsapp.api_base import RequestIdJSON

log = logging.getLogger(__name__)

CHANGE_PERMISSION = "whatsapp.change_chat"
LARGEST_ID = 2 ** 63 - 1


class StaffOrIngestToken(StaffOrToken):
    staff_permission = CHANGE_PERMISSION
    purpose = "extracting a chat"


class ExtractLatestResult(serializers.Serializer):
    """What a run of extract-latest did."""

    chat_id = serializers.IntegerField(help_text="PriceHub's chat id.")
    extracted = serializers.IntegerField(help_text="Messages whose extraction finished now (offers found or none).")
    offers = serializers.IntegerField(help_text="Offers created now (a message's earlier offers are replaced).")
    errors = serializers.IntegerField(help_text="Messages whose extraction failed (see the chat's page).")
    request_id = serializers.CharField()


class ExtractLatestError(serializers.Serializer):
    """Why the request was refused."""

    detail = serializers.CharField()
    request_id = serializers.CharField(required=False, help_text="Absent only from the 404 of a path whose chat id "
                                                                 "is not a number (no view answered it).")


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ExtractLatestError, description=description)


class ExtractLatestView(RequestIdJSON, APIView):
    """Extract a chat's pending messages now (see the module's docstring)."""

    authentication_classes = [IngestTokenAuthentication, SessionAuthentication]  # the token first: the 401's header
    permission_classes = [StaffOrIngestToken]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser, FormParser, MultiPartParser]  # the body is not used; a session's CSRF check reads it
    http_method_names = ["post"]

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(
        operation_id="whatsapp_extract_latest",
        summary="Extract a WhatsApp chat's pending messages now",
        description=(
            "Runs the chat's extraction at once (what the worker does after the debounce): its pending "
            "messages (new or edited) go through the text offer extractor; each message's earlier offers are "
            "replaced. Synchronous and bounded; the worker extracts any rest. Access: the ingest token "
            "(`X-Ingest-Token`) or a staff session (with its CSRF token) allowed to change chats. See "
            "docs/whatsapp-extraction.md."
        ),
        request=None,
        parameters=[OpenApiParameter("chat_id", int, OpenApiParameter.PATH,
                                     description="PriceHub's chat id (/admin/whatsapp/{chat_id}).")],
        responses={
            200: ExtractLatestResult,
            401: _error("No valid ingest token and no session."),
            403: _error("Signed in, but not staff or not allowed to change chats; or a session POST without its "
                        "CSRF token."),
            404: _error("No chat has this id."),
            415: _error("A session's POST with a body of a type the view does not read (the CSRF check reads "
                        "form and JSON bodies); send none."),
            429: _error("Too many requests without valid credentials (API_RATE_LIMIT_PER_MINUTE)."),
            503: _error("The database was busy; nothing was changed, try again."),
        },
        tags=["whatsapp"],
    )
    def post(self, request, chat_id: int):
        if chat_id > LARGEST_ID:
            return self._answer(404, detail=f"no WhatsApp chat has id {chat_id}")
        trigger = "api token" if isinstance(request.auth, IngestToken) else f"api, {request.user.get_username()}"
        try:
            run = extraction.extract_latest(chat_id, trigger=trigger, max_messages=extraction.SYNC_MAX_MESSAGES)
        except extraction.ChatNotFound as exc:
            return self._answer(404, detail=str(exc))
        except OperationalError as exc:  # SQLite's write lock held past its timeout, a dropped connection
            log.warning("extract-latest %s: database unavailable (%s)", self.request_id, exc)
            response = self._answer(503, detail="the database is busy; try again (the worker extracts the chat anyway)")
            response["Retry-After"] = "1"
            return response
        return self._answer(200, chat_id=chat_id, extracted=run.extracted, offers=run.offers, errors=run.errors)

    def _answer(self, status: int, **data) -> Response:
        return Response({**data, "request_id": self.request_id}, status=status)


extract_latest = ExtractLatestView.as_view()
