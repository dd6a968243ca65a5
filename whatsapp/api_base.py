"""What the WhatsApp API views share: JSON answers carrying a request id (the ingest and
extract-latest), and JSON errors with no caching (the metrics and the diagnostics)."""

from __future__ import annotations

import uuid

from django.utils.cache import patch_vary_headers
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.renderers import JSONRenderer


class RequestIdJSON:
    """A DRF view mixin: every answer is JSON (whatever ``Accept`` asks for) and carries a
    ``request_id`` (32 hex characters, ``self.request_id``) in its body when it is an error
    object, and in the ``X-Request-ID`` header."""

    def initialize_request(self, request, *args, **kwargs):
        self.request_id = uuid.uuid4().hex
        return super().initialize_request(request, *args, **kwargs)

    def perform_content_negotiation(self, request, force=False):
        return JSONRenderer(), JSONRenderer.media_type

    def handle_exception(self, exc):
        response = super().handle_exception(exc)  # 401, 405 and the like: DRF's answer, with the request id
        if isinstance(response.data, dict):
            response.data["request_id"] = self.request_id
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["X-Request-ID"] = self.request_id
        return response


class UncachedJSONErrors:
    """A DRF view mixin for the read-only views: a method the view does not take is a 405 before
    any authentication (refused for what it is, whoever sends it), errors are JSON whatever the
    request asked for (a text renderer renders only the view's own answers), no answer is
    cached, and caches tell answers apart by ``vary_headers`` (the credentials' headers and
    ``Accept``)."""

    vary_headers: tuple[str, ...] = ("Accept", "Cookie")

    def initial(self, request, *args, **kwargs):
        if request.method.lower() not in self.http_method_names:
            raise MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)

    def handle_exception(self, exc):
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        patch_vary_headers(response, self.vary_headers)
        return response
