"""Errors the proxy returns, and how upstream HTTP errors map to them (protocol.md §6)."""

from __future__ import annotations

import json

import pytest

from api.translate.errors import (
    MAX_MESSAGE_CHARS,
    STATUS_FOR_TYPE,
    ApiError,
    bad_upstream_response,
    connect_error,
    error_body,
    error_event,
    from_translation,
    from_upstream,
    timeout_error,
    type_for_status,
)
from api.translate.types import TranslationError


def openai_error(message: str, type_: str | None = None, code: str | None = None) -> bytes:
    return json.dumps({"error": {"message": message, "type": type_, "param": None, "code": code}}).encode()


def test_error_body_has_the_anthropic_shape_with_the_request_id() -> None:
    assert error_body("not_found_error", "no such model", "req_1") == {
        "type": "error",
        "error": {"type": "not_found_error", "message": "no such model"},
        "request_id": "req_1",
    }


def test_error_event_has_the_stream_shape_without_a_request_id() -> None:
    err = ApiError(529, "overloaded_error", "busy")
    assert error_event(err) == {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        pytest.param(400, "invalid_request_error", id="400-is-an-invalid-request"),
        pytest.param(401, "authentication_error", id="401-is-authentication"),
        pytest.param(402, "billing_error", id="402-is-billing"),
        pytest.param(403, "permission_error", id="403-is-permission"),
        pytest.param(404, "not_found_error", id="404-is-not-found"),
        pytest.param(413, "request_too_large", id="413-is-request-too-large"),
        pytest.param(429, "rate_limit_error", id="429-is-rate-limit"),
        pytest.param(500, "api_error", id="500-is-api-error"),
        pytest.param(504, "timeout_error", id="504-is-timeout"),
        pytest.param(529, "overloaded_error", id="529-is-overloaded"),
        pytest.param(409, "invalid_request_error", id="other-4xx-is-an-invalid-request"),
        pytest.param(422, "invalid_request_error", id="422-is-an-invalid-request"),
        pytest.param(502, "api_error", id="other-5xx-is-api-error"),
        pytest.param(503, "api_error", id="503-is-api-error-by-status-alone"),
    ],
)
def test_type_for_status_follows_anthropics_table(status: int, expected: str) -> None:
    assert type_for_status(status) == expected


def test_status_for_type_is_the_inverse_of_type_for_status() -> None:
    assert all(type_for_status(status) == kind for kind, status in STATUS_FOR_TYPE.items())


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        pytest.param(
            400,
            openai_error("Invalid 'messages[1].content'", "invalid_request_error"),
            ApiError(400, "invalid_request_error", "Invalid 'messages[1].content'"),
            id="400-passes-the-upstream-message-through",
        ),
        pytest.param(
            422,
            json.dumps({"detail": [{"loc": ["body", "messages"], "msg": "field required"}]}),
            ApiError(400, "invalid_request_error", "body.messages: field required"),
            id="422-fastapi-validation-list-becomes-a-400",
        ),
        pytest.param(
            402,
            openai_error("Payment required"),
            ApiError(402, "billing_error", "Payment required", should_retry=False),
            id="402-is-billing-and-not-retried",
        ),
        pytest.param(
            429,
            openai_error("You exceeded your current quota", "insufficient_quota", "insufficient_quota"),
            ApiError(402, "billing_error", "You exceeded your current quota", should_retry=False),
            id="429-insufficient-quota-is-billing-not-rate-limit",
        ),
        pytest.param(
            403,
            openai_error("Project does not have access to model"),
            ApiError(403, "permission_error", "Project does not have access to model"),
            id="403-is-permission",
        ),
        pytest.param(
            404,
            json.dumps({"error": "model 'qwen3:8b' not found"}),
            ApiError(404, "not_found_error", "model 'qwen3:8b' not found"),
            id="404-ollama-string-error-is-not-found",
        ),
        pytest.param(
            408,
            openai_error("Request timed out"),
            ApiError(504, "timeout_error", "the upstream provider timed out: Request timed out"),
            id="408-is-a-504-timeout",
        ),
        pytest.param(
            413,
            json.dumps({"message": "Payload Too Large"}),
            ApiError(413, "request_too_large", "Payload Too Large"),
            id="413-is-request-too-large",
        ),
        pytest.param(
            429,
            openai_error("Rate limit reached for requests", "requests", "rate_limit_exceeded"),
            ApiError(429, "rate_limit_error", "Rate limit reached for requests"),
            id="429-is-rate-limit",
        ),
        pytest.param(
            500,
            openai_error("The server had an error"),
            ApiError(500, "api_error", "the upstream provider failed: The server had an error"),
            id="500-is-api-error",
        ),
        pytest.param(
            502,
            b"Bad Gateway",
            ApiError(500, "api_error", "the upstream provider failed: Bad Gateway"),
            id="502-plain-text-is-a-500-api-error",
        ),
        pytest.param(
            503,
            json.dumps({"detail": "Service Unavailable"}),
            ApiError(529, "overloaded_error", "the upstream provider is overloaded: Service Unavailable"),
            id="503-is-overloaded",
        ),
        pytest.param(
            500,
            openai_error("The engine is currently overloaded"),
            ApiError(
                529,
                "overloaded_error",
                "the upstream provider is overloaded: The engine is currently overloaded",
            ),
            id="500-saying-overloaded-is-overloaded",
        ),
        pytest.param(
            504,
            b"",
            ApiError(
                504,
                "timeout_error",
                "the upstream provider timed out: upstream returned HTTP 504 (empty body)",
            ),
            id="504-with-an-empty-body-is-a-timeout",
        ),
        pytest.param(
            599,
            json.dumps({"object": "error", "message": "boom", "type": "InternalServerError", "code": 599}),
            ApiError(500, "api_error", "the upstream provider failed: boom"),
            id="other-5xx-vllm-shape-is-api-error",
        ),
        pytest.param(
            409,
            json.dumps([{"error": {"code": 409, "message": "Conflict", "status": "ABORTED"}}]),
            ApiError(400, "invalid_request_error", "Conflict"),
            id="other-4xx-gemini-list-shape-is-an-invalid-request",
        ),
        pytest.param(
            302,
            b"",
            ApiError(502, "api_error", "invalid response from the upstream provider: unexpected HTTP 302"),
            id="a-non-error-status-is-a-bad-upstream-response",
        ),
    ],
)
def test_from_upstream_maps_each_row_of_the_table(status: int, body: bytes | str, expected: ApiError) -> None:
    assert from_upstream(status, body, {}) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            openai_error(
                "This model's maximum context length is 128000 tokens. However, your messages resulted in "
                "130000 tokens. Please reduce the length of the messages.",
                "invalid_request_error",
                "context_length_exceeded",
            ),
            "prompt is too long: 130000 tokens > 128000 maximum",
            id="openai-wording-with-numbers",
        ),
        pytest.param(
            json.dumps(
                {
                    "object": "error",
                    "message": "This model's maximum context length is 32,768 tokens. However, you requested "
                    "40,000 tokens (39,000 in the messages, 1000 in the completion).",
                    "type": "BadRequestError",
                    "code": 400,
                }
            ),
            "prompt is too long: 39000 tokens > 32768 maximum",
            id="vllm-wording-with-thousands-separators",
        ),
        pytest.param(
            json.dumps(
                {
                    "error": {
                        "code": 400,
                        "message": "the request exceeds the available context size, try increasing it",
                        "type": "exceed_context_size_error",
                        "n_prompt_tokens": 9000,
                        "n_ctx": 8192,
                    }
                }
            ),
            "prompt is too long: 9000 tokens > 8192 maximum",
            id="llama-cpp-numbers-from-fields",
        ),
        pytest.param(
            openai_error("Input has too many tokens for this model", code="context_length_exceeded"),
            "prompt is too long: Input has too many tokens for this model",
            id="no-numbers-keeps-the-upstream-message",
        ),
        pytest.param(
            openai_error("prompt is too long: 210000 tokens > 200000 maximum"),
            "prompt is too long: 210000 tokens > 200000 maximum",
            id="anthropic-wording-is-not-doubled",
        ),
        pytest.param(
            openai_error(
                "This model's maximum context length is 8192 tokens. However, you requested 9500 tokens "
                "(9000 in the messages, 500 in the completion). Please reduce the length of the messages."
            ),
            "prompt is too long: 9000 tokens > 8192 maximum",
            id="openai-requested-wording-uses-the-messages-count",
        ),
        pytest.param(
            openai_error(
                "You passed 202753 input tokens and requested 0 output tokens. However, the model's context "
                "length is only 202752 tokens, resulting in a maximum input length of 202752 tokens."
            ),
            "prompt is too long: 202753 tokens > 202752 maximum",
            id="new-vllm-wording",
        ),
        pytest.param(
            json.dumps(
                [
                    {
                        "error": {
                            "code": 400,
                            "status": "INVALID_ARGUMENT",
                            "message": "The input token count "
                            "(1200000) exceeds the maximum number of tokens allowed (1048576).",
                        }
                    }
                ]
            ),
            "prompt is too long: 1200000 tokens > 1048576 maximum",
            id="gemini-wording",
        ),
    ],
)
def test_context_length_errors_use_anthropics_prompt_is_too_long_wording(
    body: bytes | str, expected: str
) -> None:
    assert from_upstream(400, body, {}) == ApiError(
        400, "invalid_request_error", expected, should_retry=False
    )


MAX_TOKENS_TOO_LARGE = (
    "input length and `max_tokens` exceed context limit: 2778 + 8000 > 4096, "
    "decrease input length or `max_tokens` and try again"
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            openai_error(
                "'max_tokens' or 'max_completion_tokens' is too large: 8000. This model's maximum context "
                "length is 4096 tokens and your request has 2778 input tokens (8000 > 4096 - 2778). None",
                "BadRequestError",
            ),
            MAX_TOKENS_TOO_LARGE,
            id="vllm-max-tokens-too-large",
        ),
        pytest.param(
            openai_error(
                "This model's maximum context length is 4096 tokens. However, you requested 10778 tokens "
                "(2778 in the messages, 8000 in the completion)."
            ),
            MAX_TOKENS_TOO_LARGE,
            id="openai-completion-does-not-fit",
        ),
        pytest.param(
            openai_error(MAX_TOKENS_TOO_LARGE),
            MAX_TOKENS_TOO_LARGE,
            id="anthropic-compatible-upstream-passes-through",
        ),
    ],
)
def test_a_prompt_that_fits_but_leaves_no_room_for_max_tokens_uses_anthropics_max_tokens_wording(
    body: bytes | str, expected: str
) -> None:
    assert from_upstream(400, body, {}) == ApiError(
        400, "invalid_request_error", expected, should_retry=False
    )


def test_numbers_that_show_no_overflow_keep_the_upstream_message() -> None:
    body = openai_error(
        "context length is 8192 tokens; your request has 100 tokens", code="context_length_exceeded"
    )
    err = from_upstream(400, body, {})
    assert err.message == "prompt is too long: context length is 8192 tokens; your request has 100 tokens"


def test_a_413_about_the_context_window_is_a_prompt_too_long_400() -> None:
    err = from_upstream(413, openai_error("Input exceeds the context window of this model"), {})
    assert err == ApiError(
        400,
        "invalid_request_error",
        "prompt is too long: Input exceeds the context window of this model",
        should_retry=False,
    )


def test_a_429_saying_too_many_tokens_stays_a_rate_limit() -> None:
    err = from_upstream(429, openai_error("Rate limit reached: too many tokens per min"), {})
    assert (err.status, err.error_type) == (429, "rate_limit_error")


def test_a_401_says_the_upstream_rejected_the_gateways_key_not_the_users_login() -> None:
    err = from_upstream(401, openai_error("Incorrect API key provided: sk-proj-abcdefgh1234"), {})
    assert (err.status, err.error_type) == (401, "authentication_error")
    assert err.message.startswith("the upstream provider rejected the gateway's own API key")
    assert "not your login" in err.message
    assert "sk-proj" not in err.message


def test_a_429_forwards_retry_after_and_retry_after_ms() -> None:
    err = from_upstream(429, openai_error("slow down"), {"Retry-After": "7", "retry-after-ms": "6500"})
    assert err == ApiError(429, "rate_limit_error", "slow down", retry_after="7", retry_after_ms="6500")
    assert err.headers() == {"retry-after": "7", "retry-after-ms": "6500"}


@pytest.mark.parametrize(("sent", "expected"), [("false", False), ("TRUE", True), ("maybe", None), (None, None)])
def test_the_upstreams_x_should_retry_is_kept(sent: str | None, expected: bool | None) -> None:
    err = from_upstream(429, openai_error("quota"), {} if sent is None else {"x-should-retry": sent})
    assert err.should_retry is expected
    assert err.headers().get("x-should-retry") == (None if expected is None else str(expected).lower())


def test_retry_after_as_an_http_date_is_forwarded() -> None:
    err = from_upstream(503, b"", {"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"})
    assert err.retry_after == "Wed, 21 Oct 2026 07:28:00 GMT"


def test_a_retry_after_header_with_a_line_break_is_dropped() -> None:
    err = from_upstream(429, b"", {"retry-after": "7\r\nx-evil: 1"})
    assert err.retry_after is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
            "the upstream provider failed: upstream returned HTTP 502 (non-JSON body)",
            id="html-page-is-never-passed-through",
        ),
        pytest.param(
            b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body><center>nginx</center></body>",
            "the upstream provider failed: upstream returned HTTP 502 (non-JSON body)",
            id="nginx-page-without-doctype",
        ),
        pytest.param(
            json.dumps({"error": "<html><body>Cloudflare</body></html>"}),
            "the upstream provider failed: upstream returned HTTP 502 (no error message)",
            id="html-inside-json-is-never-passed-through",
        ),
        pytest.param(
            b'{"error": {"message": "caf\xe9 \xff broken"}}',
            "the upstream provider failed: caf\ufffd \ufffd broken",
            id="invalid-utf8-is-replaced-not-raised",
        ),
        pytest.param(
            b"\xff\xfe\x00garbage",
            "the upstream provider failed: \ufffd\ufffdgarbage",
            id="invalid-utf8-plain-text-is-replaced-and-control-bytes-dropped",
        ),
        pytest.param(
            json.dumps({"error": {"code": "server_error"}}),
            "the upstream provider failed: upstream returned HTTP 502 (no error message)",
            id="json-without-a-message",
        ),
        pytest.param(
            b"   \n",
            "the upstream provider failed: upstream returned HTTP 502 (empty body)",
            id="blank-body",
        ),
        pytest.param(
            json.dumps(
                {"error": {"message": "Provider returned error", "metadata": {"raw": "model crashed"}}}
            ),
            "the upstream provider failed: Provider returned error (model crashed)",
            id="openrouter-raw-provider-message-is-kept",
        ),
    ],
)
def test_from_upstream_tolerates_odd_bodies(body: bytes | str, expected: str) -> None:
    assert from_upstream(502, body, {}).message == expected


def test_a_huge_message_is_truncated() -> None:
    err = from_upstream(400, openai_error("x" * 100_000), {})
    assert len(err.message) == MAX_MESSAGE_CHARS
    assert err.message.endswith("…")


def test_a_body_over_a_megabyte_is_not_parsed() -> None:
    err = from_upstream(500, b"{" + b" " * (2 << 20) + b"}", {})
    assert err.message == "the upstream provider failed: upstream returned HTTP 500 (oversized body)"


def test_headers_never_reach_the_message() -> None:
    headers = {"authorization": "Bearer sk-secret-value", "x-api-key": "sk-other-secret", "retry-after": "1"}
    err = from_upstream(500, b"", headers)
    assert "secret" not in err.message
    assert "secret" not in json.dumps(err.headers())


def test_a_key_echoed_by_the_upstream_is_redacted() -> None:
    err = from_upstream(400, openai_error("bad key sk-live-0123456789 and Bearer abc.def"), {})
    assert err.message == "bad key [redacted] and [redacted]"


@pytest.mark.parametrize(
    ("err", "expected"),
    [
        pytest.param(
            connect_error(),
            ApiError(502, "api_error", "could not connect to the upstream provider"),
            id="connect-refused-is-a-502-api-error",
        ),
        pytest.param(
            timeout_error("read"),
            ApiError(504, "timeout_error", "the upstream provider timed out (read)"),
            id="read-timeout-is-a-504-timeout",
        ),
        pytest.param(
            bad_upstream_response("no choices"),
            ApiError(502, "api_error", "invalid response from the upstream provider: no choices"),
            id="bad-upstream-json-is-a-502-api-error",
        ),
        pytest.param(
            from_translation(TranslationError("unknown block type 'hologram'", "messages.0.content.0")),
            ApiError(
                400,
                "invalid_request_error",
                "messages.0.content.0: unknown block type 'hologram'",
                should_retry=False,
            ),
            id="translation-refusal-is-a-400-not-retried",
        ),
        pytest.param(
            from_translation(TranslationError("too big", status=413, error_type="request_too_large")),
            ApiError(413, "request_too_large", "too big", should_retry=False),
            id="translation-refusal-keeps-its-status",
        ),
    ],
)
def test_proxy_made_errors_have_the_documented_status_and_type(err: ApiError, expected: ApiError) -> None:
    assert err == expected


@pytest.mark.parametrize(
    ("err", "expected"),
    [
        pytest.param(ApiError(500, "api_error", "x"), {}, id="no-hints-no-headers"),
        pytest.param(
            ApiError(400, "invalid_request_error", "x", should_retry=False),
            {"x-should-retry": "false"},
            id="should-retry-false",
        ),
        pytest.param(
            ApiError(429, "rate_limit_error", "x", retry_after="3", should_retry=True),
            {"retry-after": "3", "x-should-retry": "true"},
            id="retry-after-and-should-retry-true",
        ),
    ],
)
def test_headers_carry_the_retry_hints(err: ApiError, expected: dict[str, str]) -> None:
    assert err.headers() == expected
