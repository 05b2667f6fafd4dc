"""The current setup in the config file's format, secrets as `${NAME}` placeholders.

Nothing secret is read: an API key becomes `${<PROVIDER>_API_KEY}` and a credential-like extra header
(snapshot.SECRET_HEADER_NAME) `${<PROVIDER>_<HEADER>}`. Rows the environment manages are left out, as
apply refuses them. Fields at their default are left out too, so the file stays short; applying it
sets them back to that default, which is what they are.
"""

from __future__ import annotations

import re

import yaml
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from routing.models import ModelRoute, Provider
from routing.snapshot import SECRET_HEADER_NAME


def export_config() -> str:
    sections = {
        "providers": export_providers(),
        "routes": export_routes(),
        "groups": export_groups(),
        "users": export_users(),
    }
    return yaml.safe_dump({k: v for k, v in sections.items() if v}, sort_keys=False, allow_unicode=True)


def placeholder(*parts: str) -> str:
    """`${OPENAI_MAIN_API_KEY}` from ("openai-main", "api-key")."""
    return "${" + re.sub(r"[^A-Z0-9]+", "_", "_".join(parts).upper()).strip("_") + "}"


def export_providers() -> list[dict]:
    return [_provider(p) for p in Provider.objects.filter(managed_by_env=False).order_by("name")]


def _provider(p: Provider) -> dict:
    headers = {
        name: placeholder(p.name, name) if SECRET_HEADER_NAME.search(name) else value
        for name, value in p.extra_headers.items()
    }
    out = {"name": p.name, "kind": p.kind, "base_url": p.base_url}
    out |= {"api_key": placeholder(p.name, "api_key")} if p.api_key_encrypted else {}
    out |= {"profile": p.profile}
    out |= _unless_default(extra_headers=(headers, {}), api_version=(p.api_version, ""))
    out |= _unless_default(rpm_limit=(p.rpm_limit, None), tpm_limit=(p.tpm_limit, None))
    out |= {
        "max_retries": p.max_retries,
        "timeouts": {"connect": p.connect_timeout, "read": p.read_timeout, "first_byte": p.first_byte_timeout},
    }
    out |= _unless_default(max_output_tokens=(p.max_output_tokens, None))
    return out | {"allow_direct": p.allow_direct, "enabled": p.enabled}


def export_routes() -> list[dict]:
    routes = ModelRoute.objects.filter(managed_by_env=False).prefetch_related(
        "targets__provider", "fallback_links__fallback", "users", "groups"
    )
    return [_route(r) for r in routes]


def _route(r: ModelRoute) -> dict:
    username = get_user_model().USERNAME_FIELD
    out = {"name": r.name, "pattern": r.pattern, "priority": r.priority}
    out |= _unless_default(when=(r.conditions, {}))
    out["targets"] = [{"provider": t.provider.name, "model": t.model, "weight": t.weight} for t in r.targets.all()]
    out["strategy"] = r.strategy
    out |= _unless_default(max_tokens_cap=(r.max_tokens_cap, None), long_context=(r.long_context, False))
    out |= _unless_default(
        fallbacks=([link.fallback.name for link in r.fallback_links.all()], []),
        users=(sorted(getattr(u, username) for u in r.users.all()), []),
        groups=(sorted(g.name for g in r.groups.all()), []),
    )
    return out | {"enabled": r.enabled}


def export_groups() -> list[dict]:
    return [{"name": name} for name in Group.objects.order_by("name").values_list("name", flat=True)]


def export_users() -> list[dict]:
    User = get_user_model()
    username = User.USERNAME_FIELD
    users = User.objects.order_by(username).prefetch_related("groups")
    return [
        {"name": getattr(u, username)}
        | _unless_default(
            email=(u.email, ""), groups=(sorted(g.name for g in u.groups.all()), []), staff=(u.is_staff, False)
        )
        for u in users
    ]


def _unless_default(**fields: tuple) -> dict:
    return {name: value for name, (value, default) in fields.items() if value != default}
