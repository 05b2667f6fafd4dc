"""Tools and tool_choice as OpenAI function tools (protocol.md §1.4, §1.5; conformance 9-11)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from api.translate.ids import upstream_tool_name
from api.translate.profiles import PROFILES
from api.translate.tools import clean_schema, convert_tools
from api.translate.types import Context

OPENAI = PROFILES["openai"]
GEMINI = PROFILES["gemini"]

BASH_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {"command": {"type": "string"}},
    "required": ["command"],
    "additionalProperties": False,
}
BASH = {"name": "Bash", "description": "Run a command", "input_schema": BASH_SCHEMA}
READ = {"name": "Read", "description": "Read a file", "input_schema": {"type": "object", "properties": {}}}
SERVER_TOOL = {"type": "code_execution_20250825", "name": "code_execution"}  # a server tool with no equivalent


def function(name: str, parameters: dict[str, Any], description: str | None = None) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": name}
    if description is not None:
        fn["description"] = description
    fn["parameters"] = parameters
    return {"type": "function", "function": fn}


def convert(body: dict[str, Any], profile: Any = OPENAI) -> tuple[dict[str, Any], Context]:
    context = Context(requested_model="claude-opus-4-8")
    return convert_tools(body, profile, context), context


CASES = [
    pytest.param({}, {}, id="no_tools_gives_no_keys"),
    pytest.param({"tools": []}, {}, id="an_empty_tool_list_gives_no_keys"),
    pytest.param(
        {"tools": [BASH]},
        {"tools": [function("Bash", BASH_SCHEMA, "Run a command")]},
        id="a_custom_tool_becomes_a_function_tool",
    ),
    pytest.param(
        {"tools": [{"name": "Noop", "type": "custom"}, {"name": "Empty", "input_schema": {}}]},
        {
            "tools": [
                function("Noop", {"type": "object", "properties": {}}),
                function("Empty", {"type": "object", "properties": {}}),
            ]
        },
        id="an_absent_or_empty_schema_becomes_an_empty_object_schema",
    ),
    pytest.param(
        {"tools": [{**READ, "strict": True, "cache_control": {"type": "ephemeral"}, "defer_loading": True}]},
        {
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "Read",
                        "description": "Read a file",
                        "parameters": READ["input_schema"],
                        "strict": True,
                    },
                }
            ]
        },
        id="strict_is_kept_and_anthropic_only_keys_are_dropped",
    ),
    pytest.param(
        {
            "tools": [SERVER_TOOL],
            "tool_choice": {"type": "tool", "name": "code_execution", "disable_parallel_tool_use": True},
        },
        {},
        id="a_lone_server_tool_leaves_no_tools_no_tool_choice_no_parallel_flag",
    ),
    pytest.param(
        {"tools": [BASH, SERVER_TOOL], "tool_choice": {"type": "tool", "name": "code_execution"}},
        {"tools": [function("Bash", BASH_SCHEMA, "Run a command")]},
        id="tool_choice_naming_a_dropped_tool_is_dropped",
    ),
    pytest.param(
        {"tools": [BASH], "tool_choice": {"type": "any"}},
        {"tools": [function("Bash", BASH_SCHEMA, "Run a command")], "tool_choice": "required"},
        id="any_becomes_required",
    ),
    pytest.param(
        {"tools": [BASH], "tool_choice": {"type": "tool", "name": "Bash"}},
        {
            "tools": [function("Bash", BASH_SCHEMA, "Run a command")],
            "tool_choice": {"type": "function", "function": {"name": "Bash"}},
        },
        id="tool_becomes_a_named_function_choice",
    ),
    pytest.param(
        {"tools": [BASH], "tool_choice": {"type": "none"}},
        {"tools": [function("Bash", BASH_SCHEMA, "Run a command")], "tool_choice": "none"},
        id="none_stays_none_and_keeps_the_tools",
    ),
    pytest.param(
        {"tools": [BASH], "tool_choice": {"type": "auto", "disable_parallel_tool_use": True}},
        {
            "tools": [function("Bash", BASH_SCHEMA, "Run a command")],
            "tool_choice": "auto",
            "parallel_tool_calls": False,
        },
        id="disable_parallel_tool_use_becomes_parallel_tool_calls_false",
    ),
    pytest.param(
        {"tools": [BASH], "tool_choice": {"type": "auto", "disable_parallel_tool_use": False}},
        {"tools": [function("Bash", BASH_SCHEMA, "Run a command")], "tool_choice": "auto"},
        id="parallel_tool_use_allowed_sends_no_flag",
    ),
]


@pytest.mark.parametrize(("body", "expected"), CASES)
def test_tools_translate_to_exact_openai_keys(body: dict[str, Any], expected: dict[str, Any]) -> None:
    out, _ = convert(body)
    assert out == expected


def test_schemas_are_passed_by_reference_without_copies() -> None:
    out, _ = convert({"tools": [BASH]})
    assert out["tools"][0]["function"]["parameters"] is BASH_SCHEMA


def test_a_long_name_is_shortened_and_mapped_back_in_the_context() -> None:
    long_name = "mcp__some_server__" + "x" * 82
    assert len(long_name) == 100
    out, context = convert(
        {
            "tools": [{"name": long_name, "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "tool", "name": long_name},
        }
    )
    short = out["tools"][0]["function"]["name"]
    assert len(short) <= 64
    assert short == upstream_tool_name(long_name)
    assert out["tool_choice"] == {"type": "function", "function": {"name": short}}
    assert context.tool_names == {short: long_name}
    assert context.original_tool_name(short) == long_name


def test_short_names_leave_the_reverse_map_empty() -> None:
    _, context = convert({"tools": [BASH, READ]})
    assert context.tool_names == {}


def test_a_dropped_server_tool_is_logged_as_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="api.translate.tools"):
        convert({"tools": [SERVER_TOOL, {"type": "code_execution_20250825", "name": "code_execution"}]})
    assert [r.levelname for r in caplog.records] == ["WARNING", "WARNING"]
    assert "code_execution_20250825" in caplog.records[0].getMessage()


@pytest.mark.parametrize(
    "tool",
    [
        pytest.param({"type": "web_fetch_20250910", "name": "web_fetch"}, id="web_fetch"),
        pytest.param({"type": "tool_search_tool_regex_20251119", "name": "tool_search"}, id="tool_search"),
        pytest.param({"type": "memory_20250818", "name": "memory"}, id="memory"),
        pytest.param({"type": "computer_20250124", "name": "computer", "display_width_px": 1024}, id="computer_use"),
    ],
)
def test_server_memory_and_computer_tools_are_dropped(tool: dict[str, Any]) -> None:
    out, _ = convert({"tools": [tool, BASH]})
    assert [t["function"]["name"] for t in out["tools"]] == ["Bash"]


def test_the_anthropic_bash_tool_gets_a_synthesized_schema() -> None:
    out, _ = convert({"tools": [{"type": "bash_20250124", "name": "bash"}]})
    fn = out["tools"][0]["function"]
    assert fn["name"] == "bash"
    assert fn["parameters"]["properties"]["command"] == {
        "type": "string",
        "description": "The bash command to run.",
    }
    assert set(fn["parameters"]["properties"]) == {"command", "restart"}


@pytest.mark.parametrize(
    ("tool", "commands"),
    [
        pytest.param(
            {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
            ["view", "create", "str_replace", "insert"],
            id="current_editor",
        ),
        pytest.param(
            {"type": "text_editor_20250124", "name": "str_replace_editor"},
            ["view", "create", "str_replace", "insert", "undo_edit"],
            id="oldest_editor_with_undo",
        ),
    ],
)
def test_the_anthropic_text_editor_gets_a_synthesized_schema(tool: dict[str, Any], commands: list[str]) -> None:
    out, _ = convert({"tools": [tool]})
    parameters = out["tools"][0]["function"]["parameters"]
    assert parameters["properties"]["command"]["enum"] == commands
    assert parameters["required"] == ["command", "path"]
    assert set(parameters["properties"]) == {
        "command",
        "path",
        "file_text",
        "old_str",
        "new_str",
        "insert_line",
        "view_range",
    }


def test_gemini_gets_a_cleaned_copy_and_the_original_is_untouched() -> None:
    out, _ = convert({"tools": [BASH]}, GEMINI)
    parameters = out["tools"][0]["function"]["parameters"]
    assert parameters == {
        "type": "object",
        "properties": {"command": {"type": "string"}},
        "required": ["command"],
    }
    assert "$schema" in BASH_SCHEMA and "additionalProperties" in BASH_SCHEMA


SCHEMAS = [
    pytest.param(
        {
            "type": "object",
            "propertyNames": {"pattern": "^a"},
            "additionalProperties": {"type": "string"},
            "$id": "x",
            "$comment": "c",
            "examples": [{}],
        },
        {"type": "object"},
        id="unsupported_keywords_are_removed",
    ),
    pytest.param({"const": "fixed"}, {"enum": ["fixed"]}, id="const_becomes_a_one_value_enum"),
    pytest.param(
        {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10},
        {"type": "integer", "minimum": 0, "maximum": 10},
        id="exclusive_bounds_become_inclusive_bounds",
    ),
    pytest.param(
        {"type": "integer", "minimum": 1, "exclusiveMinimum": 0},
        {"type": "integer", "minimum": 1},
        id="an_explicit_minimum_wins_over_an_exclusive_one",
    ),
    pytest.param(
        {"type": "string", "format": "uri"}, {"type": "string"}, id="formats_other_than_enum_and_date_time_go"
    ),
    pytest.param(
        {"type": "string", "format": "date-time"},
        {"type": "string", "format": "date-time"},
        id="date_time_stays",
    ),
    pytest.param({"type": ["string", "null"]}, {"type": "string", "nullable": True}, id="nullable_type_lists"),
    pytest.param(
        {"type": ["string", "integer"]},
        {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        id="multi_type_lists_become_any_of",
    ),
    pytest.param(
        {"oneOf": [{"const": 1}, {"type": "string", "format": "email"}]},
        {"anyOf": [{"enum": [1]}, {"type": "string"}]},
        id="one_of_becomes_any_of_and_members_are_cleaned",
    ),
    pytest.param(
        {
            "type": "object",
            "properties": {"a": {"type": "string", "minLength": 1, "format": "uri"}},
            "required": ["a", "ghost"],
        },
        {"type": "object", "properties": {"a": {"type": "string", "minLength": 1}}, "required": ["a"]},
        id="properties_are_cleaned_and_required_lists_only_known_names",
    ),
    pytest.param(
        {"type": "array", "items": {"type": "object", "additionalProperties": False}, "maxItems": 3},
        {"type": "array", "items": {"type": "object"}, "maxItems": 3},
        id="items_are_cleaned",
    ),
    pytest.param(
        {
            "type": "object",
            "properties": {"p": {"$ref": "#/$defs/Point"}},
            "$defs": {"Point": {"type": "object", "properties": {"x": {"type": "number"}}}},
        },
        {"type": "object", "properties": {"p": {"type": "object", "properties": {"x": {"type": "number"}}}}},
        id="local_refs_are_inlined",
    ),
    pytest.param({"allOf": [{"type": "string"}]}, {}, id="all_of_is_dropped"),
    pytest.param({"$ref": "https://elsewhere/schema"}, {}, id="remote_refs_become_any"),
]


@pytest.mark.parametrize(("schema", "expected"), SCHEMAS)
def test_gemini_schema_cleaning(schema: dict[str, Any], expected: dict[str, Any]) -> None:
    assert clean_schema(schema) == expected


def test_recursive_refs_are_cut_instead_of_looping() -> None:
    tree = {
        "$ref": "#/$defs/Node",
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
            }
        },
    }
    cleaned = clean_schema(tree)
    depth = 0
    node: dict[str, Any] = cleaned
    while node:
        node = node.get("properties", {}).get("children", {}).get("items", {})
        depth += 1
    assert 2 <= depth <= 6
