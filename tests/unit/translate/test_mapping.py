"""Helpers shared by the stream and non-stream response paths: stop reason, usage, tool input, errors."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from api.translate.errors import ApiError
from api.translate.mapping import (
    UpstreamFormatError,
    content_text,
    error_type_for_upstream,
    estimate_tokens,
    matched_stop_sequence,
    parse_tool_arguments,
    reasoning_text,
    stop_reason,
    tokens_for_chars,
    upstream_api_error,
    usage_from_openai,
)


@pytest.mark.parametrize(
    ("finish", "kwargs", "expected"),
    [
        pytest.param(
            "tool_calls", {"has_tool_use": True}, "tool_use", id="tool-calls-with-a-tool-block-is-tool-use"
        ),
        pytest.param(
            "tool_calls",
            {"has_tool_use": False},
            "end_turn",
            id="tool-calls-without-a-tool-block-ends-the-turn",
        ),
        pytest.param(
            "function_call", {"has_tool_use": True}, "tool_use", id="legacy-function-call-is-tool-use"
        ),
        pytest.param(
            "stop", {"has_tool_use": True}, "tool_use", id="stop-with-a-tool-block-is-tool-use-for-gemini"
        ),
        pytest.param("stop", {"has_tool_use": False}, "end_turn", id="stop-is-end-turn"),
        pytest.param(
            "stop",
            {"has_tool_use": False, "stop_sequence": "END"},
            "stop_sequence",
            id="stop-on-a-matched-sequence",
        ),
        pytest.param(
            "stop",
            {"has_tool_use": True, "stop_sequence": "END"},
            "tool_use",
            id="tool-use-wins-over-a-sequence",
        ),
        pytest.param(
            "length", {"has_tool_use": True}, "max_tokens", id="length-is-max-tokens-even-mid-tool-call"
        ),
        pytest.param("content_filter", {"has_tool_use": False}, "refusal", id="content-filter-is-refusal"),
        pytest.param("stop", {"has_tool_use": True, "refusal": True}, "refusal", id="a-refusal-wins"),
        pytest.param("STOP", {"has_tool_use": False}, "end_turn", id="case-is-ignored"),
        pytest.param(None, {"has_tool_use": False}, "end_turn", id="null-is-end-turn"),
        pytest.param(None, {"has_tool_use": True}, "end_turn", id="null-with-tools-is-still-end-turn"),
        pytest.param("eos_token", {"has_tool_use": False}, "end_turn", id="unknown-is-end-turn"),
    ],
)
def test_stop_reason_maps_finish_reasons(finish: str | None, kwargs: dict[str, Any], expected: str) -> None:
    assert stop_reason(finish, **kwargs) == expected


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        pytest.param({"stop_reason": "END"}, "END", id="a-known-stop-string-matches"),
        pytest.param({"stop_reason": "OTHER"}, None, id="a-string-we-did-not-send-does-not"),
        pytest.param({"stop_reason": 151643}, None, id="a-stop-token-id-does-not"),
        pytest.param({}, None, id="no-stop-reason-does-not"),
    ],
)
def test_matched_stop_sequence_reads_vllms_stop_reason(choice: dict[str, Any], expected: str | None) -> None:
    assert matched_stop_sequence(choice, ["END"]) == expected


def usage(input_tokens: int, output_tokens: int, read: int = 0, creation: int = 0) -> dict[str, int]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": creation,
        "cache_read_input_tokens": read,
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            {"prompt_tokens": 1000, "completion_tokens": 50, "prompt_tokens_details": {"cached_tokens": 800}},
            (usage(200, 50, read=800), False),
            id="openai-cached-tokens-are-cache-reads-excluded-from-input",
        ),
        pytest.param(
            {"prompt_tokens": 1000, "completion_tokens": 5, "prompt_cache_hit_tokens": 600},
            (usage(400, 5, read=600), False),
            id="deepseek-cache-hits-are-cache-reads",
        ),
        pytest.param(
            {
                "prompt_tokens": 1000,
                "completion_tokens": 5,
                "prompt_tokens_details": {"cached_tokens": 300, "cache_write_tokens": 500},
            },
            (usage(200, 5, read=300, creation=500), False),
            id="cache-writes-are-cache-creation",
        ),
        pytest.param(
            {"prompt_tokens": 10, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": 64}},
            (usage(0, 1, read=64), False),
            id="input-never-goes-negative",
        ),
        pytest.param(None, (usage(123, 45), True), id="no-usage-is-estimated"),
        pytest.param(
            {"prompt_tokens": None, "completion_tokens": None, "prompt_tokens_details": None},
            (usage(123, 45), True),
            id="null-counts-are-estimated",
        ),
        pytest.param(
            {
                "prompt_tokens": "many",
                "completion_tokens": True,
                "prompt_tokens_details": {"cached_tokens": -3},
            },
            (usage(123, 45), True),
            id="garbage-counts-are-estimated",
        ),
        pytest.param(
            {"prompt_tokens": 90.0, "completion_tokens": 7},
            (usage(90, 7), False),
            id="float-counts-are-accepted",
        ),
        pytest.param(
            {"completion_tokens": 7}, (usage(123, 7), True), id="a-missing-prompt-count-is-estimated-alone"
        ),
        pytest.param("not a dict", (usage(123, 45), True), id="a-non-object-usage-is-estimated"),
    ],
)
def test_usage_from_openai_follows_anthropic_semantics(
    raw: Any, expected: tuple[dict[str, int], bool]
) -> None:
    assert usage_from_openai(raw, input_estimate=123, output_estimate=45) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param('{"command":"ls"}', {"command": "ls"}, id="an-object-is-kept"),
        pytest.param("", {}, id="empty-is-an-empty-object"),
        pytest.param("  ", {}, id="whitespace-is-an-empty-object"),
        pytest.param(None, {}, id="none-is-an-empty-object"),
        pytest.param("[1]", {"value": [1]}, id="an-array-is-wrapped"),
        pytest.param('"ls"', {"value": "ls"}, id="a-string-is-wrapped"),
        pytest.param("null", {"value": None}, id="null-is-wrapped"),
        pytest.param({"a": 1}, {"a": 1}, id="an-already-parsed-object-is-kept"),
        pytest.param("{bad", {}, id="invalid-json-is-an-empty-object"),
    ],
)
def test_parse_tool_arguments_always_gives_an_object(raw: Any, expected: dict[str, Any]) -> None:
    assert parse_tool_arguments(raw) == expected


def test_invalid_tool_arguments_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="api.translate.mapping"):
        parse_tool_arguments('{"command": "ls')
    assert "not valid JSON" in caplog.text


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param({"reasoning_content": "r"}, "r", id="deepseek-reasoning-content"),
        pytest.param({"reasoning": "r"}, "r", id="vllm-and-ollama-reasoning"),
        pytest.param({"reasoning_content": "", "reasoning": "r"}, "r", id="the-non-empty-one-wins"),
        pytest.param({"reasoning_content": None}, "", id="null-is-empty"),
        pytest.param({"reasoning": {"effort": "high"}}, "", id="a-non-string-is-ignored"),
        pytest.param({}, "", id="absent-is-empty"),
    ],
)
def test_reasoning_text_reads_either_field(obj: dict[str, Any], expected: str) -> None:
    assert reasoning_text(obj) == expected


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param("Hi", "Hi", id="a-string"),
        pytest.param(None, "", id="null"),
        pytest.param(
            [{"type": "text", "text": "a"}, {"type": "image_url"}, {"type": "text", "text": "b"}],
            "ab",
            id="text-parts-of-a-list",
        ),
        pytest.param([{"type": "text", "text": None}, "x"], "", id="malformed-parts-are-skipped"),
    ],
)
def test_content_text_accepts_strings_and_part_lists(content: Any, expected: str) -> None:
    assert content_text(content) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", 0, id="empty-is-zero"),
        pytest.param("a", 1, id="one-char-is-one-token"),
        pytest.param("abcd", 1, id="four-chars-are-one-token"),
        pytest.param("abcde", 2, id="five-chars-round-up"),
        pytest.param("x" * 400, 100, id="about-four-chars-a-token"),
    ],
)
def test_estimate_tokens_is_about_four_chars_a_token(text: str, expected: int) -> None:
    assert estimate_tokens(text) == expected == tokens_for_chars(len(text))


CONTEXT = (
    "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens."
)


@pytest.mark.parametrize(
    ("status", "body_error", "expected"),
    [
        pytest.param(
            400,
            {"message": CONTEXT, "type": "invalid_request_error", "code": "context_length_exceeded"},
            ApiError(
                400,
                "invalid_request_error",
                "prompt is too long: 130000 tokens > 128000 maximum",
                should_retry=False,
            ),
            id="context-length-400-is-an-invalid-request-in-anthropic-wording",
        ),
        pytest.param(
            503,
            {"message": "Service Unavailable"},
            ApiError(529, "overloaded_error", "the upstream provider is overloaded: Service Unavailable"),
            id="503-is-overloaded",
        ),
        pytest.param(
            None,
            {"message": "Overloaded", "type": "overloaded_error"},
            ApiError(529, "overloaded_error", "the upstream provider is overloaded: Overloaded"),
            id="in-band-overloaded-type",
        ),
        pytest.param(
            None,
            {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"},
            ApiError(429, "rate_limit_error", "Rate limit reached"),
            id="in-band-rate-limit-code",
        ),
        pytest.param(
            None,
            {"code": 429, "message": "Rate limit exceeded: free-models-per-day"},
            ApiError(429, "rate_limit_error", "Rate limit exceeded: free-models-per-day"),
            id="openrouter-http-status-in-code",
        ),
        pytest.param(
            None,
            {"message": "You exceeded your current quota", "type": "insufficient_quota"},
            ApiError(402, "billing_error", "You exceeded your current quota", should_retry=False),
            id="in-band-insufficient-quota-is-billing",
        ),
        pytest.param(
            None,
            {"message": CONTEXT, "code": "context_length_exceeded"},
            ApiError(
                400,
                "invalid_request_error",
                "prompt is too long: 130000 tokens > 128000 maximum",
                should_retry=False,
            ),
            id="in-band-context-length",
        ),
        pytest.param(
            None,
            {"message": "model 'x' not found", "type": "not_found_error"},
            ApiError(404, "not_found_error", "model 'x' not found"),
            id="ollama-anthropic-style-type-names",
        ),
        pytest.param(
            None,
            "llama runner process has terminated",
            ApiError(500, "api_error", "the upstream provider failed: llama runner process has terminated"),
            id="a-bare-string-error-is-an-api-error",
        ),
        pytest.param(
            None,
            {"message": "The server had an error while processing your request.", "type": "server_error"},
            ApiError(
                500,
                "api_error",
                "the upstream provider failed: The server had an error while processing your request.",
            ),
            id="openai-server-error",
        ),
        pytest.param(
            504,
            {"message": "upstream timed out"},
            ApiError(504, "timeout_error", "the upstream provider timed out: upstream timed out"),
            id="504-is-a-timeout",
        ),
    ],
)
def test_upstream_api_error_maps_status_and_body(
    status: int | None, body_error: Any, expected: ApiError
) -> None:
    assert upstream_api_error(status, body_error) == expected
    assert error_type_for_upstream(status, body_error) == expected.error_type


def test_a_format_error_becomes_a_502_api_error() -> None:
    err = UpstreamFormatError("the completion has no choices").to_api_error()
    assert (err.status, err.error_type) == (502, "api_error")
    assert "no choices" in err.message


def test_a_format_error_carrying_an_upstream_error_maps_it() -> None:
    err = UpstreamFormatError("error body", upstream_error={"message": "busy", "type": "overloaded_error"})
    assert err.to_api_error().error_type == "overloaded_error"
