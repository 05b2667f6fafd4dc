"""Problems in a config file, each named by its path (`routes[2].targets[0].provider: ...`)."""

from __future__ import annotations

from pydantic import ValidationError

# pydantic's error types in the words of the file's author; others keep pydantic's own message.
_MESSAGES = {
    "missing": "required",
    "extra_forbidden": "unknown key",
    "bool_type": "must be true or false",
    "int_type": "must be a whole number",
    "float_type": "must be a number",
    "string_type": "must be text",
    "list_type": "must be a list",
    "dict_type": "must be a mapping of names to values",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "string_pattern_mismatch": "must be a slug (letters, digits, - and _)",
    "too_short": "must not be empty",
}
_BOUNDS = {"greater_than_equal": (">=", "ge"), "greater_than": (">", "gt"), "less_than_equal": ("<=", "le")}


class ConfigError(Exception):
    """The file cannot be applied; `problems` lists every reason found, each starting with its path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def path_of(loc: tuple[str | int, ...]) -> str:
    """("routes", 2, "targets", 0, "provider") -> "routes[2].targets[0].provider"."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path or "(file)"


def problems_from(error: ValidationError) -> list[str]:
    return [f"{path_of(e['loc'])}: {_message(e)}" for e in error.errors(include_url=False)]


def _message(error: dict) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind in _BOUNDS:
        op, bound = _BOUNDS[kind]
        return f"must be a number {op} {ctx[bound]:g}"
    if kind == "string_too_long":
        return f"must be at most {ctx['max_length']} characters"
    if kind == "literal_error":
        return f"must be one of {ctx['expected']}"
    if kind == "value_error":
        return str(ctx["error"])
    return _MESSAGES.get(kind, error["msg"])
