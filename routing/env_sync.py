"""The classic single-user setup: OPENAI_* and *_MODEL variables become provider `env` and its routes.

The environment wins at every start for what it manages; rows made in the admin are never touched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from api.providers.headers import header_problem
from routing.models import ModelRoute, Provider, unique_route_name

log = logging.getLogger("routing.env_sync")
ENV_PROVIDER = "env"
DEFAULT_BASE_URL = "https://api.openai.com/v1"


@dataclass(frozen=True)
class EnvRoute:
    name: str
    priority: int
    pattern: str
    target_model: str


def env_routes() -> list[EnvRoute]:
    # Priorities above 1000 leave room for admin-made routes to take precedence.
    return [
        EnvRoute("env-haiku", 1000, "*haiku*", settings.SMALL_MODEL),
        EnvRoute("env-sonnet", 1001, "*sonnet*", settings.MIDDLE_MODEL),
        EnvRoute("env-opus", 1002, "*opus*", settings.BIG_MODEL),
        EnvRoute("env-default", 1099, "*", settings.BIG_MODEL),
    ]


def guess_profile(base_url: str) -> str:
    """A parameter profile from the base URL, for setups that name no OPENAI_PROFILE."""
    url = base_url.lower()
    for needle, profile in (
        ("openai.azure.com", "azure"),
        ("api.openai.com", "openai"),
        ("openrouter", "openrouter"),
        ("deepseek", "deepseek"),
        ("generativelanguage.googleapis.com", "gemini"),
        ("mistral", "mistral"),
        (":11434", "ollama"),
    ):
        if needle in url:
            return profile
    return "generic"


def custom_headers() -> dict[str, str]:
    """CUSTOM_HEADER_* without the headers the gateway sets itself (framing, auth), each dropped loudly."""
    kept = {}
    for name, value in settings.CUSTOM_HEADERS.items():
        if problem := header_problem(name, value):
            log.warning("CUSTOM_HEADER_%s ignored: %s", name.replace("-", "_").upper(), problem)
        else:
            kept[name] = value
    return kept


def env_configured() -> bool:
    return bool(settings.OPENAI_API_KEY or settings.OPENAI_BASE_URL)


@transaction.atomic
def sync_env_provider() -> Provider | None:
    """Create or update provider `env` and its four routes; None when the environment names none. A new
    `env` has no circuit (`circuit_failures` 0): one provider and no fallback, so its errors reach the
    client as they come instead of 529s while it would cool down; an admin may turn it on."""
    if not env_configured():
        return None
    base_url = settings.OPENAI_BASE_URL or DEFAULT_BASE_URL
    provider = Provider.objects.filter(name=ENV_PROVIDER).first() or Provider(name=ENV_PROVIDER, circuit_failures=0)
    provider.kind = Provider.Kind.OPENAI
    provider.base_url = base_url
    provider.api_key = settings.OPENAI_API_KEY
    provider.profile = settings.OPENAI_PROFILE or guess_profile(base_url)
    provider.api_version = settings.AZURE_API_VERSION
    provider.read_timeout = settings.REQUEST_TIMEOUT
    provider.connect_timeout = settings.CONNECT_TIMEOUT
    provider.max_output_tokens = settings.MAX_TOKENS_LIMIT
    provider.extra_headers = custom_headers()
    provider.enabled = True
    provider.managed_by_env = True
    provider.save()

    wanted = {r.pattern: r for r in env_routes()}
    managed = ModelRoute.objects.filter(managed_by_env=True)
    managed.exclude(pattern__in=wanted).delete()
    existing = {r.pattern: r for r in managed}
    for pattern, spec in wanted.items():
        route = existing.get(pattern) or ModelRoute(pattern=pattern, managed_by_env=True)
        route.name = route.name or unique_route_name(spec.name, ModelRoute.objects.all())
        route.priority = spec.priority
        route.enabled = True
        route.note = "Managed by the environment (OPENAI_BASE_URL, BIG/MIDDLE/SMALL_MODEL)."
        route.save()
        route.targets.exclude(provider=provider).delete()
        route.targets.update_or_create(provider=provider, defaults={"model": spec.target_model, "weight": 1})
    return provider
