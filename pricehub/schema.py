"""The OpenAPI schema's error answers, and JSON for the API's "not found".

drf-spectacular documents each operation's success; the errors every operation can give are
added here (``SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]``), so that a client, or a
schema fuzzer, finds each status it can receive in the schema: 400 (a parameter or body DRF
refuses: ``{"field": ["message"]}``), 401 and 403 (credentials), 404 (no such object, or a path
parameter that is not one), 429 (the rate limit, with ``Retry-After``). An operation's own
documented answer for one of them wins.
"""

from __future__ import annotations

from django.http import JsonResponse
from django.views.defaults import page_not_found

ERROR_SCHEMA = {
    "type": "object",
    "description": "``detail`` says what went wrong; a refused parameter or field is a key of its own "
                   "with a list of messages.",
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": True,
}
ERRORS = {
    "400": "A query parameter or body field is not valid.",
    "401": "No valid credentials.",
    "403": "The credentials do not allow this.",
    "404": "No such object.",
    "429": "Rate limit reached: retry after the Retry-After header's seconds.",
}
METHODS = ("get", "put", "post", "patch", "delete", "head", "options")


def document_errors(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: add ``ERRORS`` (JSON, ``ERROR_SCHEMA``) to every
    operation of the schema ``result`` that does not document that status itself."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("Error", ERROR_SCHEMA)
    reference = {"$ref": "#/components/schemas/Error"}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for status, description in ERRORS.items():
                responses.setdefault(status, {
                    "description": description, "content": {"application/json": {"schema": reference}},
                })
    return result


def not_found(request, exception=None):
    """``handler404``: JSON ``{"detail": "Not found."}`` outside the admin (the API's paths: a
    path parameter that is not a number does not reach the API's views), the admin's own
    page inside it."""
    if request.path.startswith("/admin/"):
        return page_not_found(request, exception)
    return JsonResponse({"detail": "Not found."}, status=404)
