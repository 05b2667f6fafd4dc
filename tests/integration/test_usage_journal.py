"""Every request journals its row (api/accounting/journal.py): an A line once admitted, P lines with a
stream's tokens so far, and its final D line before the response ends, refused requests included."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.factories import make_provider, make_route
from tests.integration.conftest import UPSTREAM, SlowStream, chunk, completion, messages_body, sse
from tests.integration.test_passthrough import ANTHROPIC
from tests.journal_files import lines_of


async def _post(async_client, secret: str, body: dict, path: str = "/v1/messages"):
    return await async_client.post(
        path, data=json.dumps(body), content_type="application/json", headers={"x-api-key": secret}
    )


@pytest.fixture
def every_chunk_is_progress(monkeypatch):
    """Progress lines at every chunk instead of once a second."""
    monkeypatch.setattr("api.accounting.exchange.PROGRESS_SECONDS", 0.0)


async def test_an_answered_request_journals_its_admission_then_its_final_record(
    gateway, upstream, async_client, journal_dir
):
    upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(200, json=completion({"content": "ok"}))
    )
    response = await _post(async_client, gateway["secret"], messages_body())
    assert response.status_code == 200

    admitted, final = lines_of(journal_dir, response["request-id"])  # read before the writer commits anything
    assert admitted["t"] == "A" and final["t"] == "D"
    key = gateway["key"]
    assert {k: admitted["rec"][k] for k in ("key_id", "user_id", "requested_model", "provider_name", "stream")} == {
        "key_id": key.id,
        "user_id": key.user_id,
        "requested_model": "claude-opus-4-8",
        "provider_name": "openai-main",
        "stream": False,
    }
    assert admitted["rec"]["output_tokens"] == 0 and admitted["rec"]["route_id"] == gateway["route"].id
    assert (final["rec"]["status"], final["rec"]["input_tokens"], final["rec"]["output_tokens"]) == (200, 11, 3)


@pytest.mark.parametrize(
    ("secret", "path", "status"),
    [
        pytest.param("sk-not-a-key", "/v1/messages", 401, id="unknown-key"),
        pytest.param(None, "/v1/nope", 404, id="unknown-path"),
    ],
)
async def test_a_refused_request_journals_only_its_final_record(
    gateway, async_client, journal_dir, secret, path, status
):
    response = await _post(async_client, secret or gateway["secret"], messages_body(), path=path)
    assert response.status_code == status

    [final] = lines_of(journal_dir, response["request-id"])
    assert (final["t"], final["rec"]["status"]) == ("D", status)


async def test_a_stream_journals_its_tokens_so_far_and_its_end_before_message_stop_goes_out(
    gateway, upstream, async_client, journal_dir, every_chunk_is_progress
):
    usage = {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16}
    body = SlowStream(
        [
            (0, sse(chunk({"content": "abcd"}))),
            (0, sse(chunk({"content": "efghijkl"}))),
            (0, sse(chunk(finish="stop", usage=usage), "data: [DONE]\n\n")),
        ]
    )
    upstream.post(f"{UPSTREAM}/chat/completions").mock(return_value=httpx.Response(200, stream=body))
    sent = messages_body(stream=True)
    response = await _post(async_client, gateway["secret"], sent)
    request_id = response["request-id"]

    kinds_when_sent = []
    async for part in response.streaming_content:
        kinds_when_sent.append(([line["t"] for line in lines_of(journal_dir, request_id)], b"message_stop" in part))
    assert kinds_when_sent[-1] == (["A", "P", "P", "D"], True), "the D line was there when message_stop went out"
    assert all(kinds[-1] != "D" for kinds, _ in kinds_when_sent[:-1])

    estimate = len(json.dumps(sent)) // 4  # the local input estimate until the upstream reports usage
    lines = lines_of(journal_dir, request_id)
    progress = [(p["usage"]["input_tokens"], p["usage"]["output_tokens"], p["est"]) for p in lines if p["t"] == "P"]
    assert progress == [(estimate, 1, True), (estimate, 3, True)]  # 4 then 12 characters streamed
    assert all(p["ms"] >= 0 for p in lines if p["t"] == "P")
    final = lines[-1]["rec"]
    assert (final["input_tokens"], final["output_tokens"], final["estimated"], final["stream"]) == (11, 5, False, True)


PASSTHROUGH_EVENTS = [
    {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "content": [],
            "usage": {"input_tokens": 25, "output_tokens": 1},
        },
    },
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": "Hello there, streaming world!"},
    },
    {"type": "content_block_stop", "index": 0},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 9},
    },
    {"type": "message_stop"},
]


@pytest.fixture
def anthropic_key(gateway) -> str:
    """A client key, with claude-* models routed to an Anthropic-compatible provider."""
    provider = make_provider(name="claude", kind="anthropic", base_url=ANTHROPIC)
    make_route(provider, pattern="claude-*", target_model="claude-sonnet-4-5", priority=-1)
    return gateway["secret"]


async def test_a_passthrough_stream_journals_progress_and_its_end_before_message_stop_goes_out(
    anthropic_key, upstream, async_client, journal_dir, every_chunk_is_progress
):
    frames = [
        f"event: {e['type']}\ndata: {json.dumps(e, separators=(',', ':'))}\n\n".encode() for e in PASSTHROUGH_EVENTS
    ]
    upstream.post(f"{ANTHROPIC}/v1/messages").mock(
        return_value=httpx.Response(
            200, stream=SlowStream([(0, f) for f in frames]), headers={"content-type": "text/event-stream"}
        )
    )
    response = await _post(async_client, anthropic_key, messages_body(stream=True))
    request_id = response["request-id"]

    seen = []
    async for part in response.streaming_content:
        seen.append((part, [line["t"] for line in lines_of(journal_dir, request_id)][-1]))
    assert [part for part, _ in seen] == frames, "bytes relayed unchanged"
    assert [kind for _, kind in seen] == ["P", "P", "P", "P", "P", "D"], "the D line before message_stop went out"

    lines = lines_of(journal_dir, request_id)
    progress = [(p["usage"]["input_tokens"], p["usage"]["output_tokens"], p["est"]) for p in lines if p["t"] == "P"]
    # input as the upstream reported it; output at least the streamed text's estimate (29 characters)
    assert progress == [(25, 1, True), (25, 1, True), (25, 8, True), (25, 8, True), (25, 9, True)]
    assert (lines[-1]["rec"]["output_tokens"], lines[-1]["rec"]["estimated"]) == (9, False)
