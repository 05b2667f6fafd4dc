"""Edge validation of an Anthropic Messages request body (protocol.md §1).

Runs once per request, before translation, so the translator can trust the shapes it reads and
every malformed request becomes an Anthropic-shaped 400 naming the offending path (for example
``messages.3.content.1``) instead of a crash or an upstream error. It walks the body without
copying anything. Unknown top-level keys are ignored for forward compatibility; unknown content
block types are rejected, because dropping them silently would change the conversation.
"""

from __future__ import annotations

from typing import Any

from .types import JSON, TranslationError

MAX_TOKENS_LIMIT = 1_000_000
MIN_THINKING_BUDGET = 1024
EFFORTS = frozenset({"low", "medium", "high", "xhigh", "max"})
THINKING_TYPES = frozenset({"enabled", "disabled", "adaptive", "between_tools"})
TOOL_CHOICE_TYPES = frozenset({"auto", "any", "tool", "none"})

# Blocks each role may carry. Results of Anthropic-run server tools (`web_search_tool_result`,
# `code_execution_tool_result`, `mcp_tool_result`, ...) are matched by suffix in assistant turns.
USER_BLOCKS = frozenset(
    {"text", "image", "document", "search_result", "tool_result", "container_upload", "mid_conv_system"}
)
ASSISTANT_BLOCKS = frozenset(
    {
        "text",
        "thinking",
        "redacted_thinking",
        "tool_use",
        "server_tool_use",
        "mcp_tool_use",
        "compaction",
        "fallback",
    }
)
SYSTEM_BLOCKS = frozenset({"text"})
TOOL_RESULT_BLOCKS = frozenset({"text", "image", "document", "search_result", "tool_reference"})
_ROLE_BLOCKS = {"user": USER_BLOCKS, "assistant": ASSISTANT_BLOCKS, "system": SYSTEM_BLOCKS}

# Fields the translator reads without further checks, with the type they must have.
_KIND_NAMES: dict[type, str] = {str: "a string", list: "a list", dict: "an object"}
_BLOCK_FIELDS: dict[str, tuple[tuple[str, type], ...]] = {
    "text": (("text", str),),
    "image": (("source", dict),),
    "document": (("source", dict),),
    "search_result": (("content", list),),
    "thinking": (("thinking", str),),
    "tool_use": (("id", str), ("name", str), ("input", dict)),
    "server_tool_use": (("name", str),),
    "mcp_tool_use": (("name", str),),
    "tool_result": (("tool_use_id", str),),
}


def is_server_result(block_type: str) -> bool:
    """`web_search_tool_result` and friends: results of tools Anthropic ran, not the client."""
    return block_type.endswith("_tool_result") and block_type != "tool_result"


def validate_request(body: object) -> JSON:
    """Check a decoded request body and return it unchanged, or raise `TranslationError`."""
    if not isinstance(body, dict):
        raise TranslationError("request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise TranslationError("field required: a non-empty string", "model")
    _check_max_tokens(body.get("max_tokens"))
    _check_messages(body.get("messages"))
    _check_system(body.get("system"))
    _check_tools(body.get("tools"))
    _check_tool_choice(body.get("tool_choice"))
    _check_sampling(body)
    _check_thinking(body.get("thinking"))
    _check_output_config(body.get("output_config"), "output_config")
    if body.get("output_format") is not None:
        _check_format(body["output_format"], "output_format")
    _check_optional(body, "metadata", dict, "an object")
    metadata = body.get("metadata") or {}
    _check_optional(metadata, "user_id", str, "a string", "metadata.")
    mcp = body.get("mcp_servers")
    if mcp:
        raise TranslationError("MCP servers are not supported by this gateway", "mcp_servers")
    return body


def _fail_type(path: str, expected: str) -> TranslationError:
    return TranslationError(f"must be {expected}", path)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_one_of(value: object, allowed: frozenset[str]) -> bool:
    """Membership that is safe for unhashable JSON values (lists, objects)."""
    return isinstance(value, str) and value in allowed


def _check_optional(obj: JSON, key: str, kind: type, expected: str, prefix: str = "") -> None:
    value = obj.get(key)
    if value is not None and not isinstance(value, kind):
        raise _fail_type(prefix + key, expected)


def _check_max_tokens(value: object) -> None:
    if value is None:
        raise TranslationError("field required", "max_tokens")
    if not _is_int(value):
        raise _fail_type("max_tokens", "an integer")
    if value == 0:
        raise TranslationError("must be at least 1 (max_tokens 0, a cache pre-warm, is not supported)", "max_tokens")
    if not 1 <= value <= MAX_TOKENS_LIMIT:
        raise TranslationError(f"must be between 1 and {MAX_TOKENS_LIMIT}", "max_tokens")


def _check_messages(messages: object) -> None:
    if messages is None:
        raise TranslationError("field required", "messages")
    if not isinstance(messages, list):
        raise _fail_type("messages", "a list")
    if not messages:
        raise TranslationError("at least one message is required", "messages")
    for i, message in enumerate(messages):
        path = f"messages.{i}"
        if not isinstance(message, dict):
            raise _fail_type(path, "an object")
        role = message.get("role")
        if not isinstance(role, str) or role not in _ROLE_BLOCKS:
            raise TranslationError("must be one of 'user', 'assistant' or 'system'", path + ".role")
        content = message.get("content")
        if isinstance(content, list):
            for j, block in enumerate(content):
                _check_block(block, f"{path}.content.{j}", _ROLE_BLOCKS[role], role)
        elif not isinstance(content, str):
            raise _fail_type(path + ".content", "a string or a list of content blocks")


def _check_block(block: object, path: str, allowed: frozenset[str], where: str) -> None:
    """One content block: an object with a known `type`, legal where it stands, fields typed."""
    if not isinstance(block, dict):
        raise _fail_type(path, "a content block object")
    kind = block.get("type")
    if not isinstance(kind, str):
        raise TranslationError("content block is missing its 'type'", path + ".type")
    if kind not in allowed and not (where == "assistant" and is_server_result(kind)):
        if kind in USER_BLOCKS or kind in ASSISTANT_BLOCKS or kind in TOOL_RESULT_BLOCKS:
            raise TranslationError(f"'{kind}' blocks are not allowed in {where} content", path)
        raise TranslationError(f"unknown content block type '{kind}'", path)
    for key, expected in _BLOCK_FIELDS.get(kind, ()):
        if not isinstance(block.get(key), expected):
            raise _fail_type(f"{path}.{key}", _KIND_NAMES[expected])
    if kind == "tool_result":
        _check_tool_result_content(block.get("content"), path + ".content")
    elif kind == "search_result":
        _check_text_blocks(block["content"], path + ".content")
    elif kind == "mid_conv_system":
        _check_system(block.get("content", block.get("text")), path + ".content", required=True)


def _check_tool_result_content(content: object, path: str) -> None:
    if content is None or isinstance(content, str):
        return
    if not isinstance(content, list):
        raise _fail_type(path, "a string or a list of content blocks")
    for k, block in enumerate(content):
        _check_block(block, f"{path}.{k}", TOOL_RESULT_BLOCKS, "tool_result")


def _check_text_blocks(blocks: list[Any], path: str) -> None:
    for k, block in enumerate(blocks):
        item = f"{path}.{k}"
        if not isinstance(block, dict) or block.get("type") != "text":
            raise TranslationError("must be a text block", item)
        if not isinstance(block.get("text"), str):
            raise _fail_type(item + ".text", "a string")


def _check_system(system: object, path: str = "system", *, required: bool = False) -> None:
    if system is None and not required:
        return
    if isinstance(system, list):
        _check_text_blocks(system, path)
    elif not isinstance(system, str):
        raise _fail_type(path, "a string or a list of text blocks")


def _check_tools(tools: object) -> None:
    if tools is None:
        return
    if not isinstance(tools, list):
        raise _fail_type("tools", "a list")
    for i, tool in enumerate(tools):
        path = f"tools.{i}"
        if not isinstance(tool, dict):
            raise _fail_type(path, "an object")
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise TranslationError("field required: a non-empty string", path + ".name")
        _check_optional(tool, "type", str, "a string", path + ".")
        _check_optional(tool, "description", str, "a string", path + ".")
        _check_optional(tool, "input_schema", dict, "an object", path + ".")
        if tool.get("type") in (None, "custom") and "input_schema" not in tool:
            raise TranslationError("field required", path + ".input_schema")  # as Anthropic answers
        _check_optional(tool, "strict", bool, "a boolean", path + ".")


def _check_tool_choice(choice: object) -> None:
    if choice is None:
        return
    if not isinstance(choice, dict):
        raise _fail_type("tool_choice", "an object")
    if not _is_one_of(choice.get("type"), TOOL_CHOICE_TYPES):
        raise TranslationError("must be one of 'auto', 'any', 'tool' or 'none'", "tool_choice.type")
    if choice["type"] == "tool" and not isinstance(choice.get("name"), str):
        raise TranslationError("field required for tool_choice type 'tool'", "tool_choice.name")
    _check_optional(choice, "disable_parallel_tool_use", bool, "a boolean", "tool_choice.")


def _check_sampling(body: JSON) -> None:
    for key in ("temperature", "top_p"):
        value = body.get(key)
        if value is not None and not (_is_number(value) and 0 <= value <= 1):
            raise TranslationError("must be a number between 0 and 1", key)
    top_k = body.get("top_k")
    if top_k is not None and not (_is_int(top_k) and top_k >= 0):
        raise TranslationError("must be a non-negative integer", "top_k")
    _check_optional(body, "stream", bool, "a boolean")
    stops = body.get("stop_sequences")
    if stops is not None and not (isinstance(stops, list) and all(isinstance(s, str) for s in stops)):
        raise _fail_type("stop_sequences", "a list of strings")


def _check_thinking(thinking: object) -> None:
    if thinking is None:
        return
    if not isinstance(thinking, dict):
        raise _fail_type("thinking", "an object")
    kind = thinking.get("type")
    if not _is_one_of(kind, THINKING_TYPES):
        raise TranslationError("must be one of 'enabled', 'disabled' or 'adaptive'", "thinking.type")
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if not _is_int(budget):
            raise TranslationError("field required: an integer", "thinking.budget_tokens")
        if budget < MIN_THINKING_BUDGET:
            raise TranslationError(f"must be at least {MIN_THINKING_BUDGET}", "thinking.budget_tokens")


def _check_output_config(config: object, path: str) -> None:
    if config is None:
        return
    if not isinstance(config, dict):
        raise _fail_type(path, "an object")
    effort = config.get("effort")
    if effort is not None and not _is_one_of(effort, EFFORTS):
        raise TranslationError("must be one of 'low', 'medium', 'high', 'xhigh' or 'max'", path + ".effort")
    if config.get("format") is not None:
        _check_format(config["format"], path + ".format")


def _check_format(fmt: object, path: str) -> None:
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        raise TranslationError("must be an object of type 'json_schema'", path)
    if not isinstance(fmt.get("schema"), dict):
        raise _fail_type(path + ".schema", "an object")
