"""Plain factories: `make_x(**overrides)` with sensible defaults."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection, transaction

from routing import keys, rollups
from routing.models import ModelRoute, Provider, ProxyKey, UsageLog


def make_user(**overrides):
    overrides.setdefault("username", "alice")
    return get_user_model().objects.create(**overrides)


def make_staff(username: str, *permissions: str, **overrides):
    """A staff user (unless `is_staff=False`) holding `permissions` ("routing.add_proxykey", ...) only."""
    overrides.setdefault("is_staff", True)
    user = make_user(username=username, **overrides)
    for name in permissions:
        app_label, codename = name.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def make_provider(api_key: str = "sk-upstream-secret-1234", **overrides) -> Provider:
    overrides.setdefault("name", "openai-main")
    overrides.setdefault("base_url", "http://upstream.test/v1")
    overrides.setdefault("profile", "openai")
    overrides.setdefault("max_retries", 0)  # tests of retries ask for them explicitly
    provider = Provider(**overrides)
    provider.api_key = api_key
    provider.save()
    return provider


def make_route(provider: Provider, target_model: str = "gpt-4o", weight: int = 1, **overrides) -> ModelRoute:
    """A route with one target (add more with `route.targets.create(...)`)."""
    overrides.setdefault("pattern", "*")
    route = ModelRoute.objects.create(**overrides)
    route.targets.create(provider=provider, model=target_model, weight=weight)
    return route


def make_key(user=None, **overrides) -> tuple[ProxyKey, str]:
    """An issued key and its secret (which only the caller ever sees)."""
    user = user or make_user()
    new = keys.make_key()
    key = ProxyKey.objects.create(user=user, prefix=new.prefix, secret_hash=new.digest, **overrides)
    return key, new.secret


def provider_form(provider: Provider, **fields) -> dict:
    """The admin's provider change form as a browser posts it: the provider as stored, `fields` changed."""
    return {
        "name": provider.name,
        "kind": "openai",
        "profile": "openai",
        "base_url": provider.base_url,
        "api_key": "",
        "extra_headers": "{}",
        "connect_timeout": "10",
        "read_timeout": "90",
        "first_byte_timeout": "600",
        "circuit_failures": "3",
        "circuit_window": "60",
        "circuit_cooldown": "30",
        "max_retries": "0",
        "enabled": "on",
        **fields,
    }


def make_usage(**fields) -> UsageLog:
    """A usage row and its share of the daily rollups, as the usage writer records them."""
    with transaction.atomic(), connection.cursor() as cursor:
        row = UsageLog.objects.create(**fields)
        rollups.add(cursor, [row])
    return row
