"""One request body tried against the live routes, as the gateway would route it: the report
`manage.py explain_route` prints and the admin's "try a request" page shows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import orjson

from api.translate.tokens import count_tokens
from api.translate.types import TranslationError
from api.translate.validate import validate_request
from routing import snapshot
from routing.direct import allowlist_subject, split_direct
from routing.explain import explain, render
from routing.needs import read_needs
from routing.resolve import compile_pattern


def try_request(raw: object, headers: Mapping[str, str], user=None, key=None) -> list[str]:
    """Report lines for `raw` (a decoded Messages body) from `user` (or the user of `key`, whose
    allowlist is reported too); ValueError when the body is not a valid request."""
    try:
        body = validate_request(raw)
    except TranslationError as exc:
        raise ValueError(f"not a valid Messages request: {exc}") from None
    user = key.user if key is not None else user
    model = body["model"]
    lines = [] if key is None else _allowlist_lines(key, allowlist_subject(model))
    if (direct := split_direct(model)) is not None:
        taking = direct[0] in snapshot.direct.get_sync()
        return [*lines, f"direct request for provider {direct[0]!r}: " + ("taken" if taking else "refused (404)")]
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    size = len(orjson.dumps(raw))  # the bound's input only: the report counts with the tokenizer below
    needs = replace(read_needs(body, lowered, size), input_tokens=count_tokens(body), counted=True)
    routes = snapshot.routes.get_sync()
    groups = frozenset(user.groups.values_list("id", flat=True)) if user is not None else frozenset()
    verdicts = explain(model, routes, needs, user.pk if user is not None else None, groups)
    return lines + render(model, needs, verdicts)


def _allowlist_lines(key, name: str) -> list[str]:
    patterns = key.model_patterns()
    if not patterns or any(compile_pattern(p).match(name.lower()) for p in patterns):
        return []
    return [f"key {key.prefix}: its allowlist ({key.allowed_models}) refuses {name!r} (403)"]
