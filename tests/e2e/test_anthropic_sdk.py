"""The official Anthropic Python SDK against the live gateway, with a fake OpenAI upstream behind it."""

from __future__ import annotations

import json
import re

import anthropic
import pytest

from tests.e2e.servers import BIG, CLIENT_KEY, MAX_TOKENS_LIMIT, MIDDLE, READ_TIMEOUT, RETRY_MAX_WAIT, SMALL
from tests.fakes.openai_upstream import Error, Stall, Text, ToolCall

pytestmark = pytest.mark.e2e

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "The current weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["C", "F"]}},
        "required": ["city"],
    },
}


def test_a_message_comes_back_with_the_upstream_text_and_usage(client, fake_upstream, gateway):
    fake_upstream.script(Text("Paris is the capital of France.", prompt_tokens=31, completion_tokens=9))

    message = client.messages.create(
        model="claude-opus-4-8",
        max_tokens=20_000,
        system="Answer briefly.",
        messages=[{"role": "user", "content": "Capital of France?"}],
    )

    assert [(b.type, b.text) for b in message.content] == [("text", "Paris is the capital of France.")]
    assert (message.model, message.role, message.stop_reason) == ("claude-opus-4-8", "assistant", "end_turn")
    assert (message.usage.input_tokens, message.usage.output_tokens) == (31, 9)
    [sent] = fake_upstream.chat_requests()
    assert sent.body["model"] == BIG
    assert sent.body["max_tokens"] == MAX_TOKENS_LIMIT
    assert not sent.body.get("stream")
    assert sent.body["messages"] == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Capital of France?"},
    ]
    assert sent.headers["authorization"] == "Bearer sk-fake-upstream-key"
    [row] = gateway.usage_rows(request_id=message._request_id)
    routed = (row["status"], row["stream"], row["requested_model"], row["upstream_model"])
    assert routed == (200, 0, "claude-opus-4-8", BIG)
    assert (row["input_tokens"], row["output_tokens"], row["estimated"]) == (31, 9, 0)


async def test_the_async_client_gets_a_message_routed_by_model_family(async_client, fake_upstream, gateway):
    fake_upstream.script(Text("Async hello."))

    message = await async_client.messages.create(
        model="claude-sonnet-4-7-20260301",
        max_tokens=300,
        messages=[{"role": "user", "content": "Hi"}],
    )

    assert message.content[0].text == "Async hello."
    assert message.model == "claude-sonnet-4-7-20260301"
    [sent] = fake_upstream.chat_requests()
    assert (sent.body["model"], sent.body["max_tokens"]) == (MIDDLE, 300)
    [row] = gateway.usage_rows(request_id=message._request_id)
    assert (row["upstream_model"], row["input_tokens"], row["output_tokens"]) == (MIDDLE, 21, 7)


def test_a_stream_delivers_the_text_in_pieces_and_the_final_usage(client, fake_upstream, gateway):
    text = "Streaming works through the gateway, piece by piece."
    fake_upstream.script(Text(text, chunks=6, prompt_tokens=40, completion_tokens=12))

    with client.messages.stream(
        model="claude-haiku-4-5",
        max_tokens=500,
        messages=[{"role": "user", "content": "Stream please"}],
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
        request_id = stream.request_id

    assert len(pieces) == 6
    assert "".join(pieces) == text
    assert final.content[0].text == text
    assert (final.stop_reason, final.model) == ("end_turn", "claude-haiku-4-5")
    assert (final.usage.input_tokens, final.usage.output_tokens) == (40, 12)
    [sent] = fake_upstream.chat_requests()
    assert (sent.body["model"], sent.body["stream"]) == (SMALL, True)
    assert sent.body["stream_options"] == {"include_usage": True}
    [row] = gateway.usage_rows(request_id=request_id)
    assert (row["status"], row["stream"], row["input_tokens"], row["output_tokens"]) == (200, 1, 40, 12)


async def test_the_async_client_streams_too(async_client, fake_upstream, gateway):
    fake_upstream.script(Text("Async streaming answer.", chunks=3, completion_tokens=5))

    async with async_client.messages.stream(
        model="claude-opus-4-8",
        max_tokens=64_000,
        messages=[{"role": "user", "content": "Go"}],
    ) as stream:
        pieces = [piece async for piece in stream.text_stream]
        final = await stream.get_final_message()
        request_id = stream.request_id

    assert "".join(pieces) == "Async streaming answer."
    assert final.usage.output_tokens == 5
    [sent] = fake_upstream.chat_requests()
    assert (sent.body["model"], sent.body["max_tokens"]) == (BIG, MAX_TOKENS_LIMIT)
    [row] = gateway.usage_rows(request_id=request_id)
    assert (row["stream"], row["output_tokens"]) == (1, 5)


def test_a_streamed_tool_call_round_trips_as_tool_use_and_tool_result(client, fake_upstream, gateway):
    fake_upstream.script(
        ToolCall(
            "get_weather", {"city": "Oslo", "unit": "C"}, call_id="call_weather_1", fragments=5, text="Let me check."
        ),
        Text("It is 4 degrees in Oslo."),
    )
    question = {"role": "user", "content": "Weather in Oslo?"}

    with client.messages.stream(
        model="claude-opus-4-8",
        max_tokens=1000,
        tools=[WEATHER_TOOL],
        messages=[question],
    ) as stream:
        first = stream.get_final_message()
        first_request_id = stream.request_id

    assert first.stop_reason == "tool_use"
    assert [b.type for b in first.content] == ["text", "tool_use"]
    assert first.content[0].text == "Let me check."
    tool_use = first.content[1]
    assert (tool_use.id, tool_use.name, tool_use.input) == (
        "call_weather_1",
        "get_weather",
        {"city": "Oslo", "unit": "C"},
    )
    [sent] = fake_upstream.chat_requests()
    assert sent.body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "The current weather in a city.",
                "parameters": WEATHER_TOOL["input_schema"],
            },
        }
    ]

    second = client.messages.create(
        model="claude-opus-4-8",
        max_tokens=1000,
        tools=[WEATHER_TOOL],
        messages=[
            question,
            {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "4 degrees, cloudy"}],
            },
        ],
    )

    assert second.content[0].text == "It is 4 degrees in Oslo."
    _, follow_up = fake_upstream.chat_requests()
    assistant, tool = follow_up.body["messages"][-2:]
    assert assistant["role"] == "assistant"
    assert assistant["content"] == "Let me check."
    [call] = assistant["tool_calls"]
    assert (call["id"], call["type"], call["function"]["name"]) == ("call_weather_1", "function", "get_weather")
    assert json.loads(call["function"]["arguments"]) == {"city": "Oslo", "unit": "C"}
    assert tool == {"role": "tool", "tool_call_id": call["id"], "content": "4 degrees, cloudy"}
    [first_row] = gateway.usage_rows(request_id=first_request_id)
    [second_row] = gateway.usage_rows(request_id=second._request_id)
    assert (first_row["stream"], first_row["status"], second_row["stream"], second_row["status"]) == (1, 200, 0, 200)


def test_a_tool_call_id_anthropic_cannot_carry_is_mapped_and_still_pairs_with_its_result(client, fake_upstream):
    fake_upstream.script(ToolCall("get_weather", {"city": "Rome"}, call_id="functions.get_weather:0"), Text("Sunny."))
    question = {"role": "user", "content": "Weather in Rome?"}

    first = client.messages.create(model="claude-opus-4-8", max_tokens=100, tools=[WEATHER_TOOL], messages=[question])
    [tool_use] = first.content
    second = client.messages.create(
        model="claude-opus-4-8",
        max_tokens=100,
        tools=[WEATHER_TOOL],
        messages=[
            question,
            {"role": "assistant", "content": [tool_use.model_dump(exclude_none=True)]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "sunny"}]},
        ],
    )

    assert re.fullmatch(r"[a-zA-Z0-9_-]+", tool_use.id)
    assert tool_use.input == {"city": "Rome"}
    assert second.content[0].text == "Sunny."
    _, follow_up = fake_upstream.chat_requests()
    assistant, tool = follow_up.body["messages"][-2:]
    assert tool["role"] == "tool"
    assert tool["tool_call_id"] == assistant["tool_calls"][0]["id"]


def test_count_tokens_answers_locally_and_grows_with_the_prompt(client, fake_upstream, gateway):
    short = client.messages.count_tokens(model="claude-opus-4-8", messages=[{"role": "user", "content": "Hello"}])
    longer = client.messages.count_tokens(
        model="claude-opus-4-8", messages=[{"role": "user", "content": "Hello " * 200}]
    )
    with_tools = client.messages.count_tokens(
        model="claude-opus-4-8", messages=[{"role": "user", "content": "Hello"}], tools=[WEATHER_TOOL]
    )

    assert 0 < short.input_tokens < 50
    assert 200 <= longer.input_tokens < 400
    assert with_tools.input_tokens > short.input_tokens + 20
    assert fake_upstream.chat_requests() == []
    [row] = gateway.usage_rows(request_id=short._request_id)
    counted = (row["endpoint"], row["status"], row["input_tokens"], row["estimated"])
    assert counted == ("count_tokens", 200, short.input_tokens, 1)


HI = [{"role": "user", "content": "Hi"}]


def test_an_upstream_429_asking_for_a_long_wait_is_returned_at_once_as_a_rate_limit_error(
    client, fake_upstream, gateway
):
    wait = str(RETRY_MAX_WAIT + 4)
    fake_upstream.script(Error(429, message="Rate limit reached for requests", headers={"retry-after": wait}))

    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(model="claude-opus-4-8", max_tokens=100, messages=HI)

    error = caught.value
    assert error.status_code == 429
    assert error.body["error"]["type"] == "rate_limit_error"
    assert "Rate limit reached" in error.body["error"]["message"]
    assert error.body["request_id"] == error.request_id
    assert error.response.headers["retry-after"] == wait
    assert len(fake_upstream.chat_requests()) == 1
    [row] = gateway.usage_rows(request_id=error.request_id)
    assert (row["status"], row["error_type"], row["attempts"]) == (429, "rate_limit_error", 1)


def test_an_upstream_429_asking_for_a_short_wait_is_retried_and_answered(client, fake_upstream, gateway):
    fake_upstream.script(Error(429, headers={"retry-after": "1"}), Text("Second time lucky."))

    message = client.messages.create(model="claude-opus-4-8", max_tokens=100, messages=HI)

    assert message.content[0].text == "Second time lucky."
    first, retry = fake_upstream.chat_requests()
    assert retry.body == first.body
    [row] = gateway.usage_rows(request_id=message._request_id)
    assert (row["status"], row["attempts"], row["output_tokens"]) == (200, 2, 7)


def test_an_upstream_429_fails_a_stream_before_it_starts(client, fake_upstream, gateway):
    fake_upstream.script(Error(429, headers={"retry-after": str(RETRY_MAX_WAIT + 4)}))

    with (
        pytest.raises(anthropic.RateLimitError) as caught,
        client.messages.stream(model="claude-opus-4-8", max_tokens=100, messages=HI) as stream,
    ):
        list(stream.text_stream)

    assert caught.value.response.headers["content-type"].startswith("application/json")
    [sent] = fake_upstream.chat_requests()
    assert sent.body["stream"] is True
    [row] = gateway.usage_rows(request_id=caught.value.request_id)
    assert (row["status"], row["stream"]) == (429, 1)


def test_an_upstream_that_stays_overloaded_is_a_529_overloaded_error_after_the_retries(client, fake_upstream, gateway):
    attempts = 1 + gateway.provider_retries()
    fake_upstream.script(*[Error(503, message="The server is overloaded")] * attempts)

    with pytest.raises(anthropic.OverloadedError) as caught:
        client.messages.create(model="claude-opus-4-8", max_tokens=100, messages=HI)

    assert isinstance(caught.value, anthropic.APIStatusError)
    assert caught.value.status_code == 529
    assert caught.value.body["error"]["type"] == "overloaded_error"
    assert len(fake_upstream.chat_requests()) == attempts
    [row] = gateway.usage_rows(request_id=caught.value.request_id)
    assert (row["status"], row["error_type"], row["attempts"]) == (529, "overloaded_error", attempts)


def test_an_upstream_that_stays_silent_is_a_504_timeout_error_after_the_retries(client, fake_upstream, gateway):
    attempts = 1 + gateway.provider_retries()
    fake_upstream.script(*[Stall(READ_TIMEOUT + 2, then=Text("too late"))] * attempts)

    with pytest.raises(anthropic.InternalServerError) as caught:
        client.messages.create(model="claude-opus-4-8", max_tokens=100, messages=HI)

    assert caught.value.status_code == 504
    assert caught.value.body["error"]["type"] == "timeout_error"
    assert len(fake_upstream.chat_requests()) == attempts
    [row] = gateway.usage_rows(request_id=caught.value.request_id)
    assert (row["status"], row["error_type"], row["attempts"]) == (504, "timeout_error", attempts)


def test_an_unknown_content_block_is_a_bad_request_never_sent_upstream(client, fake_upstream, gateway):
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(
            model="claude-opus-4-8",
            max_tokens=100,
            messages=[{"role": "user", "content": [{"type": "hologram", "data": "..."}]}],
        )

    assert caught.value.status_code == 400
    assert caught.value.body["error"]["type"] == "invalid_request_error"
    assert "hologram" in caught.value.body["error"]["message"]
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert fake_upstream.chat_requests() == []
    [row] = gateway.usage_rows(request_id=caught.value.request_id)
    assert (row["status"], row["error_type"]) == (400, "invalid_request_error")


def test_a_wrong_client_key_is_an_authentication_error(gateway, fake_upstream):
    with (
        anthropic.Anthropic(base_url=gateway.url, api_key=CLIENT_KEY + "-wrong", max_retries=0) as client,
        pytest.raises(anthropic.AuthenticationError) as caught,
    ):
        client.messages.create(model="claude-opus-4-8", max_tokens=100, messages=HI)

    assert caught.value.body["error"]["type"] == "authentication_error"
    assert fake_upstream.chat_requests() == []
    [row] = gateway.usage_rows(request_id=caught.value.request_id)
    assert (row["status"], row["user_id"], row["key_id"]) == (401, None, None)
