"""All settings, read from the environment (and `.env` when present) in this one module.

Every variable is listed in `.env.example`. Nothing but settings is built here: no clients, no I/O
beyond reading `.env` and the development secrets file.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
_ENV_FILE = Path(os.environ.get("ENV_FILE", BASE_DIR / ".env"))
if _ENV_FILE.is_file():
    env.read_env(str(_ENV_FILE), overwrite=False)


def _number(name: str, default, kind=int):
    """An int or float setting; empty means the default, a bad value stops start-up with its name."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None


DEBUG = env.bool("DEBUG", default=True)
VERSION = "0.1.0"
SERVICE_NAME = "anthropic-gateway"

# --- secrets --------------------------------------------------------------------------------
# In development (DEBUG on) a missing secret is generated once into .secrets/ (git-ignored).
# With DEBUG off it is a system check error (proxy.E001) at start-up, never a crash later.
SECRETS_DIR = Path(env.str("SECRETS_DIR", default="") or BASE_DIR / ".secrets")
MISSING_SECRETS: list[str] = []


def _dev_secret(name: str, make) -> str:
    value = env.str(name, default="")
    if value:
        return value
    path = SECRETS_DIR / name.lower()
    if path.is_file():
        return path.read_text().strip()
    if not DEBUG:
        MISSING_SECRETS.append(name)
        return ""
    SECRETS_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    value = make()
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value


SECRET_KEY = _dev_secret("SECRET_KEY", lambda: secrets.token_urlsafe(50)) or "missing-" + secrets.token_hex(16)
# Comma-separated Fernet keys: the first encrypts, all decrypt (rotation, see README).
PROXY_ENCRYPTION_KEY = _dev_secret("PROXY_ENCRYPTION_KEY", lambda: Fernet.generate_key().decode())

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- serving --------------------------------------------------------------------------------
HOST = env.str("HOST", default="0.0.0.0")
PORT = _number("PORT", 8082)
WORKERS = _number("WORKERS", os.cpu_count() or 1)
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()

# --- clients and upstreams ------------------------------------------------------------------
AUTH_MODE = env.str("AUTH_MODE", default="keys")  # "keys" or "open" (single-user local setup)
ANTHROPIC_API_KEY = env.str("ANTHROPIC_API_KEY", default="")
REQUEST_TIMEOUT = _number("REQUEST_TIMEOUT", 90.0, float)
CONNECT_TIMEOUT = _number("CONNECT_TIMEOUT", 10.0, float)
UPSTREAM_CA_BUNDLE = env.str("UPSTREAM_CA_BUNDLE", default="")  # PEM of CAs for upstream TLS; empty: certifi's
PING_INTERVAL = _number("PING_INTERVAL", 10.0, float)
SHUTDOWN_GRACE = _number("SHUTDOWN_GRACE", 20.0, float)  # in-flight streams' time to finish on SIGTERM
RETRY_DEADLINE = _number("RETRY_DEADLINE", 60.0, float)  # all retries and fallbacks of one request
RETRY_MAX_WAIT = _number("RETRY_MAX_WAIT", 20.0, float)  # a longer retry-after is returned, not waited
MAX_BODY_BYTES = _number("MAX_BODY_BYTES", 32 * 1024 * 1024)
CACHE_SECONDS = _number("CACHE_SECONDS", 5.0, float)  # keys and routes on the hot path
LOG_BODIES = env.str("LOG_BODIES", default="off")  # off | errors | all
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")  # /metrics needs this bearer token; empty: off

# Classic single-user setup (the FastAPI proxies this replaces): see routing/env_sync.py.
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="")
OPENAI_PROFILE = env.str("OPENAI_PROFILE", default="")
AZURE_API_VERSION = env.str("AZURE_API_VERSION", default="")
BIG_MODEL = env.str("BIG_MODEL", default="gpt-4o")
MIDDLE_MODEL = env.str("MIDDLE_MODEL", default="") or BIG_MODEL
SMALL_MODEL = env.str("SMALL_MODEL", default="gpt-4o-mini")
MAX_TOKENS_LIMIT = _number("MAX_TOKENS_LIMIT", 0) or None
CUSTOM_HEADERS = {
    key[len("CUSTOM_HEADER_") :].replace("_", "-"): value
    for key, value in os.environ.items()
    if key.startswith("CUSTOM_HEADER_") and value
}

# --- local state ----------------------------------------------------------------------------
# Files this host's workers share: the usage journal (journal/) and, without Redis, the limit
# counters (limits.sqlite3). Must be on a local disk, writable, and the same for every worker.
STATE_DIR = Path(env.str("STATE_DIR", default="") or BASE_DIR / "var")

# --- usage log ------------------------------------------------------------------------------
USAGE_FLUSH_SECONDS = _number("USAGE_FLUSH_SECONDS", 1.0, float)
USAGE_BATCH_SIZE = _number("USAGE_BATCH_SIZE", 500)
USAGE_QUEUE_MAX = _number("USAGE_QUEUE_MAX", 100_000)
# The usage journal (api/accounting/journal.py): a segment is sealed at this size or age, and deleted
# once all its rows are committed.
JOURNAL_SEGMENT_BYTES = _number("JOURNAL_SEGMENT_BYTES", 16 * 1024 * 1024)
JOURNAL_SEGMENT_SECONDS = _number("JOURNAL_SEGMENT_SECONDS", 60.0, float)

# --- Django ---------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "routing",
    "api",
]

MIDDLEWARE = [
    "api.http.middleware.ApiPathMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The API paths (/v1/, /health, /metrics, /, /test-connection) run through proxy_site.handlers with
# only these: no sessions, CSRF, auth or messages, whose sync hooks would cost a thread hop each.
API_MIDDLEWARE = ["api.http.middleware.ApiPathMiddleware"]

ROOT_URLCONF = "proxy_site.urls"
ASGI_APPLICATION = "proxy_site.asgi.application"
APPEND_SLASH = False

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

DATABASE_URL = env.str("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
DATABASES = {"default": environ.Env.db_url_config(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the admin read while the usage writer writes; IMMEDIATE avoids lock upgrades.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHE_URL = env.str("CACHE_URL", default="") or env.str("REDIS_URL", default="") or "locmemcache://proxy"
CACHES = {"default": environ.Env.cache_url_config(CACHE_URL)}
CACHES["default"].setdefault("KEY_PREFIX", "gateway")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_BODY_BYTES

# The management API under /api/v1/ (routing/rest/, docs/management-api.md). JSON only, so an
# unauthenticated browser gets a JSON 401, never HTML. Token first: anonymous requests get 401.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "routing.rest.filters.Pagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

LOG_FORMAT = env.str("LOG_FORMAT", default="plain")  # plain | json
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "api.accounting.logs.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "api.accounting.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "django.db.backends": {"level": "INFO"},
    },
}
