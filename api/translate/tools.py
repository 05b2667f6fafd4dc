"""Anthropic `tools` and `tool_choice` as OpenAI function tools (protocol.md §1.4, §1.5).

Custom tools become function tools; their `input_schema` is passed by reference (Claude Code sends
about 64 KB of schemas per request) unless the profile asks for a cleaned copy (Gemini). Tools that
Anthropic runs itself (web search, code execution, ...) have no OpenAI equivalent and are dropped
with a warning; the Anthropic-defined client tools `bash` and the text editor get a synthesized
schema, since the client executes them like any custom tool. Memory and computer-use tools are
dropped: their contracts are too large to fake faithfully.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from . import web_search
from .ids import upstream_tool_name
from .profiles import Profile
from .types import JSON, Context

logger = logging.getLogger(__name__)

_BASH_SCHEMA: JSON = {
    "type": "object",
    "properties": {
        "command": {"type": "string", "description": "The bash command to run."},
        "restart": {"type": "boolean", "description": "Restart the bash session instead of running one."},
    },
}
_EDITOR_COMMANDS = ["view", "create", "str_replace", "insert"]
_EDITOR_PROPERTIES: JSON = {
    "path": {"type": "string", "description": "Absolute path to the file or directory."},
    "file_text": {"type": "string", "description": "Content of the file to create."},
    "old_str": {"type": "string", "description": "Exact text to replace."},
    "new_str": {"type": "string", "description": "Replacement text, or the text to insert."},
    "insert_line": {"type": "integer", "description": "Line after which to insert new_str."},
    "view_range": {
        "type": "array",
        "items": {"type": "integer"},
        "description": "Start and end line to view; -1 as end means the end of the file.",
    },
}
_CHOICES = {"auto": "auto", "any": "required", "none": "none"}
_CLIENT_TOOL_DESCRIPTIONS = {
    "bash": "Run a command in a persistent bash shell.",
    "editor": "View, create and edit files: view, create, str_replace or insert text.",
}


def convert_tools(body: JSON, profile: Profile, context: Context) -> JSON:
    """The O `tools`, `tool_choice` and `parallel_tool_calls` keys, or ``{}`` if no tool survives.

    OpenAI rejects `tool_choice` and `parallel_tool_calls` without `tools`, so they only appear
    together. Shortened names are recorded in `context.tool_names` for the response side.
    """
    functions: list[JSON] = []
    upstream_names: dict[str, str] = {}
    for tool in body.get("tools") or ():
        if tool is web_search.web_search_tool(body):
            context.web_search = tool["name"]
            if profile.web_search:
                continue  # the upstream searches itself (request.py asks it to)
            # else offered as a function; its calls are answered as unavailable
        function = _function_tool(tool, profile)
        if function is None:
            continue
        name = function["function"]["name"]
        upstream_names[tool["name"]] = name
        if name != tool["name"]:
            context.tool_names[name] = tool["name"]
        functions.append(function)
    if not functions:
        return {}
    out: JSON = {"tools": functions}
    choice = body.get("tool_choice")
    if choice:
        mapped = _tool_choice(choice, upstream_names)
        if mapped is not None:
            out["tool_choice"] = mapped
        if choice.get("disable_parallel_tool_use") is True and choice.get("type") != "none":
            out["parallel_tool_calls"] = False
    return out


def _function_tool(tool: JSON, profile: Profile) -> JSON | None:
    """One A tool as an O function tool; None for tools the upstream cannot run."""
    kind = tool.get("type")
    schema = tool.get("input_schema")
    description = tool.get("description")
    if isinstance(kind, str) and kind.startswith("web_search_"):
        schema, description = copy.deepcopy(web_search.QUERY_SCHEMA), "Search the web."
    elif schema is None and kind not in (None, "custom"):
        schema, description = _client_tool(tool)
        if schema is None:
            logger.warning(
                "dropping tool %r of type %r: it runs on Anthropic's side and has no OpenAI equivalent",
                tool["name"],
                kind,
            )
            return None
    if not schema:
        schema = {"type": "object", "properties": {}}
    elif profile.clean_schema:
        schema = clean_schema(schema)
    function: JSON = {"name": upstream_tool_name(tool["name"])}
    if description:
        function["description"] = description
    function["parameters"] = schema
    if isinstance(tool.get("strict"), bool):
        function["strict"] = tool["strict"]
    return {"type": "function", "function": function}


def _client_tool(tool: JSON) -> tuple[JSON | None, str | None]:
    """Synthesized schema and description for A-defined client tools (bash, text editor).

    Fresh copies, so nothing downstream can alter the module's templates.
    """
    kind: str = tool["type"]
    if kind.startswith("bash_"):
        return copy.deepcopy(_BASH_SCHEMA), _CLIENT_TOOL_DESCRIPTIONS["bash"]
    if kind.startswith("text_editor_"):
        # The oldest editor (named str_replace_editor) also knows `undo_edit`.
        commands = list(_EDITOR_COMMANDS)
        if tool["name"] == "str_replace_editor":
            commands.append("undo_edit")
        schema = {
            "type": "object",
            "properties": {"command": {"type": "string", "enum": commands}, **copy.deepcopy(_EDITOR_PROPERTIES)},
            "required": ["command", "path"],
        }
        return schema, _CLIENT_TOOL_DESCRIPTIONS["editor"]
    return None, None


def _tool_choice(choice: JSON, upstream_names: dict[str, str]) -> str | JSON | None:
    kind = choice.get("type")
    if kind == "tool":
        name = upstream_names.get(choice["name"])
        if name is None:
            logger.warning("dropping tool_choice: tool %r is not among the forwarded tools", choice["name"])
            return None
        return {"type": "function", "function": {"name": name}}
    return _CHOICES.get(kind) if isinstance(kind, str) else None


# --- Gemini schema dialect ------------------------------------------------------------------------

# Gemini's OpenAI endpoint accepts an OpenAPI-style subset of JSON Schema and rejects the rest
# (`$schema`, `additionalProperties`, `propertyNames`, `const`, `exclusiveMinimum`, ... reported).
# A whitelist is safer than a blacklist: newer Claude Code schemas keep adding keywords.
_GEMINI_KEYWORDS = frozenset(
    {
        "type",
        "format",
        "title",
        "description",
        "nullable",
        "enum",
        "default",
        "items",
        "properties",
        "required",
        "minItems",
        "maxItems",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "minProperties",
        "maxProperties",
        "anyOf",
        "propertyOrdering",
    }
)
_GEMINI_FORMATS = frozenset({"enum", "date-time"})
_MAX_DEPTH = 48
_MAX_REFS = 4


def clean_schema(schema: JSON) -> JSON:
    """A copy of `schema` in Gemini's dialect.

    Keeps whitelisted keywords only; `const` becomes a one-value `enum`, `oneOf` becomes `anyOf`,
    `exclusiveMinimum`/`exclusiveMaximum` become `minimum`/`maximum` (slightly looser), formats
    other than `enum`/`date-time` and `allOf` are dropped, `["T", "null"]` types become
    `T` + `nullable`, and local `$ref`s into `$defs`/`definitions` are inlined. Recursive refs are
    cut after a few expansions and very deep nesting is cut too (both become ``{}``, "any").
    """
    defs = {**_as_dict(schema.get("definitions")), **_as_dict(schema.get("$defs"))}
    return _clean(schema, defs, 0, 0)


def _as_dict(value: object) -> JSON:
    return value if isinstance(value, dict) else {}


def _clean(node: Any, defs: JSON, depth: int, refs: int) -> JSON:
    if not isinstance(node, dict) or depth > _MAX_DEPTH:
        return {}
    ref = node.get("$ref")
    if isinstance(ref, str):
        target = defs.get(ref.rsplit("/", 1)[-1]) if ref.startswith("#/") else None
        return _clean(target, defs, depth + 1, refs + 1) if refs < _MAX_REFS else {}
    out: JSON = {}
    for key, value in node.items():
        if key == "const":
            out["enum"] = [value]
        elif key == "oneOf":
            out["anyOf"] = value
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and _is_number(value):
            out.setdefault("minimum" if key == "exclusiveMinimum" else "maximum", value)
        elif key in _GEMINI_KEYWORDS:
            out[key] = value
    _fix_keywords(out)
    return _clean_children(out, defs, depth + 1, refs)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _fix_keywords(out: JSON) -> None:
    """Keyword values Gemini reads strictly: a single `type`, known formats, `required` names."""
    kind = out.get("type")
    if isinstance(kind, list):
        concrete = [t for t in kind if t != "null"]
        if len(concrete) == 1:
            out["type"] = concrete[0]
        else:
            del out["type"]
            if concrete:
                out["anyOf"] = [{"type": t} for t in concrete]
        if len(concrete) < len(kind):
            out["nullable"] = True
    fmt = out.get("format")
    if fmt is not None and not (isinstance(fmt, str) and fmt in _GEMINI_FORMATS):
        del out["format"]
    required = out.get("required")
    if required is not None:
        properties = _as_dict(out.get("properties"))
        listed = required if isinstance(required, list) else []
        names = [n for n in listed if isinstance(n, str) and n in properties]
        if names:
            out["required"] = names
        else:
            del out["required"]


def _clean_children(out: JSON, defs: JSON, depth: int, refs: int) -> JSON:
    """Recurse into sub-schemas: `properties` values, `items`, `anyOf` members."""
    properties = out.get("properties")
    if isinstance(properties, dict):
        out["properties"] = {name: _clean(sub, defs, depth, refs) for name, sub in properties.items()}
    elif "properties" in out:
        del out["properties"]
    if "items" in out:
        items = out["items"]
        if isinstance(items, list):  # tuple validation: Gemini knows one item schema
            items = items[0] if items else {}
        out["items"] = _clean(items, defs, depth, refs)
    if "anyOf" in out:
        members = out["anyOf"] if isinstance(out["anyOf"], list) else []
        out["anyOf"] = [_clean(sub, defs, depth, refs) for sub in members]
    return out
