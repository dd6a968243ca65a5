import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from pricehub.env import env_bool, env_int, env_list, env_str

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("raw,expected", [("true", True), ("1", True), ("YES", True), ("on", True),
                                          ("false", False), ("0", False), ("No", False), ("off", False)])
def test_env_bool_reads_the_usual_spellings(raw, expected):
    assert env_bool("X", not expected, {"X": raw}) is expected


def test_env_bool_rejects_a_typo_instead_of_reading_false():
    with pytest.raises(ImproperlyConfigured, match="ENABLE_OPENAI='ture' is not a boolean"):
        env_bool("ENABLE_OPENAI", False, {"ENABLE_OPENAI": "ture"})


def test_env_bool_unset_or_blank_is_the_default():
    assert env_bool("X", True, {}) is True
    assert env_bool("X", False, {"X": "  "}) is False


def test_env_int_parses_and_checks_bounds():
    assert env_int("N", 5, {"N": " 42 "}) == 42
    assert env_int("N", 5, {}) == 5
    with pytest.raises(ImproperlyConfigured, match="N='4x' is not a whole number"):
        env_int("N", 5, {"N": "4x"})
    with pytest.raises(ImproperlyConfigured, match="must be at least 1"):
        env_int("N", 5, {"N": "0"}, minimum=1)


def test_env_list_and_str():
    assert env_list("H", [], {"H": "a.example, b.example,,"}) == ["a.example", "b.example"]
    assert env_list("H", ["x"], {}) == ["x"]
    assert env_str("S", "d", {"S": " v "}) == "v"


def _django_setup(env: dict, *extra_args: str) -> subprocess.CompletedProcess:
    # A clean environment: none of the variables the test settings set for the suite.
    set_by_suite = ("DJANGO_", "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "SECURE_", "DATABASE_URL", "REDIS_URL")
    base = {k: v for k, v in os.environ.items() if not k.startswith(set_by_suite)}
    base.update(env)
    base["DJANGO_SETTINGS_MODULE"] = "pricehub.settings"
    args = extra_args or ("check",)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=base, capture_output=True, text=True, timeout=120
    )


def test_production_without_secret_key_refuses_to_start():
    result = _django_setup({"DEBUG": "false", "ALLOWED_HOSTS": "example.com"})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_production_without_allowed_hosts_refuses_to_start():
    result = _django_setup({"DEBUG": "false", "SECRET_KEY": "k" * 60})
    assert result.returncode != 0
    assert "ALLOWED_HOSTS is empty" in result.stderr


def test_bad_boolean_in_environment_stops_start_up():
    result = _django_setup({"DEBUG": "maybe"})
    assert result.returncode != 0
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def test_a_bad_ingest_allowlist_entry_stops_start_up_naming_it():
    result = _django_setup({"DEBUG": "true", "WHATSAPP_INGEST_ALLOWED_IPS": "127.0.0.1, 10.0.0.0/33"})
    assert result.returncode != 0
    assert "WHATSAPP_INGEST_ALLOWED_IPS: '10.0.0.0/33' is not an IP address or CIDR" in result.stderr


def test_check_deploy_is_clean_with_the_documented_production_settings():
    env = {
        "DEBUG": "false",
        "SECRET_KEY": "s3cr3t-" + "q8Zr1xV0pL" * 6,
        "ALLOWED_HOSTS": "pricehub.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://pricehub.example.com",
    }
    result = _django_setup(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr


def test_sqlite_default_shares_the_file_safely(settings):
    if os.environ.get("DATABASE_URL"):
        pytest.skip("the suite runs on PostgreSQL")
    options = settings.DATABASES["default"]["OPTIONS"]
    assert options["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in options["init_command"]
    assert settings.DATABASES["default"]["ENGINE"] == "pricehub.sqlite"  # writers wait in small steps
    assert options["write_lock_timeout"] == 10


def test_database_url_selects_postgresql():
    result = _django_setup(
        {"DEBUG": "true", "DATABASE_URL": "postgres://u:p@db.internal:5433/pricehub"},
        "shell", "--no-imports", "-c", "from django.conf import settings; d=settings.DATABASES['default']; "
        "print(d['ENGINE'], d['HOST'], d['PORT'], d['NAME'])",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.postgresql", "db.internal", "5433", "pricehub"]


def test_redis_url_moves_cache_and_broker_to_redis():
    result = _django_setup(
        {"DEBUG": "true", "REDIS_URL": "redis://127.0.0.1:6379/3"},
        "shell", "--no-imports", "-c", "from django.conf import settings; "
        "print(settings.CACHES['default']['BACKEND'], settings.Q_CLUSTER.get('redis'), 'orm' in settings.Q_CLUSTER)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.core.cache.backends.redis.RedisCache", "redis://127.0.0.1:6379/3", "False"]


def test_playbook_variables_have_documented_defaults(settings):
    assert settings.WHATSAPP_INGEST_SIGNATURE_TTL_SECONDS == 300
    assert settings.INGESTION_STORAGE_DIR.is_absolute()
    for name in [
        "ENABLE_OPENAI", "OPENAI_API_KEY", "WHATSAPP_INGEST_TOKEN", "WHATSAPP_INGEST_HMAC_SECRET",
        "WHATSAPP_INGEST_RATE_LIMIT_PER_MINUTE", "WHATSAPP_INGEST_RATE_LIMIT_BURST",
        "WHATSAPP_CONTENT_HASH_WINDOW_HOURS", "WHATSAPP_EXTRACT_DEBOUNCE_SECONDS",
    ]:
        assert hasattr(settings, name), name
    readme = (ROOT / "README.md").read_text()
    for name in ["INGESTION_STORAGE_DIR", "ENABLE_OPENAI", "OPENAI_API_KEY", "WHATSAPP_INGEST_TOKEN",
                 "WHATSAPP_INGEST_HMAC_SECRET", "WHATSAPP_INGEST_RATE_LIMIT_PER_MINUTE",
                 "WHATSAPP_INGEST_RATE_LIMIT_BURST", "WHATSAPP_CONTENT_HASH_WINDOW_HOURS",
                 "WHATSAPP_EXTRACT_DEBOUNCE_SECONDS", "WHATSAPP_INGEST_SIGNATURE_TTL_SECONDS",
                 "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG"]:
        assert f"`{name}`" in readme, f"{name} missing from the README configuration table"


def test_task_timeout_is_below_redelivery(settings):
    q = settings.Q_CLUSTER
    assert q["timeout"] < q["retry"]
    assert q["max_attempts"] >= 1
