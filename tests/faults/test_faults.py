"""Upstream faults against the live gateway: every misbehaviour ends in a bounded, Anthropic-shaped answer.

For each fault: before the first byte the client gets the mapped HTTP status and error type (never
HTML, never a stack trace); after it, one `error` SSE event ends the stream. Nothing takes longer than
one read timeout plus a margin, the gateway closes any upstream connection it abandoned, and exactly
one usage row records the outcome.
"""

from __future__ import annotations

import pytest

from tests.faults.fault_upstream import wait_until
from tests.faults.live import (
    SHORT,
    assert_error_response,
    assert_stream_complete,
    assert_stream_error,
    body_for,
    model_for,
    new_tag,
    one_row,
    post,
)

pytestmark = pytest.mark.e2e  # a live gateway: runs in `make test`, not again in `make test-pg`

BOUND = SHORT.hang_bound
RELEASE = 1.5
"""Seconds the gateway may take to close an upstream connection it has given up on."""

# fault -> (HTTP status, Anthropic error type) before the first byte, stream or not.
BEFORE_FIRST_BYTE = {
    "reset_before_headers": (502, "api_error"),
    "close_before_headers": (502, "api_error"),
    "stall_before_headers": (504, "timeout_error"),
    "html_502": (500, "api_error"),
    "rate_limit": (429, "rate_limit_error"),
}
# Non-streaming answers whose status line said 200 but whose body is unusable.
WHOLE_BODY_FAULTS = {
    "reset_mid_stream": (502, "api_error"),
    "stall_mid_stream": (504, "timeout_error"),
    "garbage": (502, "api_error"),
    "half_line": (502, "api_error"),
    "truncated_json": (502, "api_error"),
    "invalid_json": (502, "api_error"),
    "error_chunk": (500, "api_error"),
    "html_200": (502, "api_error"),
    "wrong_type": (502, "api_error"),
    "never_end": (504, "timeout_error"),
}
# Streams that started (200, message_start sent) and then failed: the type of the closing `error` event.
MID_STREAM_FAULTS = {
    "reset_mid_stream": "api_error",
    "stall_mid_stream": "timeout_error",
    "garbage": "api_error",
    "half_line": "api_error",
    "truncated_json": "api_error",
    "invalid_json": "api_error",
    "error_chunk": "api_error",
    "no_done": "api_error",
    "wrong_type": "api_error",  # a whole JSON completion where a stream was asked for: no chunk ever came
}
# The gateway abandons these upstream answers half-way (the upstream holds the connection open after
# them): it must close the connection itself. Non-streaming bad bodies arrive whole, so only the stalls.
ABANDONED = {"stall_before_headers", "stall_mid_stream", "never_end"}
ABANDONED_STREAMS = ABANDONED | {"invalid_json", "error_chunk"}
STATUS_OF_TYPE = {"api_error": 500, "timeout_error": 504}


def assert_upstream_released(fault_upstream, tag: str, fault: str) -> None:
    """Every upstream connection of `tag` ended up idle after a complete answer, or closed; abandoned ones
    closed by the gateway itself."""
    for req in fault_upstream.requests_for(tag):
        if fault in (ABANDONED_STREAMS if req.stream else ABANDONED):
            assert fault_upstream.wait_closed_by_client(req.connection, RELEASE), f"{fault}: upstream left open"
        else:
            assert fault_upstream.wait_released(req, RELEASE), f"{fault}: upstream answer left half-read"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("fault", list(BEFORE_FIRST_BYTE))
async def test_a_failure_before_the_first_byte_is_a_plain_anthropic_error(live_gateway, fault_upstream, fault, stream):
    tag = new_tag()
    status, error_type = BEFORE_FIRST_BYTE[fault]

    reply = await post(live_gateway, body_for(tag, fault, stream=stream), bound=BOUND)

    body = assert_error_response(reply, status, error_type)
    if fault == "rate_limit":
        assert reply.headers.get("retry-after") == "1", "the upstream's retry-after is forwarded"
    [upstream_request] = fault_upstream.requests_for(tag)
    assert (upstream_request.fault, upstream_request.stream) == (fault, stream)
    assert_upstream_released(fault_upstream, tag, fault)
    row = one_row(live_gateway, requested_model=model_for(tag))
    assert (row["status"], row["error_type"], row["stream"]) == (status, error_type, int(stream))
    assert (row["request_id"], row["attempts"]) == (body["request_id"], 1)


@pytest.mark.parametrize("fault", list(WHOLE_BODY_FAULTS))
async def test_a_broken_non_streaming_body_is_a_plain_anthropic_error(live_gateway, fault_upstream, fault):
    tag = new_tag()
    status, error_type = WHOLE_BODY_FAULTS[fault]

    reply = await post(live_gateway, body_for(tag, fault, stream=False), bound=BOUND)

    body = assert_error_response(reply, status, error_type)
    assert_upstream_released(fault_upstream, tag, fault)
    row = one_row(live_gateway, requested_model=model_for(tag))
    assert (row["status"], row["error_type"], row["request_id"]) == (status, error_type, body["request_id"])


@pytest.mark.parametrize("fault", list(MID_STREAM_FAULTS))
async def test_a_stream_that_breaks_after_the_first_byte_ends_with_one_error_event(live_gateway, fault_upstream, fault):
    tag = new_tag()
    error_type = MID_STREAM_FAULTS[fault]

    reply = await post(live_gateway, body_for(tag, fault, stream=True), bound=BOUND)

    assert_stream_error(reply, error_type)
    assert_upstream_released(fault_upstream, tag, fault)
    row = one_row(live_gateway, requested_model=model_for(tag))
    assert (row["status"], row["error_type"], row["stream"]) == (STATUS_OF_TYPE[error_type], error_type, 1)
    assert row["request_id"] == reply.headers["request-id"]


async def test_an_html_page_sent_as_a_200_stream_is_a_502_before_the_first_byte(live_gateway, fault_upstream):
    tag = new_tag()

    reply = await post(live_gateway, body_for(tag, "html_200", stream=True), bound=BOUND)

    assert_error_response(reply, 502, "api_error")
    assert_upstream_released(fault_upstream, tag, "html_200")
    row = one_row(live_gateway, requested_model=model_for(tag))
    assert (row["status"], row["error_type"]) == (502, "api_error")


async def test_a_stream_that_never_sends_done_still_ends_at_its_last_usage_chunk(live_gateway, fault_upstream):
    """The upstream sends the whole answer (finish reason and usage), then only keep-alive comments."""
    tag = new_tag()

    reply = await post(live_gateway, body_for(tag, "never_end", stream=True), bound=BOUND)

    assert assert_stream_complete(reply) == f"Answer for {tag}."
    [req] = fault_upstream.requests_for(tag)
    assert fault_upstream.wait_closed_by_client(req.connection, RELEASE), "the endless upstream stream was left open"
    row = one_row(live_gateway, requested_model=model_for(tag))
    assert (row["status"], row["input_tokens"], row["output_tokens"]) == (200, req.prompt_tokens, req.completion_tokens)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_slow_drip_answer_arrives_whole(live_gateway, fault_upstream, stream):
    """Frames split across writes and separated by more than the ping interval, less than the read timeout."""
    tag = new_tag()

    reply = await post(live_gateway, body_for(tag, "drip", stream=stream), bound=BOUND + 2)

    [req] = fault_upstream.requests_for(tag)
    if stream:
        assert assert_stream_complete(reply) == f"Answer for {tag}."
        assert any(e["type"] == "ping" for e in reply.events), "silences longer than PING_INTERVAL carry pings"
    else:
        assert reply.status == 200, reply.text
        assert reply.json()["content"] == [{"type": "text", "text": f"Answer for {tag}."}]
    row = one_row(live_gateway, requested_model=model_for(tag))
    assert (row["status"], row["error_type"], row["estimated"]) == (200, "", 0)
    assert (row["input_tokens"], row["output_tokens"]) == (req.prompt_tokens, req.completion_tokens)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_healthy_answer_is_relayed_and_counted(live_gateway, fault_upstream, stream):
    tag = new_tag()

    reply = await post(live_gateway, body_for(tag, "ok", stream=stream), bound=BOUND)

    [req] = fault_upstream.requests_for(tag)
    if stream:
        assert assert_stream_complete(reply) == f"Answer for {tag}."
    else:
        assert reply.status == 200 and reply.json()["usage"]["output_tokens"] == req.completion_tokens
    # The fake marks an answer complete once its last write returns: that can be after our reply is in.
    assert wait_until(lambda: req.completed, 2.0), "the upstream wrote its whole answer"
    if not stream:  # a stream's connection is closed after [DONE] (see the report), a whole answer's pooled
        assert not req.connection.closed, "a complete answer leaves the connection pooled"
    row = one_row(live_gateway, requested_model=model_for(tag))
    assert (row["status"], row["attempts"]) == (200, 1)
    assert (row["input_tokens"], row["output_tokens"]) == (req.prompt_tokens, req.completion_tokens)


# --- retries ------------------------------------------------------------------------------------
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("first", ["reset_before_headers", "close_before_headers", "rate_limit", "html_502"])
async def test_a_retryable_failure_then_a_healthy_answer_succeeds_on_the_second_attempt(
    live_gateway, fault_upstream, first, stream
):
    tag = new_tag()

    reply = await post(live_gateway, body_for(tag, first, "ok", stream=stream, retrying=True), bound=BOUND + 2)

    if stream:
        assert assert_stream_complete(reply) == f"Answer for {tag}."
    else:
        assert reply.status == 200, reply.text
        assert reply.json()["content"][0]["text"] == f"Answer for {tag}."
    assert [r.fault for r in fault_upstream.requests_for(tag)] == [first, "ok"]
    row = one_row(live_gateway, requested_model=model_for(tag, retrying=True))
    assert (row["status"], row["attempts"], row["provider_name"]) == (200, 2, "retrying")


async def test_retries_of_a_stalled_upstream_stop_at_the_retry_deadline(live_gateway, fault_upstream):
    tag = new_tag()
    bound = SHORT.retry_deadline + SHORT.request + 3.0

    reply = await post(live_gateway, body_for(tag, "stall_before_headers", stream=False, retrying=True), bound=bound)

    assert_error_response(reply, 504, "timeout_error")
    attempts = fault_upstream.requests_for(tag)
    assert 2 <= len(attempts) <= 3, "a 4 s deadline leaves room for a second 2 s attempt, not a fourth"
    for req in attempts:
        assert fault_upstream.wait_closed_by_client(req.connection, RELEASE)
    row = one_row(live_gateway, requested_model=model_for(tag, retrying=True))
    assert (row["status"], row["error_type"], row["attempts"]) == (504, "timeout_error", len(attempts))


async def test_a_failure_without_retries_is_tried_once(live_gateway, fault_upstream):
    tag = new_tag()

    reply = await post(live_gateway, body_for(tag, "reset_before_headers", "ok", stream=False), bound=BOUND)

    assert_error_response(reply, 502, "api_error")
    assert len(fault_upstream.requests_for(tag)) == 1
    assert one_row(live_gateway, requested_model=model_for(tag))["attempts"] == 1
