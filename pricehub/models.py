"""API tokens for scripts: several per user, each with a scope, an expiry and a revocation.

Only a SHA-256 hash of each token is stored (``key_hash``); the token itself is shown once,
when it is made (``pricehub.tokens.issue_token``, the admin, ``manage.py create_api_token``).
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    """One script's credential, sent as ``Authorization: Token <key>``.

    ``scope`` ``read`` allows GET, HEAD and OPTIONS only; ``write`` allows every method the
    endpoint takes. A token stops working at ``expires_at`` (if set) or once ``revoked_at`` is
    set; ``last_used_at`` is refreshed at most once a minute (``pricehub.tokens``).
    """

    class Scope(models.TextChoices):
        READ = "read", "Read only (GET)"
        WRITE = "write", "Read and write"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What uses it, e.g. 'BI nightly export'.")
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.READ)
    key_prefix = models.CharField(
        max_length=16, editable=False, help_text="The token's first characters, to tell tokens apart."
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False, help_text="SHA-256 of the token, hex.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-id"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…, {self.user})"

    def refusal(self, now: datetime | None = None) -> str:
        """Why this token may not be used now (revoked, expired, user inactive), or ``""``."""
        now = now or timezone.now()
        if self.revoked_at is not None:
            return (f"this API token ({self.key_prefix}…) was revoked on {self.revoked_at:%Y-%m-%d %H:%M} UTC; "
                    "ask an administrator for a new one")
        if self.expires_at is not None and self.expires_at <= now:
            return (f"this API token ({self.key_prefix}…) expired on {self.expires_at:%Y-%m-%d %H:%M} UTC; "
                    "ask an administrator for a new one")
        if not self.user.is_active:
            return f"the user {self.user} of this API token is inactive"
        return ""

    @property
    def state(self) -> str:
        """``active``, ``expired`` or ``revoked``: for lists."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        return "active"
