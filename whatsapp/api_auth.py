"""Who may call the WhatsApp API views besides the ingest: the collectors' ingest token
(``X-Ingest-Token``, for the diagnostics and extract-latest) or a staff session.

One implementation for every such view: ``IngestTokenAuthentication`` (the token compared by
``whatsapp.auth.check_token``: every value of ``WHATSAPP_INGEST_TOKEN``, bytes, constant time)
and ``StaffOrToken`` (a view's permission: its token, or an active staff user, optionally holding
a permission; a signed-in user who is not is a 403, anyone else a 401 counted against the address
in the API's rate limit).
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated, PermissionDenied
from rest_framework.permissions import BasePermission

from pricehub.throttling import count_anonymous
from whatsapp import auth

TOKEN_HEADER = "X-Ingest-Token"


class IngestToken:
    """``request.auth`` of a request that sent a valid ingest token (it acts for no user)."""

    def __repr__(self) -> str:
        return "<ingest token>"


class IngestTokenAuthentication(BaseAuthentication):
    """The WhatsApp ingest token in ``X-Ingest-Token``. Returns ``None`` when the header is absent
    (a session may authenticate instead); raises ``AuthenticationFailed`` (401) for a wrong, empty
    or malformed one, or when no token is configured, after counting the request against its
    address in the rate limit. Refusals here move no ingest counter: they are not ingest requests."""

    def authenticate(self, request):
        if "HTTP_X_INGEST_TOKEN" not in request.META:
            return None
        try:
            auth.check_token(request.META)
        except auth.Refused as refused:
            count_anonymous(request)
            raise AuthenticationFailed(refused.reason) from None  # names the failure, never the token
        return AnonymousUser(), IngestToken()

    def authenticate_header(self, request) -> str:
        return TOKEN_HEADER


class IngestTokenScheme(OpenApiAuthenticationExtension):
    """The OpenAPI schema's description of ``IngestTokenAuthentication`` (drf-spectacular)."""

    target_class = "whatsapp.api_auth.IngestTokenAuthentication"
    name = "whatsappIngestToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": TOKEN_HEADER,
            "description": "A value of WHATSAPP_INGEST_TOKEN (comma-separated: several during a rotation), the "
                           "token the collectors ingest with.",
        }


class StaffOrToken(BasePermission):
    """A request authenticated by ``token_class``, or an active staff user (with ``staff_permission``
    when set). Subclasses name what is guarded (``purpose``, "the WhatsApp diagnostics") and how
    to send the token (``token_hint``)."""

    token_class: type = IngestToken
    staff_permission = ""
    purpose = "this endpoint"
    token_hint = "the ingest token (X-Ingest-Token: <a value of WHATSAPP_INGEST_TOKEN>)"

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, self.token_class):
            return True
        user = request.user
        if user and user.is_authenticated:
            if user.is_active and user.is_staff and (not self.staff_permission or user.has_perm(self.staff_permission)):
                return True
            if not (user.is_active and user.is_staff):
                raise PermissionDenied(f"{self.purpose}: for staff only, and this account is not staff (sign in "
                                       f"with a staff account, or send {self.token_hint})")
            raise PermissionDenied(f"{self.purpose}: this staff account lacks the permission {self.staff_permission} "
                                   f"(sign in with one that has it, or send {self.token_hint})")
        count_anonymous(request)
        raise NotAuthenticated(self.anonymous_detail())

    def anonymous_detail(self) -> str:
        """The 401's ``detail``."""
        return f"{self.purpose}: sign in with a staff session, or send {self.token_hint}"
