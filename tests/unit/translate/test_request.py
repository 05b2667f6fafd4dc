"""Whole-request translation (protocol.md §1, §3; conformance 1-12, 24, 25)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from api.translate.profiles import PROFILES, Profile, profile_for
from api.translate.request import to_openai_request
from api.translate.types import Context, TranslationError
from api.translate.validate import validate_request
from api.translate.web_search import QUERY_SCHEMA

OPENAI = PROFILES["openai"]
OLLAMA = PROFILES["ollama"]
VLLM = PROFILES["vllm"]
GEMINI = PROFILES["gemini"]
OPENROUTER = PROFILES["openrouter"]
DEEPSEEK = PROFILES["deepseek"]
GPT_5_2 = profile_for("openai", "gpt-5.2")
GPT_5_4 = profile_for("openai", "gpt-5.4")
O3 = profile_for("openai", "o3")

HI = [{"role": "user", "content": "hi"}]
BASH = {"name": "Bash", "description": "Run", "input_schema": {"type": "object", "properties": {}}}
BASH_FN = {
    "type": "function",
    "function": {"name": "Bash", "description": "Run", "parameters": BASH["input_schema"]},
}


def make_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "claude-opus-4-8", "max_tokens": 100, "messages": HI}
    body.update(overrides)
    return body


def translate(body: dict[str, Any], profile: Profile = OPENAI, cap: int | None = None) -> tuple[dict, Context]:
    return to_openai_request(validate_request(body), upstream_model="up-model", profile=profile, max_tokens_cap=cap)


def base(**extra: Any) -> dict[str, Any]:
    return {"model": "up-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100, **extra}


CASES = [
    pytest.param(make_body(), OPENAI, None, base(), id="c1_a_minimal_request_has_no_optional_keys"),
    pytest.param(
        make_body(
            system=[
                {"type": "text", "text": "one", "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": "two"},
                {"type": "text", "text": "three", "cache_control": {"type": "ephemeral"}},
            ]
        ),
        OPENAI,
        None,
        {**base(), "messages": [{"role": "system", "content": "one\n\ntwo\n\nthree"}, *base()["messages"]]},
        id="c2_system_blocks_join_into_one_leading_system_message",
    ),
    pytest.param(
        make_body(messages=[*HI, {"role": "system", "content": "be brief"}], system="top"),
        OPENAI,
        None,
        {
            **base(),
            "messages": [
                {"role": "system", "content": "top"},
                {"role": "user", "content": "hi"},
                {"role": "system", "content": "be brief"},
            ],
        },
        id="c3_mid_conversation_system_stays_in_place_for_openai",
    ),
    pytest.param(
        make_body(messages=[*HI, {"role": "system", "content": "be brief"}], system="top"),
        VLLM,
        None,
        {
            **base(),
            "messages": [
                {"role": "system", "content": "top"},
                {"role": "user", "content": "hi\n\n[System instruction]\nbe brief"},
            ],
        },
        id="c3_mid_conversation_system_folds_into_the_user_turn_for_strict_templates",
    ),
    pytest.param(make_body(max_tokens=64000), OPENAI, 16384, base(max_tokens=16384), id="c4_max_tokens_is_capped"),
    pytest.param(make_body(max_tokens=500), OPENAI, 16384, base(max_tokens=500), id="max_tokens_below_the_cap_stays"),
    pytest.param(
        make_body(temperature=0.2, top_p=0.9, thinking={"type": "adaptive"}, output_config={"effort": "high"}),
        GPT_5_2,
        None,
        {
            "model": "up-model",
            "messages": base()["messages"],
            "max_completion_tokens": 100,
            "reasoning_effort": "high",
        },
        id="c5_gpt_5_gets_max_completion_tokens_effort_and_no_sampling",
    ),
    pytest.param(
        make_body(thinking={"type": "adaptive"}, output_config={"effort": "high"}, tools=[BASH]),
        GPT_5_4,
        None,
        {
            "model": "up-model",
            "messages": base()["messages"],
            "max_completion_tokens": 100,
            "tools": [BASH_FN],
            "reasoning_effort": "none",
        },
        id="c6_gpt_5_4_with_tools_gets_effort_none",
    ),
    pytest.param(
        make_body(thinking={"type": "adaptive"}, output_config={"effort": "high"}),
        GPT_5_4,
        None,
        {
            "model": "up-model",
            "messages": base()["messages"],
            "max_completion_tokens": 100,
            "reasoning_effort": "high",
        },
        id="gpt_5_4_without_tools_keeps_the_effort",
    ),
    pytest.param(
        make_body(thinking={"type": "adaptive"}, output_config={"effort": "xhigh"}),
        OLLAMA,
        None,
        base(reasoning_effort="high"),
        id="c7_ollama_clamps_xhigh_to_high",
    ),
    pytest.param(
        make_body(thinking={"type": "disabled"}),
        OLLAMA,
        None,
        base(reasoning_effort="none"),
        id="c7_ollama_disabled_thinking_sends_none",
    ),
    pytest.param(
        make_body(thinking={"type": "enabled", "budget_tokens": 3000}),
        O3,
        None,
        {
            "model": "up-model",
            "messages": base()["messages"],
            "max_completion_tokens": 100,
            "reasoning_effort": "medium",
        },
        id="c8_a_budget_of_3000_becomes_medium",
    ),
    pytest.param(
        make_body(thinking={"type": "adaptive"}),
        OLLAMA,
        None,
        base(),
        id="adaptive_thinking_without_effort_omits_the_effort",
    ),
    pytest.param(
        make_body(thinking={"type": "adaptive"}, output_config={"effort": "max"}),
        OPENROUTER,
        None,
        base(reasoning={"effort": "max"}),
        id="openrouter_gets_a_reasoning_object",
    ),
    pytest.param(
        make_body(thinking={"type": "adaptive"}, output_config={"effort": "high"}, temperature=0.5),
        OPENAI,
        None,
        base(temperature=0.5),
        id="non_reasoning_openai_models_get_no_reasoning_params",
    ),
    pytest.param(
        make_body(thinking={"type": "enabled", "budget_tokens": 9000}),
        DEEPSEEK,
        None,
        base(),
        id="deepseek_gets_no_reasoning_params",
    ),
    pytest.param(
        make_body(
            tools=[{"type": "web_search_20250305", "name": "web_search", "max_uses": 5}],
            tool_choice={"type": "tool", "name": "web_search"},
        ),
        OPENAI,
        None,
        base(
            tools=[
                {
                    "type": "function",
                    "function": {"name": "web_search", "description": "Search the web.", "parameters": QUERY_SCHEMA},
                }
            ],
            tool_choice={"type": "function", "function": {"name": "web_search"}},
        ),
        id="c10_web_search_is_offered_as_a_function_whose_calls_are_answered_as_unavailable",
    ),
    pytest.param(
        make_body(tools=[BASH], tool_choice={"type": "any"}),
        OPENAI,
        None,
        base(tools=[BASH_FN], tool_choice="required"),
        id="c11_any_becomes_required",
    ),
    pytest.param(
        make_body(tools=[BASH], tool_choice={"type": "tool", "name": "Bash"}),
        OPENAI,
        None,
        base(tools=[BASH_FN], tool_choice={"type": "function", "function": {"name": "Bash"}}),
        id="c11_tool_becomes_a_named_function",
    ),
    pytest.param(
        make_body(tools=[BASH], tool_choice={"type": "none"}),
        OPENAI,
        None,
        base(tools=[BASH_FN], tool_choice="none"),
        id="c11_none_stays_none",
    ),
    pytest.param(
        make_body(tools=[BASH], tool_choice={"type": "auto", "disable_parallel_tool_use": True}),
        OPENAI,
        None,
        base(tools=[BASH_FN], tool_choice="auto", parallel_tool_calls=False),
        id="c11_auto_without_parallel_calls",
    ),
    pytest.param(
        make_body(top_k=5, metadata={"user_id": json.dumps({"device_id": "d" * 64, "session_id": "s"})}),
        OPENAI,
        None,
        base(),
        id="c12_top_k_and_metadata_are_absent_for_openai",
    ),
    pytest.param(make_body(top_k=5), VLLM, None, base(top_k=5), id="top_k_is_forwarded_to_vllm"),
    pytest.param(make_body(stop_sequences=["END"]), OPENAI, None, base(stop=["END"]), id="stop_sequences_become_stop"),
    pytest.param(
        make_body(stop_sequences=["a", "b", "c", "d", "e"]),
        OPENAI,
        None,
        base(),
        id="more_stop_sequences_than_the_limit_are_not_sent",
    ),
    pytest.param(make_body(stop_sequences=[]), OPENAI, None, base(), id="an_empty_stop_list_is_not_sent"),
    pytest.param(
        make_body(stop_sequences=["END"], temperature=0.3),
        O3,
        None,
        {"model": "up-model", "messages": base()["messages"], "max_completion_tokens": 100},
        id="reasoning_models_get_no_stop_and_no_temperature",
    ),
    pytest.param(
        make_body(stream=True),
        OPENAI,
        None,
        base(stream=True, stream_options={"include_usage": True}),
        id="streams_ask_for_usage",
    ),
    pytest.param(make_body(stream=False), OPENAI, None, base(), id="non_streams_send_no_stream_keys"),
    pytest.param(
        make_body(output_config={"format": {"type": "json_schema", "schema": {"type": "object"}}}),
        OPENAI,
        None,
        base(
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "response", "schema": {"type": "object"}, "strict": False},
            }
        ),
        id="output_format_becomes_a_json_schema_response_format",
    ),
    pytest.param(
        make_body(output_format={"type": "json_schema", "schema": {"type": "object", "additionalProperties": False}}),
        GEMINI,
        None,
        base(
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "response", "schema": {"type": "object"}, "strict": False},
            }
        ),
        id="the_legacy_output_format_is_cleaned_for_gemini",
    ),
    pytest.param(
        make_body(
            context_management={"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
            service_tier="auto",
            container="c1",
            inference_geo="us",
            speed="fast",
            cache_control={"type": "ephemeral"},
            unknown_key=1,
        ),
        OPENAI,
        None,
        base(),
        id="anthropic_only_and_unknown_keys_are_never_copied",
    ),
]


@pytest.mark.parametrize(("body", "profile", "cap", "expected"), CASES)
def test_requests_translate_to_exact_openai_bodies(
    body: dict[str, Any], profile: Profile, cap: int | None, expected: dict[str, Any]
) -> None:
    out, _ = translate(body, profile, cap)
    assert out == expected


def test_c7_the_ollama_profile_sends_max_tokens_not_max_completion_tokens() -> None:
    out, _ = translate(make_body(max_tokens=64000), OLLAMA, 8192)
    assert out["max_tokens"] == 8192
    assert "max_completion_tokens" not in out


@pytest.mark.parametrize(
    ("budget", "effort"),
    [
        pytest.param(1024, "low", id="1024_is_low"),
        pytest.param(2047, "low", id="2047_is_low"),
        pytest.param(2048, "medium", id="2048_is_medium"),
        pytest.param(4096, "high", id="4096_is_high"),
        pytest.param(8192, "xhigh", id="8192_is_xhigh"),
        pytest.param(16384, "max", id="16384_is_max"),
        pytest.param(100_000, "max", id="more_is_still_max"),
    ],
)
def test_thinking_budgets_fall_into_effort_buckets(budget: int, effort: str) -> None:
    out, _ = translate(make_body(max_tokens=200_000, thinking={"type": "enabled", "budget_tokens": budget}), O3)
    assert out["reasoning_effort"] == effort


@pytest.mark.parametrize(
    ("thinking", "expected"),
    [
        pytest.param(None, False, id="absent"),
        pytest.param({"type": "disabled"}, False, id="disabled"),
        pytest.param({"type": "adaptive"}, True, id="adaptive"),
        pytest.param({"type": "enabled", "budget_tokens": 2000}, True, id="enabled"),
        pytest.param({"type": "adaptive", "display": "omitted"}, False, id="omitted_display_suppresses_it"),
    ],
)
def test_the_context_says_whether_thinking_was_requested(thinking: dict[str, Any] | None, expected: bool) -> None:
    _, context = translate(make_body(thinking=thinking), DEEPSEEK)
    assert context.thinking is expected


def test_the_context_carries_what_the_response_side_needs() -> None:
    long_name = "t" * 100
    body = make_body(
        stream=True,
        stop_sequences=["a", "b", "c", "d", "e"],
        tools=[{"name": long_name, "input_schema": {"type": "object"}}],
    )
    out, context = translate(body, OPENAI)
    short = out["tools"][0]["function"]["name"]
    assert context == Context(
        requested_model="claude-opus-4-8",
        thinking=False,
        tool_names={short: long_name},
        stop_sequences=["a", "b", "c", "d", "e"],
        input_tokens_estimate=0,
        stream_usage=True,
    )


@pytest.mark.parametrize(
    ("profile", "stream", "expected"),
    [
        pytest.param(OPENAI, True, True, id="stream_with_usage"),
        pytest.param(OPENAI, False, False, id="no_stream"),
        pytest.param(Profile(stream_usage=False), True, False, id="upstream_without_usage"),
    ],
)
def test_the_context_knows_whether_usage_was_requested(profile: Profile, stream: bool, expected: bool) -> None:
    out, context = translate(make_body(stream=stream), profile)
    assert context.stream_usage is expected
    assert ("stream_options" in out) is expected


def test_c9_a_tool_keeps_its_schema_object_and_a_long_name_maps_back() -> None:
    schema = {"type": "object", "properties": {"q": {"type": "string"}}}
    long_name = "mcp__" + "n" * 95
    out, context = translate(make_body(tools=[{"name": long_name, "description": "d", "input_schema": schema}]))
    fn = out["tools"][0]["function"]
    assert fn["parameters"] is schema
    assert len(fn["name"]) <= 64
    assert context.original_tool_name(fn["name"]) == long_name


def test_c10_dropping_a_server_tool_logs_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        translate(make_body(tools=[{"type": "code_execution_20250825", "name": "code_execution"}]))
    assert any("code_execution" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


def test_c24_an_unknown_block_type_is_refused_with_its_path() -> None:
    body = make_body(messages=[{"role": "user", "content": [{"type": "hologram"}]}])
    with pytest.raises(TranslationError) as caught:
        translate(body)
    assert (caught.value.status, caught.value.error_type, caught.value.path) == (
        400,
        "invalid_request_error",
        "messages.0.content.0",
    )


def test_c25_a_missing_max_tokens_is_refused() -> None:
    body = make_body()
    del body["max_tokens"]
    with pytest.raises(TranslationError) as caught:
        translate(body)
    assert (caught.value.status, caught.value.path) == (400, "max_tokens")


def test_the_request_body_is_not_mutated() -> None:
    body = make_body(
        system=[{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}],
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "a"}]},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t", "name": "Bash", "input": {"c": 1}}],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "ok"}]},
        ],
        tools=[BASH],
        stop_sequences=["x"],
    )
    snapshot = json.dumps(body, sort_keys=True)
    translate(body, GEMINI)
    translate(body, OLLAMA)
    assert json.dumps(body, sort_keys=True) == snapshot
