import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ApiToken",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(help_text="What uses it, e.g. 'BI nightly export'.", max_length=100)),
                ("scope", models.CharField(choices=[("read", "Read only (GET)"), ("write", "Read and write")],
                                           default="read", max_length=10)),
                ("key_prefix", models.CharField(editable=False, help_text="The token's first characters, to tell "
                                                "tokens apart.", max_length=16)),
                ("key_hash", models.CharField(editable=False, help_text="SHA-256 of the token, hex.", max_length=64,
                                              unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("expires_at", models.DateTimeField(blank=True, help_text="Empty: never expires.", null=True)),
                ("revoked_at", models.DateTimeField(blank=True, editable=False, null=True)),
                ("last_used_at", models.DateTimeField(blank=True, editable=False, null=True)),
                ("user", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="api_tokens",
                                           to=settings.AUTH_USER_MODEL)),
            ],
            options={"verbose_name": "API token", "ordering": ["-id"]},
        ),
    ]
