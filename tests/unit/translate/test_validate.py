"""Edge validation of Anthropic request bodies: every refusal names the offending path."""

from __future__ import annotations

from typing import Any

import pytest

from api.translate.types import TranslationError
from api.translate.validate import validate_request


def make_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "claude-opus-4-8",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


def user(*blocks: Any) -> dict[str, Any]:
    return {"role": "user", "content": list(blocks)}


def assistant(*blocks: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": list(blocks)}


IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}

INVALID = [
    pytest.param([1, 2], "", "must be a JSON object", id="it_rejects_a_body_that_is_not_an_object"),
    pytest.param(make_body(model=...), "model", "field required", id="it_rejects_a_missing_model"),
    pytest.param(make_body(model=""), "model", "non-empty", id="it_rejects_an_empty_model"),
    pytest.param(make_body(model=5), "model", "non-empty string", id="it_rejects_a_model_that_is_not_a_string"),
    pytest.param(make_body(messages=...), "messages", "field required", id="it_rejects_missing_messages"),
    pytest.param(make_body(messages={}), "messages", "a list", id="it_rejects_messages_that_are_not_a_list"),
    pytest.param(make_body(messages=[]), "messages", "at least one", id="it_rejects_empty_messages"),
    pytest.param(make_body(messages=["hi"]), "messages.0", "an object", id="it_rejects_a_message_not_an_object"),
    pytest.param(
        make_body(messages=[{"role": "tool", "content": "x"}]),
        "messages.0.role",
        "one of",
        id="it_rejects_an_unknown_role",
    ),
    pytest.param(
        make_body(messages=[{"role": "user", "content": 3}]),
        "messages.0.content",
        "a string or a list",
        id="it_rejects_content_that_is_neither_string_nor_list",
    ),
    pytest.param(
        make_body(messages=[{"role": "user"}]),
        "messages.0.content",
        "a string or a list",
        id="it_rejects_a_message_without_content",
    ),
    pytest.param(
        make_body(messages=[user("text")]),
        "messages.0.content.0",
        "content block object",
        id="it_rejects_a_block_that_is_not_an_object",
    ),
    pytest.param(
        make_body(messages=[user({"text": "x"})]),
        "messages.0.content.0.type",
        "missing its 'type'",
        id="it_rejects_a_block_without_type",
    ),
    pytest.param(
        make_body(
            messages=[
                {"role": "user", "content": "a"},
                user({"type": "text", "text": "b"}, {"type": "hologram"}),
            ]
        ),
        "messages.1.content.1",
        "unknown content block type 'hologram'",
        id="it_rejects_an_unknown_block_type_naming_its_path",
    ),
    pytest.param(
        make_body(messages=[user({"type": "tool_use", "id": "t", "name": "n", "input": {}})]),
        "messages.0.content.0",
        "not allowed in user content",
        id="it_rejects_tool_use_in_a_user_message",
    ),
    pytest.param(
        make_body(messages=[assistant({"type": "tool_result", "tool_use_id": "t"})]),
        "messages.0.content.0",
        "not allowed in assistant content",
        id="it_rejects_tool_result_in_an_assistant_message",
    ),
    pytest.param(
        make_body(messages=[user({"type": "text", "text": "x"}), {"role": "system", "content": [IMAGE]}]),
        "messages.1.content.0",
        "not allowed in system content",
        id="it_rejects_an_image_in_a_system_message",
    ),
    pytest.param(
        make_body(messages=[user({"type": "text", "text": None})]),
        "messages.0.content.0.text",
        "a string",
        id="it_rejects_a_text_block_without_text",
    ),
    pytest.param(
        make_body(messages=[user({"type": "tool_result", "tool_use_id": 7})]),
        "messages.0.content.0.tool_use_id",
        "a string",
        id="it_rejects_a_tool_result_whose_id_is_not_a_string",
    ),
    pytest.param(
        make_body(messages=[user({"type": "tool_result", "tool_use_id": "t", "content": [{"type": "tool_use"}]})]),
        "messages.0.content.0.content.0",
        "not allowed in tool_result content",
        id="it_rejects_a_tool_use_nested_in_a_tool_result",
    ),
    pytest.param(
        make_body(messages=[user({"type": "tool_result", "tool_use_id": "t", "content": 5})]),
        "messages.0.content.0.content",
        "a string or a list",
        id="it_rejects_tool_result_content_of_the_wrong_type",
    ),
    pytest.param(
        make_body(messages=[assistant({"type": "tool_use", "id": "t", "name": "Bash", "input": "ls"})]),
        "messages.0.content.0.input",
        "an object",
        id="it_rejects_tool_use_input_that_is_not_an_object",
    ),
    pytest.param(
        make_body(messages=[user({"type": "image", "source": "http://x"})]),
        "messages.0.content.0.source",
        "an object",
        id="it_rejects_an_image_without_a_source_object",
    ),
    pytest.param(
        make_body(messages=[user({"type": "search_result", "title": "t", "source": "s", "content": ["x"]})]),
        "messages.0.content.0.content.0",
        "a text block",
        id="it_rejects_a_search_result_with_non_text_content",
    ),
    pytest.param(make_body(max_tokens=...), "max_tokens", "field required", id="it_rejects_missing_max_tokens"),
    pytest.param(make_body(max_tokens=0), "max_tokens", "pre-warm", id="it_rejects_max_tokens_zero_clearly"),
    pytest.param(make_body(max_tokens=-5), "max_tokens", "between 1 and", id="it_rejects_negative_max_tokens"),
    pytest.param(
        make_body(max_tokens=1_000_001),
        "max_tokens",
        "between 1 and",
        id="it_rejects_max_tokens_over_a_million",
    ),
    pytest.param(make_body(max_tokens=True), "max_tokens", "an integer", id="it_rejects_a_boolean_max_tokens"),
    pytest.param(make_body(max_tokens=10.5), "max_tokens", "an integer", id="it_rejects_a_float_max_tokens"),
    pytest.param(make_body(max_tokens="100"), "max_tokens", "an integer", id="it_rejects_a_string_max_tokens"),
    pytest.param(make_body(system=5), "system", "a string or a list", id="it_rejects_a_system_of_the_wrong_type"),
    pytest.param(
        make_body(system=[{"type": "text", "text": "a"}, {"type": "image"}]),
        "system.1",
        "a text block",
        id="it_rejects_a_non_text_system_block",
    ),
    pytest.param(make_body(tools={"name": "x"}), "tools", "a list", id="it_rejects_tools_that_are_not_a_list"),
    pytest.param(
        make_body(tools=[{"name": "ok", "input_schema": {"type": "object"}}, {"description": "no name"}]),
        "tools.1.name",
        "field required",
        id="it_rejects_a_tool_without_name",
    ),
    pytest.param(
        make_body(tools=[{"name": "x", "input_schema": "{}"}]),
        "tools.0.input_schema",
        "an object",
        id="it_rejects_a_tool_schema_that_is_not_an_object",
    ),
    pytest.param(
        make_body(tools=[{"name": "ok", "input_schema": {"type": "object"}}, {"name": "Bash"}]),
        "tools.1.input_schema",
        "field required",
        id="it_rejects_a_custom_tool_without_input_schema_as_anthropic_does",
    ),
    pytest.param(
        make_body(tools=[{"name": "Edit", "type": "custom", "description": "edit"}]),
        "tools.0.input_schema",
        "field required",
        id="it_rejects_a_typed_custom_tool_without_input_schema",
    ),
    pytest.param(
        make_body(tool_choice={"type": "required"}),
        "tool_choice.type",
        "one of",
        id="it_rejects_an_unknown_tool_choice_type",
    ),
    pytest.param(make_body(tool_choice="auto"), "tool_choice", "an object", id="it_rejects_a_string_tool_choice"),
    pytest.param(
        make_body(tool_choice={"type": "tool"}),
        "tool_choice.name",
        "field required",
        id="it_rejects_tool_choice_tool_without_name",
    ),
    pytest.param(
        make_body(stop_sequences="END"),
        "stop_sequences",
        "a list of strings",
        id="it_rejects_stop_sequences_that_are_a_string",
    ),
    pytest.param(
        make_body(stop_sequences=["a", 1]),
        "stop_sequences",
        "a list of strings",
        id="it_rejects_stop_sequences_with_a_number",
    ),
    pytest.param(make_body(temperature="hot"), "temperature", "between 0 and 1", id="it_rejects_a_string_temperature"),
    pytest.param(make_body(temperature=1.5), "temperature", "between 0 and 1", id="it_rejects_temperature_above_one"),
    pytest.param(make_body(top_p=-0.1), "top_p", "between 0 and 1", id="it_rejects_a_negative_top_p"),
    pytest.param(make_body(top_p=True), "top_p", "between 0 and 1", id="it_rejects_a_boolean_top_p"),
    pytest.param(make_body(top_k=2.5), "top_k", "non-negative integer", id="it_rejects_a_float_top_k"),
    pytest.param(make_body(stream="yes"), "stream", "a boolean", id="it_rejects_a_stream_that_is_not_a_boolean"),
    pytest.param(
        make_body(mcp_servers=[{"type": "url", "url": "https://mcp", "name": "m"}]),
        "mcp_servers",
        "not supported",
        id="it_rejects_mcp_servers",
    ),
    pytest.param(make_body(thinking="on"), "thinking", "an object", id="it_rejects_thinking_that_is_a_string"),
    pytest.param(
        make_body(thinking={"type": "turbo"}),
        "thinking.type",
        "one of",
        id="it_rejects_an_unknown_thinking_type",
    ),
    pytest.param(
        make_body(thinking={"type": "enabled"}),
        "thinking.budget_tokens",
        "field required",
        id="it_rejects_enabled_thinking_without_budget",
    ),
    pytest.param(
        make_body(thinking={"type": "enabled", "budget_tokens": "2000"}),
        "thinking.budget_tokens",
        "an integer",
        id="it_rejects_a_string_budget",
    ),
    pytest.param(
        make_body(thinking={"type": "enabled", "budget_tokens": 512}),
        "thinking.budget_tokens",
        "at least 1024",
        id="it_rejects_a_budget_below_anthropics_minimum",
    ),
    pytest.param(
        make_body(output_config={"effort": "extreme"}),
        "output_config.effort",
        "one of",
        id="it_rejects_an_unknown_effort",
    ),
    pytest.param(
        make_body(output_config={"format": {"type": "json_schema"}}),
        "output_config.format.schema",
        "an object",
        id="it_rejects_a_format_without_schema",
    ),
    pytest.param(
        make_body(output_format={"type": "regex", "schema": {}}),
        "output_format",
        "json_schema",
        id="it_rejects_a_legacy_output_format_of_another_type",
    ),
    pytest.param(
        make_body(messages=[{"role": ["user"], "content": "x"}]),
        "messages.0.role",
        "one of",
        id="it_rejects_an_unhashable_role_without_crashing",
    ),
    pytest.param(
        make_body(tool_choice={"type": {"auto": True}}),
        "tool_choice.type",
        "one of",
        id="it_rejects_an_unhashable_tool_choice_type_without_crashing",
    ),
    pytest.param(
        make_body(thinking={"type": ["adaptive"]}),
        "thinking.type",
        "one of",
        id="it_rejects_an_unhashable_thinking_type_without_crashing",
    ),
    pytest.param(
        make_body(output_config={"effort": ["high"]}),
        "output_config.effort",
        "one of",
        id="it_rejects_an_unhashable_effort_without_crashing",
    ),
    pytest.param(make_body(metadata="me"), "metadata", "an object", id="it_rejects_metadata_that_is_not_an_object"),
]


@pytest.mark.parametrize(("body", "path", "fragment"), INVALID)
def test_it_refuses_malformed_requests_with_the_offending_path(body: object, path: str, fragment: str) -> None:
    with pytest.raises(TranslationError) as caught:
        validate_request(body)
    assert caught.value.path == path
    assert fragment in str(caught.value)
    assert caught.value.status == 400
    assert caught.value.error_type == "invalid_request_error"


VALID = [
    pytest.param(make_body(), id="a_minimal_request"),
    pytest.param(make_body(unknown_future_key={"x": 1}, context_management={"edits": []}), id="unknown_top_level_keys"),
    pytest.param(make_body(mcp_servers=[]), id="an_empty_mcp_servers_list"),
    pytest.param(make_body(max_tokens=1_000_000, temperature=0, top_p=1, top_k=0, stream=False), id="boundary_values"),
    pytest.param(
        make_body(
            system=[{"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}}],
            thinking={"type": "adaptive", "display": "omitted"},
            output_config={
                "effort": "xhigh",
                "format": {"type": "json_schema", "schema": {"type": "object"}},
            },
            metadata={"user_id": '{"device_id": "d"}'},
            tools=[
                {"name": "Bash", "input_schema": {"type": "object"}},
                {"type": "web_search_20250305", "name": "ws"},
            ],
            tool_choice={"type": "any", "disable_parallel_tool_use": True},
            stop_sequences=["END"],
        ),
        id="claude_code_style_options",
    ),
    pytest.param(
        make_body(
            messages=[
                user({"type": "text", "text": "look"}, IMAGE),
                {"role": "system", "content": [{"type": "text", "text": "be brief"}]},
                assistant(
                    {"type": "thinking", "thinking": "t", "signature": "s"},
                    {"type": "redacted_thinking", "data": "x"},
                    {"type": "server_tool_use", "id": "s1", "name": "web_search", "input": {"query": "q"}},
                    {"type": "web_search_tool_result", "tool_use_id": "s1", "content": []},
                    {"type": "tool_use", "id": "t1", "name": "Bash", "input": {}},
                ),
                user(
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": [{"type": "text", "text": "ok"}, IMAGE],
                    },
                    {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "d"}},
                    {"type": "mid_conv_system", "content": "note"},
                ),
            ]
        ),
        id="every_supported_block_kind",
    ),
]


@pytest.mark.parametrize("body", VALID)
def test_it_accepts_well_formed_requests_and_returns_the_same_object(body: dict[str, Any]) -> None:
    assert validate_request(body) is body
