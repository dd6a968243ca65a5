"""``manage.py create_api_token USER [--scope read|write] [--expires-days N] [--name NAME]``:
make an API token for a script and print it once (stdout: the key alone, so a script can
capture it; stderr: what it is and when it expires). Only its hash is stored."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from pricehub.api import UPLOAD_PERMISSION
from pricehub.models import ApiToken
from pricehub.tokens import issue_token


class Command(BaseCommand):
    help = ("Create an API token for USER and print it once (only its hash is kept). Scripts send it as "
            "'Authorization: Token <key>'. Revoke or change its expiry in the admin under API tokens.")

    def add_arguments(self, parser):
        parser.add_argument("username", help="the user the token acts as (must exist and be active)")
        parser.add_argument("--scope", choices=ApiToken.Scope.values, default=ApiToken.Scope.READ,
                            help="read: GET only (BI scripts); write: uploads too. Default: read")
        parser.add_argument("--expires-days", type=int, default=None, metavar="N",
                            help="the token stops working N days from now (default: never)")
        parser.add_argument("--name", default="", help="what uses it, e.g. 'BI nightly export' (default: "
                                                       "'<scope> token from the command line')")

    def handle(self, *args, username, scope, expires_days, name, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}: create it in the admin (Users) or with createsuperuser first")
        if not user.is_active:
            raise CommandError(f"the user {username!r} is inactive: a token of theirs would be refused")
        try:
            token, key = issue_token(user, name=name or f"{scope} token from the command line", scope=scope,
                                     expires_days=expires_days)
        except ValueError as exc:
            raise CommandError(f"--expires-days: {exc}" if "expires_days" in str(exc) else str(exc)) from None
        expiry = f"expires {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else "never expires"
        if scope == ApiToken.Scope.WRITE and not user.has_perm(UPLOAD_PERMISSION):
            self.stderr.write(f"Note: {username} may not change documents ({UPLOAD_PERMISSION}), so this token "
                              "cannot upload until the user gets that permission in the admin (Users).")
        self.stderr.write(f"API token #{token.pk} {token.name!r} for {username}, scope {scope}, {expiry}. "
                          "Copy it now: it is not stored and cannot be shown again.")
        self.stdout.write(key)
