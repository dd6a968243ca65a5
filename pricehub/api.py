"""API plumbing shared by every endpoint: who may call (tokens: ``pricehub.tokens``; rate
limit: ``pricehub.throttling``), how lists page, and which query parameters a list takes (an
unknown one is a 400 listing the valid ones, never ignored)."""

from __future__ import annotations

from collections.abc import Iterable

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, ValidationError
from rest_framework.filters import BaseFilterBackend, OrderingFilter
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.settings import api_settings

from pricehub.models import ApiToken
from pricehub.throttling import count_anonymous


class IsStaffOrTokenUser(BasePermission):
    """Scripts authenticate with an API token (``pricehub.tokens``); browsers with a staff
    session. A ``read`` token may only GET, HEAD and OPTIONS: any other method is a 403 saying
    the token is read-only. A request without credentials counts against its address in the
    rate limit before its 401 (``pricehub.throttling``)."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            count_anonymous(request)
            return False
        token = request.auth
        if isinstance(token, ApiToken) and token.scope != ApiToken.Scope.WRITE and request.method not in SAFE_METHODS:
            raise PermissionDenied(
                f"this API token ({token.key_prefix}…) is read-only (scope 'read'): it may GET, HEAD and OPTIONS; "
                f"{request.method} needs a token with scope 'write'"
            )
        return token is not None or user.is_staff


UPLOAD_PERMISSION = "documents.change_sourcedocument"


class CanUpload(BasePermission):
    """Uploads: a user who may change documents (``UPLOAD_PERMISSION``, as the admin's upload
    asks), by a staff session or by a ``write`` token of theirs (``IsStaffOrTokenUser`` refuses a
    ``read`` one): a token never does more than its user may. A token whose user lacks the
    permission gets a 403 naming the user and the permission."""

    message = ("uploading documents needs a 'write' API token or a staff session, of a user with the "
               f"change-document permission ({UPLOAD_PERMISSION})")

    def has_permission(self, request, view) -> bool:
        user, token = request.user, request.auth
        if not (user and user.is_authenticated):
            return False
        if isinstance(token, ApiToken) and token.scope != ApiToken.Scope.WRITE:
            return False
        if user.has_perm(UPLOAD_PERMISSION):
            return True
        if isinstance(token, ApiToken):
            raise PermissionDenied(
                f"this API token ({token.key_prefix}…) acts for the user {user.get_username()!r}, who may not "
                f"change documents ({UPLOAD_PERMISSION}): give the user that permission in the admin (Users), "
                "or use a token of a user who has it"
            )
        return False


class IdCursorPagination(CursorPagination):
    """Cursor pages, newest first, ``page_size`` up to 500; a bad ``page_size`` (above 500
    included) or ``cursor`` is a 400 saying so (DRF would quietly use the default or the
    maximum, or answer 404)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-id"

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None or raw == "":
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if size < 1:
            raise ValidationError({self.page_size_query_param: [f"{raw!r} is not a whole number from 1 to "
                                                                f"{self.max_page_size}"]})
        if size > self.max_page_size:
            raise ValidationError({self.page_size_query_param: [
                f"{size:,} is more than {self.max_page_size}, the most a page holds: ask for "
                f"{self.max_page_size} and follow the 'next' links"]})
        return size

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError({self.cursor_query_param: ["not a cursor this API gave out; follow the "
                                                             "next/previous links"]}) from None


class StrictContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, except that ``?format=`` naming no format of the endpoint (``xml``, or
    ``csv`` where there is no CSV) is a 400 naming ``format`` and the endpoint's formats; DRF
    answers 404 "Not found.", as if the path were wrong."""

    def filter_renderers(self, renderers, format):
        kept = [renderer for renderer in renderers if renderer.format == format]
        if not kept:
            formats = ", ".join(sorted({renderer.format for renderer in renderers}))
            raise ValidationError({api_settings.URL_FORMAT_OVERRIDE: [
                f"{format!r} is not a format of this endpoint; its formats: {formats}"]})
        return kept


class UnknownQueryParameter(APIException):
    """400: the request names a query parameter the endpoint does not take."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "unknown_parameter"


def reject_unknown_parameters(request, valid: Iterable[str]) -> None:
    """Raise ``UnknownQueryParameter`` (400) when the query string names a parameter not in
    ``valid`` (``format`` is always valid); the answer lists the valid ones."""
    allowed = set(valid) | {api_settings.URL_FORMAT_OVERRIDE}
    unknown = sorted(name for name in request.query_params if name not in allowed)
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        noun = "parameter" if len(unknown) == 1 else "parameters"
        raise UnknownQueryParameter({
            "detail": f"unknown query {noun} {names}; valid ones: {', '.join(sorted(allowed))}",
            "valid": sorted(allowed),
        })


def list_parameters(view) -> set[str]:
    """The query parameters a list view takes: its filterset's filters, its ordering and
    search parameters, its paginator's, and the view's own ``query_parameters``."""
    names = set(getattr(view, "query_parameters", ()))
    for backend in getattr(view, "filter_backends", ()):
        if issubclass(backend, DjangoFilterBackend) and getattr(view, "filterset_class", None):
            names |= set(view.filterset_class.base_filters)
        if issubclass(backend, OrderingFilter):
            names.add(backend.ordering_param)
        search_param = getattr(backend, "search_param", None)
        if search_param:
            names.add(search_param)
    paginator = getattr(view, "paginator", None)
    for attribute in ("cursor_query_param", "page_query_param", "page_size_query_param", "limit_query_param",
                      "offset_query_param"):
        value = getattr(paginator, attribute, None)
        if value:
            names.add(value)
    return names


class KnownQueryParameters(BaseFilterBackend):
    """First of a list view's filter backends: a query parameter the view does not take is a
    400 listing the valid ones (``list_parameters``), not silently ignored."""

    def filter_queryset(self, request, queryset, view):
        reject_unknown_parameters(request, list_parameters(view))
        return queryset


class StrictOrderingFilter(OrderingFilter):
    """``ordering`` as DRF reads it, except that a field not in ``ordering_fields`` is a 400
    listing the valid ones instead of being dropped."""

    def get_ordering(self, request, queryset, view):
        raw = request.query_params.get(self.ordering_param)
        if raw:
            valid = [name for name, _ in self.get_valid_fields(queryset, view, {"request": request})]
            wrong = [term.strip() for term in raw.split(",") if term.strip().lstrip("-") not in valid]
            if wrong:
                raise ValidationError({self.ordering_param: [
                    f"cannot order by {', '.join(repr(w) for w in wrong)}; valid: {', '.join(valid)} "
                    "(a leading - sorts descending)"
                ]})
        return super().get_ordering(request, queryset, view)
