"""System checks: a misconfiguration shows at start-up, not on the first request."""

import os
import ssl

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from routing import credentials


@register()
def secrets_check(app_configs, **kwargs):
    errors = [
        Error(
            f"{name} is not set.",
            hint=f"Set {name} in the environment or .env (DEBUG is off, so none is generated).",
            id="proxy.E001",
        )
        for name in settings.MISSING_SECRETS
    ]
    if settings.PROXY_ENCRYPTION_KEY:
        try:
            credentials.encrypt("check")
        except ValueError as exc:
            errors.append(Error(f"PROXY_ENCRYPTION_KEY is not a valid Fernet key: {exc}", id="proxy.E002"))
    return errors


@register()
def settings_check(app_configs, **kwargs):
    problems = []
    if settings.AUTH_MODE not in ("keys", "open"):
        problems.append(Error("AUTH_MODE must be 'keys' or 'open'.", id="proxy.E003"))
    if settings.LOG_BODIES not in ("off", "errors", "all"):
        problems.append(Error("LOG_BODIES must be off, errors or all.", id="proxy.E004"))
    if settings.LOG_FORMAT not in ("plain", "json"):
        problems.append(Error("LOG_FORMAT must be plain or json.", id="proxy.E005"))
    if settings.UPSTREAM_CA_BUNDLE:
        try:
            ssl.create_default_context(cafile=settings.UPSTREAM_CA_BUNDLE)
        except (OSError, ssl.SSLError) as exc:
            problems.append(Error(f"UPSTREAM_CA_BUNDLE cannot be loaded: {exc}", id="proxy.E006"))
    if settings.AUTH_MODE == "open":
        problems.append(Warning("AUTH_MODE=open: any client can use this gateway without a key.", id="proxy.W001"))
    return problems


@register()
def state_check(app_configs, **kwargs):
    """The usage journal and (without Redis) the limit counters live in STATE_DIR: it must be writable,
    and limits are shared only by the workers of one host unless Redis holds them."""
    problems = []
    try:
        settings.STATE_DIR.mkdir(parents=True, exist_ok=True)
        writable = os.access(settings.STATE_DIR, os.W_OK | os.X_OK)
    except OSError:
        writable = False
    if not writable:
        problems.append(
            Error(f"STATE_DIR {settings.STATE_DIR} is not a writable folder.", hint="Set STATE_DIR.", id="proxy.E010")
        )
    redis = settings.CACHE_URL.startswith(("redis://", "rediss://", "unix://"))
    if not redis and not settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        problems.append(
            Warning(
                "Key limits and budgets are counted in STATE_DIR, shared by this host's workers only: several"
                " replicas on this database would each count alone.",
                hint="Set CACHE_URL=redis://... when running more than one replica.",
                id="proxy.W010",
            )
        )
    return problems


@register(Tags.security, deploy=True)
def plain_http_check(app_configs, **kwargs):
    """Stands in for Django's four HTTPS warnings, silenced in settings.py while BEHIND_HTTPS_PROXY is off."""
    if settings.BEHIND_HTTPS_PROXY:
        return []
    return [
        Warning(
            "BEHIND_HTTPS_PROXY is off: admin session and CSRF cookies may travel over plain HTTP.",
            hint="Behind an HTTPS reverse proxy that sets X-Forwarded-Proto, set BEHIND_HTTPS_PROXY=true.",
            id="proxy.W020",
        )
    ]


@register()
def shadowed_routes_check(app_configs, **kwargs):
    """Routes that can never match: an earlier route with no conditions nor scope takes every request
    they would (routing/explain.py `shadowed`). Skipped while the database is not there yet (migrate)."""
    from django.db import DatabaseError

    from routing import snapshot
    from routing.explain import shadowed

    try:
        routes = snapshot.routes.get_sync()
    except (DatabaseError, credentials.CredentialError):  # not migrated yet; keys: proxy.E002 says it
        return []
    return [
        Warning(
            f"Route {route.name!r} ({route.pattern!r}, priority {route.priority}) can never match: route"
            f" {earlier.name!r} ({earlier.pattern!r}, priority {earlier.priority}) comes first, has no conditions"
            " nor scope, and matches every model it would.",
            hint="Give the earlier route a higher priority number, conditions or a scope; or disable this one.",
            obj=f"route {route.name}",
            id="proxy.W030",
        )
        for route, earlier in shadowed(routes)
    ]
