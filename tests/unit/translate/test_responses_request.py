"""Anthropic Messages requests -> Responses API bodies: a table of inputs and the exact upstream body."""

from __future__ import annotations

from typing import Any

import pytest

from api.translate.profiles import profile_for
from api.translate.responses_mapping import reasoning_signature
from api.translate.responses_request import NOT_EXECUTED, to_responses_request
from api.translate.types import JSON, TranslationError

PNG = {"type": "base64", "media_type": "image/png", "data": "iVBOR"}
SCHEMA = {"type": "object", "properties": {"command": {"type": "string"}}}


def translate(model: str = "gpt-4.1", **body: Any) -> JSON:
    body.setdefault("model", "claude-opus-4-8")
    body.setdefault("max_tokens", 1000)
    upstream, _ = to_responses_request(body, upstream_model=model, profile=profile_for("openai", model))
    return upstream


def user(*content: JSON) -> JSON:
    return {"role": "user", "content": list(content)}


CASES = [
    pytest.param(
        {
            "system": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": "hi"}],
        },
        {"instructions": "be brief", "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}]},
        id="text_with_system_as_instructions",
    ),
    pytest.param(
        {"messages": [user({"type": "text", "text": "what is it?"}, {"type": "image", "source": PNG})]},
        {
            "input": [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "what is it?"},
                        {"type": "input_image", "image_url": "data:image/png;base64,iVBOR", "detail": "auto"},
                    ],
                }
            ]
        },
        id="images_as_input_image_data_urls",
    ),
    pytest.param(
        {
            "messages": [{"role": "user", "content": "run ls"}],
            "tools": [{"name": "Bash", "description": "shell", "input_schema": SCHEMA}],
            "tool_choice": {"type": "tool", "name": "Bash", "disable_parallel_tool_use": True},
        },
        {
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "run ls"}]}],
            "tools": [
                {"type": "function", "name": "Bash", "description": "shell", "parameters": SCHEMA, "strict": False}
            ],
            "tool_choice": {"type": "function", "name": "Bash"},
            "parallel_tool_calls": False,
        },
        id="tools_flat_and_not_strict_with_tool_choice",
    ),
    pytest.param(
        {
            "messages": [
                {"role": "user", "content": "two"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": "ok"},
                        {"type": "tool_use", "id": "call_1", "name": "Bash", "input": {"command": "a"}},
                        {"type": "tool_use", "id": "call_2", "name": "Bash", "input": {"command": "b"}},
                    ],
                },
                user(
                    {"type": "tool_result", "tool_use_id": "call_1", "content": "A"},
                    {"type": "tool_result", "tool_use_id": "call_2", "content": "boom", "is_error": True},
                    {"type": "text", "text": "go on"},
                ),
            ]
        },
        {
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "two"}]},
                {"role": "assistant", "content": "ok"},
                {"type": "function_call", "call_id": "call_1", "name": "Bash", "arguments": '{"command":"a"}'},
                {"type": "function_call", "call_id": "call_2", "name": "Bash", "arguments": '{"command":"b"}'},
                {"type": "function_call_output", "call_id": "call_1", "output": "A"},
                {"type": "function_call_output", "call_id": "call_2", "output": "[tool error] boom"},
                {"role": "user", "content": [{"type": "input_text", "text": "go on"}]},
            ]
        },
        id="parallel_tool_calls_and_their_results_in_order",
    ),
    pytest.param(
        {
            "messages": [
                {"role": "assistant", "content": [{"type": "tool_use", "id": "call_9", "name": "Bash", "input": {}}]},
                {"role": "user", "content": "never mind"},
                user({"type": "tool_result", "tool_use_id": "ghost", "content": "late"}),
            ]
        },
        {
            "input": [
                {"type": "function_call", "call_id": "call_9", "name": "Bash", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "call_9", "output": NOT_EXECUTED},
                {"role": "user", "content": [{"type": "input_text", "text": "never mind"}]},
                {"role": "user", "content": [{"type": "input_text", "text": "[result of tool call ghost]: late"}]},
            ]
        },
        id="unanswered_calls_answered_and_orphan_results_made_text",
    ),
]


@pytest.mark.parametrize(("body", "expected"), CASES)
def test_it_translates_each_case_to_the_exact_responses_body(body: JSON, expected: JSON) -> None:
    out = translate(**body)
    assert out == {"model": "gpt-4.1", "store": False, "max_output_tokens": 1000, **expected}


@pytest.mark.parametrize(
    ("thinking", "effort"),
    [
        pytest.param({"type": "enabled", "budget_tokens": 1024}, "low", id="budget_1024_low"),
        pytest.param({"type": "enabled", "budget_tokens": 3000}, "medium", id="budget_3000_medium"),
        pytest.param({"type": "enabled", "budget_tokens": 5000}, "high", id="budget_5000_high"),
    ],
)
def test_thinking_budget_becomes_reasoning_effort_with_summaries_and_encrypted_content(thinking, effort) -> None:
    out = translate("gpt-5", messages=[{"role": "user", "content": "hi"}], thinking=thinking, temperature=0.2)
    assert out["reasoning"] == {"effort": effort, "summary": "auto"}
    assert out["include"] == ["reasoning.encrypted_content"]
    assert "temperature" not in out  # reasoning models reject it


def test_adaptive_thinking_takes_the_output_config_effort() -> None:
    body = {"thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}}
    out = translate("gpt-5", messages=[{"role": "user", "content": "hi"}], **body)
    assert out["reasoning"] == {"effort": "high", "summary": "auto"}


def test_a_model_that_does_not_reason_gets_no_reasoning_parameters() -> None:
    out = translate("gpt-4.1", messages=[{"role": "user", "content": "hi"}], thinking={"type": "adaptive"})
    assert "reasoning" not in out and "include" not in out


def test_a_signed_thinking_block_goes_back_as_its_reasoning_item_before_the_call_it_led_to() -> None:
    signature = reasoning_signature("rs_1", "ENC-123")
    assistant = {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "plan", "signature": signature},
            {"type": "tool_use", "id": "call_1", "name": "Bash", "input": {}},
        ],
    }
    out = translate(
        "gpt-5",
        messages=[
            {"role": "user", "content": "go"},
            assistant,
            user({"type": "tool_result", "tool_use_id": "call_1", "content": "ok"}),
        ],
    )
    assert out["input"][1:3] == [
        {
            "type": "reasoning",
            "id": "rs_1",
            "encrypted_content": "ENC-123",
            "summary": [{"type": "summary_text", "text": "plan"}],
        },
        {"type": "function_call", "call_id": "call_1", "name": "Bash", "arguments": "{}"},
    ]


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param("proxy:abc", id="chat_path_signature"),
        pytest.param("proxy:rs:%%%", id="tampered"),
        pytest.param("EqQBCgIYAhIM", id="anthropic_signature"),
    ],
)
def test_thinking_blocks_it_cannot_resume_are_dropped_not_forwarded(signature: str) -> None:
    assistant = {
        "role": "assistant",
        "content": [{"type": "thinking", "thinking": "t", "signature": signature}, {"type": "text", "text": "hi"}],
    }
    out = translate("gpt-5", messages=[{"role": "user", "content": "go"}, assistant])
    assert [item.get("type", item.get("role")) for item in out["input"]] == ["user", "assistant"]


def test_the_web_search_server_tool_becomes_the_hosted_web_search_tool() -> None:
    tool = {"type": "web_search_20250305", "name": "web_search", "max_uses": 8, "allowed_domains": ["python.org"]}
    body = {
        "messages": [{"role": "user", "content": "search"}],
        "tools": [tool],
        "tool_choice": {"type": "tool", "name": "web_search"},
    }
    upstream, ctx = to_responses_request(
        {"model": "claude-opus-4-8", "max_tokens": 100, **body},
        upstream_model="gpt-4.1",
        profile=profile_for("openai", "gpt-4.1"),
    )
    assert upstream["tools"] == [{"type": "web_search", "filters": {"allowed_domains": ["python.org"]}}]
    assert upstream["tool_choice"] == "required"
    assert upstream["include"] == ["web_search_call.action.sources"]
    assert ctx.web_search == "web_search"


def test_max_tokens_is_capped_and_streams_ask_for_a_stream() -> None:
    body = {"model": "c", "max_tokens": 64000, "stream": True, "messages": [{"role": "user", "content": "x"}]}
    upstream, _ = to_responses_request(
        body, upstream_model="m", profile=profile_for("openai", "m"), max_tokens_cap=16384
    )
    assert (upstream["max_output_tokens"], upstream["stream"]) == (16384, True)


def test_an_unsupported_block_is_a_400_naming_its_path() -> None:
    with pytest.raises(TranslationError, match=r"messages\.0\.content\.0"):
        translate(messages=[user({"type": "hologram"})])
