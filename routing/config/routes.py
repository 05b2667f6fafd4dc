"""The `routes` section: each named route, its targets (as the file lists them), scope and fallbacks.

Targets are matched by (provider, model) and updated in place, so a target that stays keeps its row
(and with it its usage history and health); only the ones the file drops are deleted.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from routing.conditions import parse_conditions
from routing.config.changes import Changes, record, set_fields
from routing.config.schema import GatewayConfig, RouteSpec, TargetSpec
from routing.models import ModelRoute, Provider, RouteFallback, RouteTarget


def route_fields(spec: RouteSpec) -> dict:
    return {
        "pattern": spec.pattern,
        "priority": spec.priority,
        "conditions": conditions_of(spec),
        "strategy": spec.strategy,
        "max_tokens_cap": spec.max_tokens_cap,
        "long_context": spec.long_context,
        "enabled": spec.enabled,
    }


def conditions_of(spec: RouteSpec) -> dict:
    """`when` as `ModelRoute.conditions` holds it: the conditions given, nothing else."""
    return spec.when.model_dump(exclude_none=True, exclude_defaults=True) if spec.when else {}


def check_route_conditions(config: GatewayConfig) -> list[str]:
    """The rules the admin's form applies to conditions (header names, globs), by path."""
    problems = []
    for i, spec in enumerate(config.routes):
        try:
            parse_conditions(conditions_of(spec))
        except ValueError as exc:
            problems.append(f"routes[{i}].when: {exc}")
    return problems


def apply_routes(config: GatewayConfig, changes: Changes, prune: bool) -> None:
    existing = {r.name: r for r in ModelRoute.objects.filter(managed_by_env=False)}
    providers = {p.name: p.pk for p in Provider.objects.all()}
    saved = {}
    for spec in config.routes:
        route = existing.get(spec.name)
        created = route is None
        route = route or ModelRoute(name=spec.name)
        changed = set_fields(route, route_fields(spec))
        if created or changed:
            route.save()
        changed += _sync_targets(route, spec.targets, providers)
        changed += _sync_scope(route, spec)
        saved[spec.name] = (route, created, changed)
    everything = {r.name: r for r in ModelRoute.objects.all()}  # fallbacks may name a route made just now
    for spec in config.routes:
        route, created, changed = saved[spec.name]
        if _sync_fallbacks(route, [everything[name] for name in spec.fallbacks]):
            changed.append("fallbacks")
        record(changes, "route", spec.name, created, changed)
    if prune:
        _disable_unnamed(existing, {spec.name for spec in config.routes}, changes)


def _sync_targets(route: ModelRoute, specs: list[TargetSpec], providers: dict[str, int]) -> list[str]:
    wanted = [(providers[s.provider], s.model, s.weight, position) for position, s in enumerate(specs)]
    current = list(route.targets.all())
    if [(t.provider_id, t.model, t.weight, t.position) for t in current] == wanted:
        return []
    kept: dict[tuple[int, str], RouteTarget] = {}
    doubles = []  # a second row for one (provider, model), as the admin may have saved
    for target in current:
        key = (target.provider_id, target.model)
        if key in kept:
            doubles.append(target)
        else:
            kept[key] = target
    for provider_id, model, weight, position in wanted:
        target = kept.pop((provider_id, model), None)
        if target is None:
            RouteTarget.objects.create(
                route=route, provider_id=provider_id, model=model, weight=weight, position=position
            )
        elif (target.weight, target.position) != (weight, position):
            target.weight, target.position = weight, position
            target.save(update_fields=["weight", "position"])
    RouteTarget.objects.filter(pk__in=[t.pk for t in [*kept.values(), *doubles]]).delete()
    return ["targets"]


def _sync_scope(route: ModelRoute, spec: RouteSpec) -> list[str]:
    changed = []
    User = get_user_model()
    username = User.USERNAME_FIELD
    if {getattr(u, username) for u in route.users.all()} != set(spec.users):
        route.users.set(User.objects.filter(**{f"{username}__in": spec.users}))
        changed.append("users")
    if {g.name for g in route.groups.all()} != set(spec.groups):
        route.groups.set(Group.objects.filter(name__in=spec.groups))
        changed.append("groups")
    return changed


def _sync_fallbacks(route: ModelRoute, fallbacks: list[ModelRoute]) -> bool:
    current = [link.fallback_id for link in route.fallback_links.all()]
    if current == [f.pk for f in fallbacks]:
        return False
    route.fallback_links.all().delete()
    RouteFallback.objects.bulk_create(
        RouteFallback(route=route, fallback=f, position=position) for position, f in enumerate(fallbacks)
    )
    return True


def _disable_unnamed(existing: dict[str, ModelRoute], named: set[str], changes: Changes) -> None:
    for name, route in existing.items():
        if name not in named and route.enabled:
            route.enabled = False
            route.save(update_fields=["enabled", "updated_at"])
            changes.add("route", name, "disabled (not in the file)")
