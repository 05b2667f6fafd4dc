"""The models she may use: what GET /v1/models answers for each of her keys (api/admission/listing.py,
not a copy of it), or, before she has a key, for her scope; and the glob route patterns open to her scope,
which that list leaves out because they are not names a client can pick."""

from __future__ import annotations

from dataclasses import dataclass

from api.admission.auth import Caller
from api.admission.listing import GLOB_CHARS, open_to
from portal.policy import active_keys
from routing import snapshot
from routing.models import ProxyKey


@dataclass(frozen=True)
class Reach:
    key: ProxyKey | None
    """None: what a key of hers with no allowlist would reach (she has no key yet)."""
    names: list[str]


@dataclass(frozen=True)
class ModelsOpen:
    per_key: list[Reach]
    patterns: list[str]


def models_open_to(user) -> ModelsOpen:
    routes, directs = snapshot.routes.get_sync(), snapshot.direct.get_sync()
    group_ids = frozenset(user.groups.values_list("id", flat=True))
    keys = list(active_keys(user).order_by("name", "id"))
    per_key = [Reach(k, open_to(Caller(snapshot.key_info(k)), user.pk, group_ids, routes, directs)) for k in keys]
    if not keys:
        per_key = [Reach(None, open_to(Caller(), user.pk, group_ids, routes, directs))]
    patterns = [r.pattern for r in routes if GLOB_CHARS & set(r.pattern) and r.applies_to(user.pk, group_ids)]
    return ModelsOpen(per_key, list(dict.fromkeys(patterns)))
