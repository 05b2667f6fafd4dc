"""Direct requests: the model string `PROVIDER,MODEL` (claude-code-router's convention) names a deployment.

Only providers whose admin turned on `allow_direct` take them, and a key's allowlist is checked against the
MODEL part (what is called, as for routes: api/admission/limits.py `permits`); its entries are separated by
commas, so they could not name the whole string. Pure.
"""

from __future__ import annotations

from routing.resolve import ProviderInfo, RouteInfo

DIRECT_ROUTE_ID = 0
"""A direct request's route id: it has no route row (its usage row records none)."""


def split_direct(model: str) -> tuple[str, str] | None:
    """(provider name, upstream model) when `model` is a direct request, else None; a part left empty is
    ("", "") so the caller can refuse it."""
    if "," not in model:
        return None
    name, _, upstream = model.partition(",")
    name, upstream = name.strip(), upstream.strip()
    return (name, upstream) if name and upstream else ("", "")


def allowlist_subject(model: str) -> str:
    """The name a key's allowlist is checked against: the upstream model of a direct request, else `model`."""
    direct = split_direct(model)
    return direct[1] if direct and direct[1] else model


def direct_route(provider: ProviderInfo, model: str) -> RouteInfo:
    """A route of its own for one direct request: no conditions, no fallbacks, no scope."""
    return RouteInfo(
        id=DIRECT_ROUTE_ID,
        priority=0,
        pattern=f"{provider.name},{model}",
        provider=provider,
        target_model=model,
        name="direct",
    )
