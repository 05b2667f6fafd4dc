"""The current setup in the config file's format, secrets as `${NAME}` placeholders.

Nothing secret is read: an API key becomes `${<PROVIDER>_API_KEY}`, a credential-like extra header
(snapshot.SECRET_HEADER_NAME) `${<PROVIDER>_<HEADER>}` and the alert webhook `${ALERT_WEBHOOK_URL}`.
Rows the environment manages are left out, as apply refuses them (their prices are not: a price may
name the `env` provider). Fields at their default are left out too, so the file stays short; applying
it sets them back to that default, which is what they are.
"""

from __future__ import annotations

import re
from decimal import Decimal

import yaml
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from routing.models import AlertSettings, ModelRoute, Price, Provider
from routing.prices import RATE_FIELDS
from routing.snapshot import SECRET_HEADER_NAME


def export_config() -> str:
    sections = {
        "providers": export_providers(),
        "prices": export_prices(),
        "routes": export_routes(),
        "groups": export_groups(),
        "users": export_users(),
        "alerts": export_alerts(),
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


def export_prices() -> list[dict]:
    """The price in force today of each provider's model (older ones price older rows and stay put;
    one dated later is the admin's and is left out, as a file cannot say "from then")."""
    today = timezone.localdate()
    latest: dict[tuple[str, str], dict] = {}
    rows = Price.objects.filter(effective_from__lte=today).select_related("provider")
    for price in rows.order_by("provider__name", "model", "-effective_from"):
        rates = {f: _number(getattr(price, f)) for f in RATE_FIELDS if getattr(price, f) is not None}
        latest.setdefault(
            (price.provider.name, price.model), {"provider": price.provider.name, "model": price.model} | rates
        )
    return list(latest.values())


def export_groups() -> list[dict]:
    groups = Group.objects.order_by("name").select_related("budget")
    return [{"name": g.name} | _budget(getattr(g, "budget", None)) for g in groups]


def _budget(budget) -> dict:
    """`budget: {usd, tokens, period}` and `alert_at` beside it, or nothing when there is none."""
    if budget is None:
        return {}
    limits = _unless_default(usd=(_number(budget.usd), None), tokens=(budget.tokens, None))
    return {"budget": limits | {"period": budget.period}} | _unless_default(alert_at=(budget.alert_at, []))


def export_alerts() -> dict:
    """`${ALERT_WEBHOOK_URL}` when a URL is stored: never the URL, which is a credential of its own."""
    stored = AlertSettings.objects.filter(pk=1).values_list("webhook_url_encrypted", flat=True).first()
    return {"webhook_url": "${ALERT_WEBHOOK_URL}"} if stored else {}


def _number(value: Decimal | None) -> int | float | None:
    """A Decimal as YAML writes a number: 500, not 500.00; exact for the columns' digits."""
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def export_users() -> list[dict]:
    User = get_user_model()
    username = User.USERNAME_FIELD
    users = User.objects.order_by(username).prefetch_related("groups").select_related("budget")
    return [
        {"name": getattr(u, username)}
        | _unless_default(email=(u.email, ""), groups=(sorted(g.name for g in u.groups.all()), []))
        | _budget(getattr(u, "budget", None))
        | _unless_default(staff=(u.is_staff, False))
        for u in users
    ]


def _unless_default(**fields: tuple) -> dict:
    return {name: value for name, (value, default) in fields.items() if value != default}
