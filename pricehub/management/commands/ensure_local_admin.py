"""Create a local superuser when the database has none, and say how to log in.

Used by ``make run`` on a fresh machine. The generated password is kept in
``.local-admin-password`` (git-ignored) so later runs can print it again.
"""

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

PASSWORD_FILE = Path(settings.BASE_DIR) / ".local-admin-password"


class Command(BaseCommand):
    help = "Create the local admin user if no superuser exists, and print how to log in."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--url", default="http://127.0.0.1:8000/admin/")

    def handle(self, *args, username, url, **options):
        User = get_user_model()
        if not User.objects.filter(is_superuser=True).exists():
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser(username=username, email="", password=password)
            PASSWORD_FILE.write_text(password + "\n")
            PASSWORD_FILE.chmod(0o600)
            self.stdout.write(self.style.SUCCESS(f"Created local admin user {username!r}."))
        if PASSWORD_FILE.exists() and User.objects.filter(username=username, is_superuser=True).exists():
            password = PASSWORD_FILE.read_text().strip()
            self.stdout.write(f"Admin: {url}  user: {username}  password: {password}")
        else:
            self.stdout.write(f"Admin: {url}  (log in with your existing superuser)")
