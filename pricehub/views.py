"""API views of the project itself (not of one app)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from pricehub.models import ApiToken


class WhoAmI(APIView):
    """``GET /api/whoami``: who the credentials of this request are, for scripts checking their
    token (``{"user": "ops", "auth": "token", "token": "ph_abc…", "scope": "read"}``; with a staff
    session, ``auth`` is "session" and ``token``/``scope`` are null). No database work beyond the
    authentication itself: the API's cheapest authenticated answer."""

    @extend_schema(responses=inline_serializer("WhoAmI", {
        "user": serializers.CharField(),
        "auth": serializers.ChoiceField(choices=["token", "session"]),
        "token": serializers.CharField(allow_null=True),
        "scope": serializers.CharField(allow_null=True),
    }))
    def get(self, request):
        token = request.auth if isinstance(request.auth, ApiToken) else None
        return Response({
            "user": request.user.get_username(),
            "auth": "token" if token else "session",
            "token": f"{token.key_prefix}…" if token else None,
            "scope": token.scope if token else None,
        })
