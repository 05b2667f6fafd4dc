"""What a file names must exist, in the file or in the database, and must be the file's to change.

Each check returns problems (path-named messages) rather than raising, so one run reports them all.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from routing.config.schema import GatewayConfig
from routing.models import ModelRoute, Provider


@dataclass(frozen=True)
class Known:
    """The names the database holds, read once before any check."""

    provider_kinds: dict[str, str]
    env_providers: frozenset[str]
    routes: frozenset[str]
    env_routes: frozenset[str]
    users: frozenset[str]
    groups: frozenset[str]

    @classmethod
    def from_database(cls) -> Known:
        providers = list(Provider.objects.values_list("name", "kind", "managed_by_env"))
        routes = list(ModelRoute.objects.values_list("name", "managed_by_env"))
        User = get_user_model()
        return cls(
            provider_kinds={name: kind for name, kind, _ in providers},
            env_providers=frozenset(name for name, _, env in providers if env),
            routes=frozenset(name for name, _ in routes),
            env_routes=frozenset(name for name, env in routes if env),
            users=frozenset(User.objects.values_list(User.USERNAME_FIELD, flat=True)),
            groups=frozenset(Group.objects.values_list("name", flat=True)),
        )


def check_references(config: GatewayConfig, known: Known, prune: bool) -> list[str]:
    return [
        *_names_once(config),
        *_not_env_managed(config, known),
        *_route_targets(config, known, prune),
        *_route_links(config, known, prune),
        *_people(config, known),
        *(
            f'prices[{i}].provider: no provider named "{p.provider}"'
            for i, p in enumerate(config.prices)
            if p.provider not in _provider_kinds(config, known)
        ),
    ]


def _names_once(config: GatewayConfig) -> list[str]:
    problems = []
    sections = {
        "providers": [p.name for p in config.providers],
        "routes": [r.name for r in config.routes],
        "groups": [g.name for g in config.groups],
        "users": [u.name for u in config.users],
        "prices": [f"{p.provider} / {p.model}" for p in config.prices],
    }
    for section, names in sections.items():
        first: dict[str, int] = {}
        for i, name in enumerate(names):
            if name in first:
                field = "" if section == "prices" else ".name"
                problems.append(f'{section}[{i}]{field}: "{name}" is already defined at {section}[{first[name]}]')
            first.setdefault(name, i)
    return problems


def _not_env_managed(config: GatewayConfig, known: Known) -> list[str]:
    why = "is managed by the environment (OPENAI_* variables); leave it out of the file"
    return [
        *(
            f'providers[{i}].name: "{p.name}" {why}'
            for i, p in enumerate(config.providers)
            if p.name in known.env_providers
        ),
        *(f'routes[{i}].name: "{r.name}" {why}' for i, r in enumerate(config.routes) if r.name in known.env_routes),
    ]


def _provider_kinds(config: GatewayConfig, known: Known) -> dict[str, str]:
    return known.provider_kinds | {p.name: p.kind for p in config.providers}


def _route_targets(config: GatewayConfig, known: Known, prune: bool) -> list[str]:
    problems = []
    kinds = _provider_kinds(config, known)
    in_file = {p.name for p in config.providers}
    for i, route in enumerate(config.routes):
        seen, first_kind = set(), None
        for j, target in enumerate(route.targets):
            path = f"routes[{i}].targets[{j}]"
            if target.provider not in kinds:
                problems.append(f'{path}.provider: no provider named "{target.provider}"')
                continue
            if prune and target.provider not in in_file | known.env_providers:
                problems.append(f'{path}.provider: "{target.provider}" is not in the file, so --prune would disable it')
            if (target.provider, target.model) in seen:
                problems.append(f"{path}: {target.provider} / {target.model} is already a target of this route")
            seen.add((target.provider, target.model))
            kind = kinds[target.provider]
            first_kind = first_kind or kind
            if kind != first_kind:
                problems.append(
                    f'{path}.provider: "{target.provider}" is of kind {kind} but the first target\'s is {first_kind};'
                    " a route's targets share one kind"
                )
    return problems


def _route_links(config: GatewayConfig, known: Known, prune: bool) -> list[str]:
    problems = []
    in_file = {r.name for r in config.routes}
    file_users, file_groups = {u.name for u in config.users}, {g.name for g in config.groups}
    for i, route in enumerate(config.routes):
        for j, name in enumerate(route.fallbacks):
            path = f"routes[{i}].fallbacks[{j}]"
            if name == route.name:
                problems.append(f"{path}: a route cannot fall back to itself")
            elif name not in in_file | known.routes:
                problems.append(f'{path}: no route named "{name}"')
            elif prune and name not in in_file | known.env_routes:
                problems.append(f'{path}: "{name}" is not in the file, so --prune would disable it')
            if name in route.fallbacks[:j]:
                problems.append(f'{path}: "{name}" is already a fallback of this route')
        problems += _members(f"routes[{i}].users", route.users, file_users | known.users, "user")
        problems += _members(f"routes[{i}].groups", route.groups, file_groups | known.groups, "group")
    return problems


def _people(config: GatewayConfig, known: Known) -> list[str]:
    groups = {g.name for g in config.groups} | known.groups
    return [
        p for i, user in enumerate(config.users) for p in _members(f"users[{i}].groups", user.groups, groups, "group")
    ]


def _members(path: str, names: list[str], existing: set[str], what: str) -> list[str]:
    return [f'{path}[{j}]: no {what} named "{name}"' for j, name in enumerate(names) if name not in existing]
