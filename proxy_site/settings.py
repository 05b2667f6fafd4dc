"""All settings, read from the environment (and `.env` when present) in this one module.

Every variable is listed in `.env.example`. Nothing but settings is built here: no clients, no I/O
beyond reading `.env` and the development secrets file.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
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


def _flag(name: str, default: bool) -> bool:
    """A boolean setting; empty (as `.env.example` leaves some) means the default."""
    return env.bool(name, default=default) if os.environ.get(name, "").strip() else default


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

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- serving --------------------------------------------------------------------------------
AUTH_MODE = env.str("AUTH_MODE", default="keys")  # "keys" or "open" (single-user local setup)
# Debug pages and keyless access are for this machine only: with either, the default bind is loopback
# (an explicit HOST wins, with a warning), and in open mode the Host header must name this machine too,
# so a web page whose name resolves to 127.0.0.1 (DNS rebinding) cannot use the gateway.
LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
HOST = env.str("HOST", default="") or ("127.0.0.1" if DEBUG or AUTH_MODE == "open" else "0.0.0.0")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[]) or (LOOPBACK_HOSTS if AUTH_MODE == "open" else ["*"])
PORT = _number("PORT", 8082)
WORKERS = _number("WORKERS", os.cpu_count() or 1)
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()

# --- clients and upstreams ------------------------------------------------------------------
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
TEST_CONNECTION_PER_MINUTE = _number("TEST_CONNECTION_PER_MINUTE", 3)  # /test-connection calls per caller

# Classic single-user setup (the FastAPI proxies this replaces): see routing/env_sync.py.
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="")
OPENAI_PROFILE = env.str("OPENAI_PROFILE", default="")
AZURE_API_VERSION = env.str("AZURE_API_VERSION", default="")
BIG_MODEL = env.str("BIG_MODEL", default="gpt-4o")
MIDDLE_MODEL = env.str("MIDDLE_MODEL", default="") or BIG_MODEL
SMALL_MODEL = env.str("SMALL_MODEL", default="gpt-4o-mini")
MAX_TOKENS_LIMIT = _number("MAX_TOKENS_LIMIT", 0) or None
# --- hostile traffic (README "Hostile traffic") ------------------------------------------------
HEADER_TIMEOUT = _number("HEADER_TIMEOUT", 10.0, float)  # s for a request's headers (proxy_site/protocol.py)
MAX_HEADER_BYTES = _number("MAX_HEADER_BYTES", 64 * 1024)  # a request's line and headers: beyond, 431
BODY_TIMEOUT = _number("BODY_TIMEOUT", 60.0, float)  # s for a whole request body: beyond, 408
MAX_CONNECTIONS = _number("MAX_CONNECTIONS", 1000) or None  # per worker (uvicorn limit_concurrency): beyond, 503
AUTH_FAILURES_PER_MINUTE = _number("AUTH_FAILURES_PER_MINUTE", 20)  # wrong keys per address; then 429 (0: off)
AUTH_FAILURE_COOLDOWN = _number("AUTH_FAILURE_COOLDOWN", 60)  # s an address is refused after that
COUNT_TOKENS_MAX_BYTES = _number("COUNT_TOKENS_MAX_BYTES", 8 * 1024 * 1024)  # a body counted locally
COUNT_TOKENS_PER_MINUTE = _number("COUNT_TOKENS_PER_MINUTE", 300)  # per key, or per address without one (0: off)

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
# Raw usage rows older than this many days are deleted, at most once an hour per host, by the usage
# writer (routing/retention.py); rollups, budgets and usage to date stay. 0: keep them forever.
USAGE_RETENTION_DAYS = _number("USAGE_RETENTION_DAYS", 0)
# Seconds any one database statement of an admin page may run (PostgreSQL); beyond, the page is a 503.
ADMIN_STATEMENT_TIMEOUT = _number("ADMIN_STATEMENT_TIMEOUT", 30.0, float)
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
    "knox",
    "drf_spectacular",
    "axes",
    "mozilla_django_oidc",
    "routing",
    "api",
    "portal",
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
    # Every admin page's statements under ADMIN_STATEMENT_TIMEOUT (PostgreSQL).
    "routing.admin_timeout.AdminStatementTimeoutMiddleware",
    # Last, as django-axes asks: turns a locked-out admin login into its lock-out page.
    "axes.middleware.AxesMiddleware",
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
DATABASE_POOL_SIZE = env.int("DATABASE_POOL_SIZE", default=10)
if DATABASES["default"]["ENGINE"].endswith("postgresql") and DATABASE_POOL_SIZE and not DATABASES["default"].get(
    "CONN_MAX_AGE"
):
    # psycopg's pool, per process: a cache miss on the API path (a key, a budget's first read) borrows an
    # open connection instead of opening one (authentication costs ~10 ms each); 200 keys' first requests
    # at once no longer queue behind connection set-ups. `?conn_max_age=` in DATABASE_URL or 0 turns it off.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {"min_size": 1, "max_size": DATABASE_POOL_SIZE}
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

# --- behind an HTTPS reverse proxy (README "Running for a team") ----------------------------------
# One switch for the admin's cookies and redirects; each also has its own variable. The proxy must set
# (overwrite, never pass on) X-Forwarded-Proto, or a client could claim HTTPS itself.
BEHIND_HTTPS_PROXY = _flag("BEHIND_HTTPS_PROXY", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_HTTPS_PROXY else None
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = _flag("SECURE_COOKIES", BEHIND_HTTPS_PROXY)
SECURE_SSL_REDIRECT = _flag("SECURE_SSL_REDIRECT", BEHIND_HTTPS_PROXY)  # the admin; API paths never
SECURE_HSTS_SECONDS = _number("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if BEHIND_HTTPS_PROXY else 0)
# Django's deployment checks (run at start-up with DEBUG off) warn about each of these four: without an
# HTTPS proxy they cannot hold (there is no HTTPS to redirect to or pin), and API clients use no cookies.
# They are replaced by one warning that names the switch (proxy.W020, routing/checks.py).
SILENCED_SYSTEM_CHECKS = (
    [] if BEHIND_HTTPS_PROXY else ["security.W004", "security.W008", "security.W012", "security.W016"]
)

# The management API under /api/v1/ (routing/rest/, docs/management-api.md). JSON only, so an
# unauthenticated browser gets a JSON 401, never HTML. Token first: anonymous requests get 401.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "routing.rest.filters.Pagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
# Management API tokens (django-rest-knox): only a SHA-512 digest is stored; each expires.
# `manage.py create_api_token USERNAME --expires-days N` makes one (docs/management-api.md).
REST_KNOX = {
    "TOKEN_PREFIX": "sk-mgmt-",  # tells a leaked management token from a proxy key (sk-proxy-)
    "TOKEN_TTL": timedelta(days=30),
    "AUTO_REFRESH": False,
    "AUTH_HEADER_PREFIX": "Token",
}

# Admin sign-in throttled by django-axes: after ADMIN_LOGIN_FAILURES wrong passwords for one username
# from one address, that pair is refused (even the right password) for ADMIN_LOGIN_LOCKOUT_MINUTES.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "portal.auth.LocalPasswordBackend",  # Django's, within PORTAL_LOCAL_LOGIN and SSO_REQUIRED_FOR_STAFF
]
AXES_FAILURE_LIMIT = _number("ADMIN_LOGIN_FAILURES", 5)
AXES_COOLOFF_TIME = timedelta(minutes=_number("ADMIN_LOGIN_LOCKOUT_MINUTES", 15, float))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"

# --- portal and single sign-on (README "Portal and single sign-on") ----------------------------
# With no portal policy in the admin: may users create their own keys? Local passwords for users who
# are neither staff nor superusers; staff must use single sign-on (superusers never lose their password).
PORTAL_SELF_SERVICE_KEYS = _flag("PORTAL_SELF_SERVICE_KEYS", True)
PORTAL_LOCAL_LOGIN = _flag("PORTAL_LOCAL_LOGIN", True)
SSO_REQUIRED_FOR_STAFF = _flag("SSO_REQUIRED_FOR_STAFF", False)
PORTAL_GATEWAY_URL = env.str("PORTAL_GATEWAY_URL", default="").rstrip("/")  # in setup lines; empty: this site
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "portal:login"
# OpenID Connect (mozilla-django-oidc): the endpoints of the provider's /.well-known/openid-configuration.
OIDC_OP_AUTHORIZATION_ENDPOINT = env.str("OIDC_OP_AUTHORIZATION_ENDPOINT", default="")
OIDC_OP_TOKEN_ENDPOINT = env.str("OIDC_OP_TOKEN_ENDPOINT", default="")
OIDC_OP_USER_ENDPOINT = env.str("OIDC_OP_USER_ENDPOINT", default="")
OIDC_OP_JWKS_ENDPOINT = env.str("OIDC_OP_JWKS_ENDPOINT", default="")
OIDC_RP_CLIENT_ID = env.str("OIDC_RP_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = env.str("OIDC_RP_CLIENT_SECRET", default="")
OIDC_RP_SIGN_ALGO = env.str("OIDC_RP_SIGN_ALGO", default="RS256")
OIDC_RP_SCOPES = env.str("OIDC_RP_SCOPES", default="openid email profile")
OIDC_ALLOWED_EMAIL_DOMAINS = [d.lower() for d in env.list("OIDC_ALLOWED_EMAIL_DOMAINS", default=[])]
OIDC_GROUPS_CLAIM = env.str("OIDC_GROUPS_CLAIM", default="")  # e.g. groups: the user's Django groups follow it
OIDC_CREATE_USER = _flag("OIDC_CREATE_USER", True)
OIDC_USE_PKCE = True
OIDC_USERNAME_ALGO = "portal.auth.username_from_claims"
OIDC_TIMEOUT = _number("OIDC_TIMEOUT", 10.0, float)
LOGIN_REDIRECT_URL_FAILURE = "/portal/login/?sso=failed"
SSO_ENABLED = bool(OIDC_RP_CLIENT_ID and OIDC_OP_AUTHORIZATION_ENDPOINT)
if SSO_ENABLED:
    AUTHENTICATION_BACKENDS.append("portal.auth.GatewayOIDCBackend")
# Session and CSRF cookies: never readable by scripts (htmx sends the token from the page), sent on
# top-level navigation only; Secure follows SECURE_COOKIES above.
SESSION_COOKIE_HTTPONLY = CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "Lax"

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
        "axes": {"level": "WARNING"},  # failures and lock-outs; not a line per successful sign-in
    },
}

# --- Spend alerts (README "Spend and budgets") ---------------------------------------------------
ALERT_WEBHOOK_URL = env.str("ALERT_WEBHOOK_URL", default="")
ALERT_RETRIES = _number("ALERT_RETRIES", 3)
# Email alerts go out when EMAIL_HOST is set (Django's mail framework; user budgets, to the user's address).
EMAIL_HOST = env.str("EMAIL_HOST", default="")
EMAIL_PORT = _number("EMAIL_PORT", 587)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = _flag("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="gateway@localhost")
