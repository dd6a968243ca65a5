"""PriceHub settings: everything comes from the environment.

For local development, variables may also be kept in the project's ``.env``
(git-ignored; ``make run`` writes it once with ``DEBUG=true`` and a generated
``SECRET_KEY``). Real environment variables win over the file; the file is read
from the project folder only (``PRICEHUB_ENV_FILE`` may name another file, or
``none``); production has no such file.

Unset, the project runs on the embedded default: SQLite (WAL, busy timeout,
IMMEDIATE transactions so the web and worker processes can share the file),
the database cache and django-q2 on the ORM broker. ``DATABASE_URL`` selects
PostgreSQL, ``REDIS_URL`` moves the cache and the task broker to Redis.
Every variable is listed, with its default, in README.md.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from pricehub.env import env_bool, env_file_path, env_int, env_list, env_str, load_env_file

BASE_DIR = Path(__file__).resolve().parent.parent
ENV_FILE = env_file_path(BASE_DIR)
load_env_file(ENV_FILE)

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY (50+ random characters) in the environment; for local "
            "development, `make run` writes a git-ignored .env with DEBUG=true and a generated key."
        )
    SECRET_KEY = "dev-only-secret-key-not-for-production-use-0123456789abcdef"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
if not ALLOWED_HOSTS and not DEBUG:
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS is empty. Set ALLOWED_HOSTS to the comma-separated host names this app serves."
    )
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# TLS terminated by a proxy (Railway, nginx): trust its X-Forwarded-Proto.
if env_bool("SECURE_PROXY_SSL_HEADER", not DEBUG):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",  # its templates render the filter forms of the browsable API
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_q",
    "pricehub",
    "offers",
    "documents",
    "ingestion",
    "whatsapp",
]

MIDDLEWARE = [
    # First: a request whose declared body is over the limits is refused before anything reads it.
    "pricehub.limits.RequestBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "pricehub.urls"
WSGI_APPLICATION = "pricehub.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0),
            conn_health_checks=True,
        )
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": Path(env_str("SQLITE_PATH", str(BASE_DIR / "db.sqlite3"))),
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's backend, with writers that wait for the write lock in 1-2 ms steps (pricehub.sqlite):
    # they get in between an ingest's batches instead of waiting seconds behind them. The log is
    # copied back into the database every 10,000 pages (40 MB; SQLite's default is 1,000), so an
    # ingest committing batch after batch does not pay a checkpoint every few batches.
    DATABASES["default"]["ENGINE"] = "pricehub.sqlite"
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=10000; "
                "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;"
            ),
            "transaction_mode": "IMMEDIATE",
            "write_lock_timeout": env_int("SQLITE_BUSY_TIMEOUT_MS", 10_000, minimum=0) / 1000,
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and task queue ------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "pricehub_cache"}}

# timeout < retry: a task that runs past `timeout` is killed before the broker
# would hand it out again, so no task runs twice by redelivery.
Q_TIMEOUT_SECONDS = env_int("Q_TIMEOUT_SECONDS", 600, minimum=1)
Q_CLUSTER = {
    "name": "pricehub",
    "workers": env_int("Q_WORKERS", 3, minimum=1),  # one of them runs the WhatsApp extraction loop (whatsapp.tasks)
    "timeout": Q_TIMEOUT_SECONDS,
    "retry": Q_TIMEOUT_SECONDS + 120,
    "max_attempts": 3,
    "ack_failures": False,
    "save_limit": 500,
    "catch_up": False,
    "poll": 1,
    "queue_limit": 50,
    "label": "Tasks",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Auth, API -------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Requests a minute per API token (per user for a staff session, per address without valid
# credentials); counted in the cache, so shared by every worker and host (pricehub.throttling).
API_RATE_LIMIT_PER_MINUTE = env_int("API_RATE_LIMIT_PER_MINUTE", 600, minimum=1)
API_RATE_LIMIT_CACHE = "default"
# On SQLite, how long an API request waits for the write lock for its bookkeeping (its rate-limit
# count, its token's last use); past it that is skipped with a warning (pricehub.busy).
API_SQLITE_WAIT_MS = env_int("API_SQLITE_WAIT_MS", 50, minimum=0)

REST_FRAMEWORK = {
    # Token first so that an anonymous request is answered 401 with
    # `WWW-Authenticate: Token` rather than 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "pricehub.tokens.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["pricehub.api.IsStaffOrTokenUser"],
    "DEFAULT_THROTTLE_CLASSES": ["pricehub.throttling.ApiRateThrottle"],
    # Proxies in front of the app whose X-Forwarded-For entries to skip to find a client's
    # address (the rate limit of requests without credentials); 0 trusts no such header.
    "NUM_PROXIES": env_int("API_NUM_PROXIES", 0, minimum=0),
    # JSON for scripts (and any client that does not ask for HTML); the browsable
    # API for a staff session in a browser. Both stay behind the same permission.
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PAGINATION_CLASS": "pricehub.api.IdCursorPagination",
    # ?format= naming no format of the endpoint is a 400 listing its formats (DRF answers 404).
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "pricehub.api.StrictContentNegotiation",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "PriceHub API",
    "DESCRIPTION": "Vendor offers, products, price history and ingested documents.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["pricehub.api.IsStaffOrTokenUser"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "pricehub.schema.document_errors",
    ],
}

# --- Internationalisation, static -------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Upload and body limits ----------------------------------------------------------
# Largest file an operator may upload or the CLI may ingest.
INGESTION_MAX_FILE_BYTES = env_int("INGESTION_MAX_FILE_BYTES", 50 * 1024 * 1024, minimum=1)
# What a request may carry beyond the largest file: multipart framing, the CSRF token, the form's fields.
INGESTION_UPLOAD_ALLOWANCE_BYTES = env_int("INGESTION_UPLOAD_ALLOWANCE_BYTES", 64 * 1024, minimum=0)
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 5 * 1024 * 1024, minimum=1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# --- PriceHub ---------------------------------------------------------------------------
_storage = Path(env_str("INGESTION_STORAGE_DIR", "./storage"))
INGESTION_STORAGE_DIR = (_storage if _storage.is_absolute() else BASE_DIR / _storage).resolve()

# Workbooks and CSV files past these are refused before they are loaded, naming the file, sheet and setting.
INGESTION_MAX_UNCOMPRESSED_BYTES = env_int("INGESTION_MAX_UNCOMPRESSED_BYTES", 2 * 1024**3, minimum=1024)
INGESTION_MAX_COMPRESSION_RATIO = env_int("INGESTION_MAX_COMPRESSION_RATIO", 100, minimum=2)
INGESTION_MAX_SHEET_ROWS = env_int("INGESTION_MAX_SHEET_ROWS", 2_000_000, minimum=1)
INGESTION_MAX_SHEET_CELLS = env_int("INGESTION_MAX_SHEET_CELLS", 40_000_000, minimum=1)
INGESTION_MAX_CSV_LINE_CHARS = env_int("INGESTION_MAX_CSV_LINE_CHARS", 1024 * 1024, minimum=100)

# Chats: a longer line keeps its start, a longer message is cut at a line end; both are reported.
INGESTION_MAX_LINE_CHARS = env_int("INGESTION_MAX_LINE_CHARS", 10_000, minimum=100)
INGESTION_MAX_MESSAGE_CHARS = env_int("INGESTION_MAX_MESSAGE_CHARS", 200_000, minimum=1000)

# A process ingesting a document renews its lease at least every third of this; a document whose
# lease has expired lost its process and is re-run (up to INGESTION_MAX_ATTEMPTS starts) or failed.
INGESTION_LEASE_SECONDS = env_int("INGESTION_LEASE_SECONDS", 60, minimum=1)
INGESTION_MAX_ATTEMPTS = env_int("INGESTION_MAX_ATTEMPTS", 2, minimum=1)
# SQLite: offers an ingest writes before it commits while no other writer waits for the lock (one
# that waits makes it commit at its next batch of 5,000). Fewer commits write the indexes less.
INGESTION_ROWS_PER_COMMIT = env_int("INGESTION_ROWS_PER_COMMIT", 50_000, minimum=1)

# PDFs and images (the document_text processor): past these a document fails, saying which limit
# (the file's size is INGESTION_MAX_FILE_BYTES). Pages are rendered for OCR at DOCUMENT_OCR_DPI.
DOCUMENT_MAX_PAGES = env_int("DOCUMENT_MAX_PAGES", 200, minimum=1)
DOCUMENT_MAX_PIXELS = env_int("DOCUMENT_MAX_PIXELS", 60_000_000, minimum=10_000)
DOCUMENT_OCR_DPI = env_int("DOCUMENT_OCR_DPI", 300, minimum=72)
# A PDF page's drawing instructions, decoded: a price list page holds kilobytes; a compression bomb, gigabytes.
DOCUMENT_MAX_PAGE_CONTENT_BYTES = env_int("DOCUMENT_MAX_PAGE_CONTENT_BYTES", 16 * 1024 * 1024, minimum=1024)
# Offline OCR (tesseract through tesserocr): languages as tesseract names them, joined by "+".
OCR_LANGUAGES = env_str("OCR_LANGUAGES", "eng")

# The LLM normalization pass and GPT vision (ingestion.llm): on only with ENABLE_OPENAI=true and a key.
ENABLE_OPENAI = env_bool("ENABLE_OPENAI", False)
OPENAI_API_KEY = env_str("OPENAI_API_KEY")
OPENAI_BASE_URL = env_str("OPENAI_BASE_URL")
OPENAI_MODEL = env_str("OPENAI_MODEL", "gpt-4o-mini")
OPENAI_TIMEOUT_SECONDS = env_int("OPENAI_TIMEOUT_SECONDS", 60, minimum=1)
OPENAI_MAX_RETRIES = env_int("OPENAI_MAX_RETRIES", 2, minimum=0)  # 429, 5xx, timeouts: the client's backoff
OPENAI_MAX_TOKENS = env_int("OPENAI_MAX_TOKENS", 4096, minimum=16)
OPENAI_MAX_INPUT_CHARS = env_int("OPENAI_MAX_INPUT_CHARS", 40_000, minimum=100)  # text per call
OPENAI_MAX_CALLS_PER_DOCUMENT = env_int("OPENAI_MAX_CALLS_PER_DOCUMENT", 20, minimum=1)

WHATSAPP_INGEST_TOKEN = env_str("WHATSAPP_INGEST_TOKEN")
WHATSAPP_INGEST_HMAC_SECRET = env_str("WHATSAPP_INGEST_HMAC_SECRET")
WHATSAPP_INGEST_RATE_LIMIT_PER_MINUTE = env_int("WHATSAPP_INGEST_RATE_LIMIT_PER_MINUTE", 60, minimum=1)
WHATSAPP_INGEST_RATE_LIMIT_BURST = env_int("WHATSAPP_INGEST_RATE_LIMIT_BURST", 20, minimum=1)
WHATSAPP_CONTENT_HASH_WINDOW_HOURS = env_int("WHATSAPP_CONTENT_HASH_WINDOW_HOURS", 24, minimum=0)
WHATSAPP_EXTRACT_DEBOUNCE_SECONDS = env_int("WHATSAPP_EXTRACT_DEBOUNCE_SECONDS", 30, minimum=0)
# A chat that never goes quiet is extracted at the latest this long after its first pending message.
WHATSAPP_EXTRACT_MAX_WAIT_SECONDS = env_int("WHATSAPP_EXTRACT_MAX_WAIT_SECONDS", 300, minimum=0)
WHATSAPP_INGEST_SIGNATURE_TTL_SECONDS = env_int("WHATSAPP_INGEST_SIGNATURE_TTL_SECONDS", 300, minimum=1)
# Optional ingress allowlist (comma-separated addresses or CIDRs; empty: any address), and how many
# proxies in front of the app append to X-Forwarded-For (0: the peer address is the client's).
WHATSAPP_INGEST_ALLOWED_IPS = env_list("WHATSAPP_INGEST_ALLOWED_IPS")
for _entry in WHATSAPP_INGEST_ALLOWED_IPS:
    try:
        ipaddress.ip_network(_entry, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"WHATSAPP_INGEST_ALLOWED_IPS: {_entry!r} is not an IP address or CIDR (e.g. 203.0.113.7, 10.0.0.0/24)"
        ) from None
WHATSAPP_INGEST_TRUSTED_PROXIES = env_int("WHATSAPP_INGEST_TRUSTED_PROXIES", 0, minimum=0)
WHATSAPP_INGEST_MAX_BODY_BYTES = env_int("WHATSAPP_INGEST_MAX_BODY_BYTES", 20 * 1024 * 1024, minimum=1024)
WHATSAPP_INGEST_MAX_MESSAGES = env_int("WHATSAPP_INGEST_MAX_MESSAGES", 500, minimum=1)
WHATSAPP_MEDIA_MAX_BYTES = env_int("WHATSAPP_MEDIA_MAX_BYTES", 10 * 1024 * 1024, minimum=1)
# Read access to /metrics and /metrics/whatsapp without a staff session (comma-separated, for rotation).
METRICS_TOKEN = env_str("METRICS_TOKEN")

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # Django's default config gives "django" a console handler of its own (when DEBUG) that
    # also propagates to the root: every django.* line was printed twice. Root prints it once.
    # "django.server" (runserver's request lines) keeps its own handler and does not propagate.
    "loggers": {"django": {"handlers": [], "level": LOG_LEVEL, "propagate": True}},
}

# The currency of a price that names none, when neither --currency nor the
# vendor's default gives one. Offers that fell back on it are counted in the
# document's stats (currency_defaulted) and marked in their extra.
DEFAULT_CURRENCY = env_str("DEFAULT_CURRENCY", "USD").upper()
# A vendor's current offer for a product is its latest one observed within this many hours; older
# offers are history (the board, GET /products/{id}/offers/current).
OFFER_FRESHNESS_HOURS = env_int("OFFER_FRESHNESS_HOURS", 72, minimum=1)
# The currency the operators' exchange-rate table converts to, so that offers in several currencies
# compare on the board; without a rate an offer is compared only within its own currency.
EXCHANGE_BASE_CURRENCY = env_str("EXCHANGE_BASE_CURRENCY", DEFAULT_CURRENCY).upper()
