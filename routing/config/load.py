"""Read a config file (YAML, or JSON, which is YAML) into a checked `GatewayConfig`."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from routing.config.errors import ConfigError, problems_from
from routing.config.schema import GatewayConfig


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping: YAML would keep the last one silently,
    and a second `api_key:` or `enabled:` further down is exactly the mistake nobody sees."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"key {key!r} appears twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_text(text: str) -> GatewayConfig:
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError([f"(file): not valid YAML or JSON: {_where(exc)}"]) from None
    try:
        return GatewayConfig.model_validate({} if data is None else data)
    except ValidationError as exc:
        raise ConfigError(problems_from(exc)) from None


def _where(error: yaml.YAMLError) -> str:
    """`line 5, column 5: key 'enabled' appears twice`: one line, the file's own numbering."""
    mark, problem = getattr(error, "problem_mark", None), getattr(error, "problem", None)
    if mark is None or problem is None:
        return str(error).replace("\n", " ")
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"


def read_file(path: str | Path) -> GatewayConfig:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"(file): cannot read {path}: {exc}"]) from None
    return parse_text(text)
