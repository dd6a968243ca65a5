"""Move the keys of DRF's authtoken table into ApiToken: hashed, scope ``write`` (they could
write before), no expiry, named "imported from authtoken"; then delete the clear copies.

Read with SQL, not through the authtoken app, so this migration does not depend on it (the app
may be removed from INSTALLED_APPS later); a database without that table has nothing to move.
"""

import hashlib
from datetime import timezone as dt_timezone

from django.db import migrations
from django.utils import timezone
from django.utils.dateparse import parse_datetime

LEGACY_TABLE = "authtoken_token"


def import_keys(apps, schema_editor):
    connection = schema_editor.connection
    if LEGACY_TABLE not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("pricehub", "ApiToken")
    with connection.cursor() as cursor:
        quote = connection.ops.quote_name
        cursor.execute(f"SELECT {quote('key')}, {quote('user_id')}, {quote('created')} FROM {quote(LEGACY_TABLE)}")
        rows = cursor.fetchall()
    for key, user_id, created in rows:
        if isinstance(created, str):  # SQLite without converters
            created = parse_datetime(created)
        if created is not None and timezone.is_naive(created):  # Django keeps UTC in SQLite
            created = timezone.make_aware(created, dt_timezone.utc)
        token = ApiToken.objects.create(
            user_id=user_id, name="imported from authtoken", scope="write", key_prefix=key[:12],
            key_hash=hashlib.sha256(key.encode("utf-8")).hexdigest(),
        )
        ApiToken.objects.filter(pk=token.pk).update(created_at=created)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {connection.ops.quote_name(LEGACY_TABLE)}")


class Migration(migrations.Migration):

    dependencies = [("pricehub", "0001_initial")]

    operations = [migrations.RunPython(import_keys, migrations.RunPython.noop)]
