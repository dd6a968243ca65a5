"""API tokens: make one (shown once), find the one a request sends, and authenticate with it.

A token is ``phk_`` followed by 43 URL-safe characters (32 random bytes from ``secrets``, 256
bits), so a SHA-256 hash of it is enough to store: nobody can guess a token back from its hash
and no salt or slow hash is needed (unlike passwords, the secret is not chosen by a person).
Requests send it as ``Authorization: Token <key>``, the scheme DRF's authtoken used, so
existing clients keep working.

Keys of DRF's authtoken (40 hex characters, stored in clear) are imported into ``ApiToken``
as ``write`` tokens by migration ``pricehub.0002``, and any made later (``drf_create_token``,
the authtoken admin) are imported on their first use; either way the clear copy is deleted.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import timedelta

from django.apps import apps
from django.db import DatabaseError, connections, router, transaction
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from pricehub.busy import short_sqlite_wait
from pricehub.models import ApiToken

log = logging.getLogger(__name__)

KEY_PREFIX = "phk_"
PREFIX_SHOWN = 12  # "phk_" and 8 characters: enough to tell tokens apart, far too few to guess from
LAST_USED_EVERY = timedelta(minutes=1)


def hash_key(key: str) -> str:
    """The hex SHA-256 of ``key`` (what ``ApiToken.key_hash`` stores)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def issue_token(user, *, name: str, scope: str = ApiToken.Scope.READ, expires_days: int | None = None,
                key: str | None = None) -> tuple[ApiToken, str]:
    """Make a token for ``user`` and return ``(token row, key)``; the key is not stored, so show
    it now. ``expires_days`` counts from now (``None``: never expires). ``key`` is for imports
    of existing keys only; by default a new random one is made. Raises ``ValueError`` for an
    unknown scope or a negative or zero ``expires_days``."""
    if scope not in ApiToken.Scope.values:
        raise ValueError(f"scope {scope!r} is not one of {', '.join(ApiToken.Scope.values)}")
    if expires_days is not None and expires_days < 1:
        raise ValueError(f"expires_days must be 1 or more, not {expires_days}")
    key = key or KEY_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name, scope=scope, key_prefix=key[:PREFIX_SHOWN], key_hash=hash_key(key))
    if expires_days is not None:
        token.expires_at = timezone.now() + timedelta(days=expires_days)
    token.save()
    return token, key


def set_key(token: ApiToken) -> str:
    """Give an unsaved ``token`` (the admin's add form) a new random key; return the key."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    token.key_prefix, token.key_hash = key[:PREFIX_SHOWN], hash_key(key)
    return key


def find_token(key: str) -> ApiToken | None:
    """The ``ApiToken`` whose hash is ``key``'s (with its user), or ``None``. The lookup is by
    hash, and the hashes are compared again in constant time (``hmac.compare_digest``)."""
    digest = hash_key(key)
    token = ApiToken.objects.select_related("user").filter(key_hash=digest).first()
    if token is None or not hmac.compare_digest(token.key_hash, digest):
        return import_legacy_key(key)
    return token


def import_legacy_key(key: str) -> ApiToken | None:
    """A key of DRF's authtoken table (made after migration ``pricehub.0002`` by
    ``drf_create_token`` or the authtoken admin) moved into ``ApiToken`` as a ``write`` token
    without expiry, its clear copy deleted; ``None`` when there is no such key."""
    if not apps.is_installed("rest_framework.authtoken") or len(key) != 40:
        return None
    from rest_framework.authtoken.models import Token

    with transaction.atomic():
        legacy = Token.objects.select_for_update().select_related("user").filter(key=key).first()
        if legacy is None:  # none, or another request moved it while this one waited for the lock
            return ApiToken.objects.select_related("user").filter(key_hash=hash_key(key)).first()
        token, _ = issue_token(legacy.user, name="imported from authtoken", scope=ApiToken.Scope.WRITE, key=key)
        legacy.delete()
    return token


def mark_used(token: ApiToken) -> None:
    """Record that ``token`` was used now, unless that was recorded less than a minute ago (one
    conditional UPDATE, so several workers write it at most once a minute between them). A
    database too busy to take it (SQLite: within ``API_SQLITE_WAIT_MS``, ``pricehub.busy``) is
    logged and the request goes on: it is bookkeeping."""
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_EVERY:
        return
    try:
        with short_sqlite_wait(connections[router.db_for_write(ApiToken)]):
            ApiToken.objects.filter(pk=token.pk).filter(
                Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_EVERY)
            ).update(last_used_at=now)
    except DatabaseError as exc:
        log.warning("API token %s: last use not recorded (%s)", token.key_prefix, exc)
        return
    token.last_used_at = now


class ApiTokenAuthentication(BaseAuthentication):
    """``Authorization: Token <key>``: the user of an ``ApiToken`` that is neither expired nor
    revoked; ``request.auth`` is the token (its ``scope`` is checked by
    ``pricehub.api.IsStaffOrTokenUser``). An unknown, expired or revoked token is a 401 saying
    which; unknown keys count against the client's address in the rate limit
    (``pricehub.throttling``), so keys cannot be guessed at full speed."""

    keyword = "Token"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("malformed Authorization header: send 'Authorization: Token <key>', the key "
                                       "without spaces")
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed("the token has characters no PriceHub token has") from None
        token = find_token(key)
        if token is None:
            from pricehub.throttling import count_anonymous

            count_anonymous(request)
            raise AuthenticationFailed("unknown API token: check the key, or ask an administrator for a new one")
        reason = token.refusal()
        if reason:
            raise AuthenticationFailed(reason)
        mark_used(token)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return self.keyword


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """The OpenAPI schema's description of ``ApiTokenAuthentication`` (drf-spectacular)."""

    target_class = "pricehub.tokens.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`, a key from the admin (API tokens) or `manage.py create_api_token`. "
                           "Scope `read` may GET only; `write` may upload. Over API_RATE_LIMIT_PER_MINUTE "
                           "requests a minute: 429 with Retry-After.",
        }
