"""A route's conditions (`ModelRoute.conditions`, the config file's `routes[].when`): pure, table-tested.

Every condition given must hold for the route to match; a route whose conditions fail is skipped, not an
error. Conditions choose among routes, they do not authorize: a client controls its body and headers, so
who may reach a route is the route's scope and the key's allowlist, never its conditions.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from routing.needs import RequestNeeds

NAMES = ("min_input_tokens", "thinking", "has_images", "tool", "header")
HEADER_NAME = re.compile(r"^[A-Za-z0-9-]+$")


def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern.strip().lower()))


@dataclass(frozen=True, slots=True)
class Conditions:
    min_input_tokens: int | None = None
    thinking: bool | None = None
    has_images: bool | None = None
    tool: str | None = None
    header: tuple[tuple[str, str], ...] = ()
    """(lowercased header name, glob on its value) pairs."""
    _tool_regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)
    _header_regexes: tuple[tuple[str, re.Pattern[str]], ...] = field(default=(), compare=False, repr=False)

    def __bool__(self) -> bool:
        return bool(self.given())

    def given(self) -> dict[str, object]:
        """The conditions set, as the JSON field and the config file spell them."""
        found: dict[str, object] = {}
        for name in NAMES:
            value = getattr(self, name)
            if value is not None and value != ():
                found[name] = dict(value) if name == "header" else value
        return found

    def failing(self, needs: RequestNeeds) -> str | None:
        """The name of the first condition `needs` does not meet, or None when all hold. Cheap: no formatting."""
        if self.min_input_tokens is not None and needs.input_tokens < self.min_input_tokens:
            return "min_input_tokens"
        if self.thinking is not None and needs.thinking is not self.thinking:
            return "thinking"
        if self.has_images is not None and needs.has_images is not self.has_images:
            return "has_images"
        if self._tool_regex is not None and not any(self._tool_regex.match(t) for t in needs.tools):
            return "tool"
        for name, regex in self._header_regexes:
            value = needs.headers.get(name)
            if value is None or not regex.match(value.lower()):
                return "header"
        return None


def parse_conditions(raw: object) -> Conditions:
    """Conditions from their JSON form; ValueError naming the condition when the form is wrong."""
    if raw is None or raw == {}:
        return Conditions()
    if not isinstance(raw, Mapping):
        raise ValueError("must be a JSON object of conditions")
    unknown = sorted(set(raw) - set(NAMES))
    if unknown:
        raise ValueError(f"unknown condition {unknown[0]!r}; known: {', '.join(NAMES)}")
    minimum = raw.get("min_input_tokens")
    if minimum is not None and (type(minimum) is not int or minimum < 1):
        raise ValueError("min_input_tokens: must be a whole number >= 1")
    for name in ("thinking", "has_images"):
        if name in raw and not isinstance(raw[name], bool):
            raise ValueError(f"{name}: must be true or false")
    tool = raw.get("tool")
    if tool is not None and (not isinstance(tool, str) or not tool.strip()):
        raise ValueError("tool: must be a non-empty glob on a tool's name or type")
    header = _parse_header(raw.get("header"))
    return Conditions(
        min_input_tokens=minimum,
        thinking=raw.get("thinking"),
        has_images=raw.get("has_images"),
        tool=tool.strip() if tool else None,
        header=header,
        _tool_regex=_glob(tool) if tool else None,
        _header_regexes=tuple((name, _glob(value)) for name, value in header),
    )


def _parse_header(raw: object) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping) or not raw:
        raise ValueError("header: must be an object of header names to globs on their values")
    pairs = []
    for name, value in raw.items():
        if not isinstance(name, str) or not HEADER_NAME.match(name):
            raise ValueError(f"header: {name!r} is not a header name")
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"header.{name}: must be a non-empty glob")
        pairs.append((name.lower(), value.strip()))
    return tuple(sorted(pairs))
