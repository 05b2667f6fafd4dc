"""What a request needs, read from its body and headers: images anywhere (tool results too), thinking,
tools by name and type; the input counted by the tokenizer only when some route's threshold is reached."""

import base64
import json
from types import SimpleNamespace

import pytest

from api.admission.needs import request_needs
from api.translate.tokens import count_tokens
from bench import claude_code_body
from routing.conditions import parse_conditions
from routing.needs import read_needs
from routing.resolve import ProviderInfo, RouteInfo, compile_pattern

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40).decode()
IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}


def body(**fields):
    return {"model": "m", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}], **fields}


def tool_result(content):
    return {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": content}]}


@pytest.mark.parametrize(
    ("messages", "has_images"),
    [
        pytest.param([{"role": "user", "content": "text only"}], False, id="text"),
        pytest.param([{"role": "user", "content": [IMAGE]}], True, id="image-block"),
        pytest.param([tool_result([{"type": "text", "text": "a screenshot:"}, IMAGE])], True, id="in-tool-result"),
        pytest.param(
            [{"role": "user", "content": [{"type": "document", "source": {"type": "url", "url": "http://d/x.pdf"}}]}],
            True,
            id="document",
        ),
        pytest.param([tool_result("plain text result")], False, id="text-tool-result"),
    ],
)
def test_it_finds_images_anywhere_in_the_messages(messages, has_images):
    assert read_needs(body(messages=messages), {}, 100).has_images is has_images


@pytest.mark.parametrize(
    ("thinking", "expected"),
    [
        pytest.param({"type": "enabled", "budget_tokens": 2048}, True, id="enabled"),
        pytest.param({"type": "adaptive"}, True, id="adaptive"),
        pytest.param({"type": "disabled"}, False, id="disabled"),
        pytest.param(None, False, id="absent"),
    ],
)
def test_it_reads_whether_thinking_is_asked_for(thinking, expected):
    fields = {"thinking": thinking} if thinking else {}
    assert read_needs(body(**fields), {}, 100).thinking is expected


def test_it_lists_every_tools_name_and_type_lowercased():
    tools = [
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
        {"name": "Bash", "description": "run", "input_schema": {"type": "object"}},
    ]
    needs = read_needs(body(tools=tools), {}, 100)
    assert needs.tools == ("web_search", "web_search_20250305", "bash")
    assert needs.max_tokens == 100


def _request(payload: dict, headers=None):
    raw = json.dumps(payload).encode()
    return SimpleNamespace(body=raw, headers=headers or {})


def _route(when=None, window=None):
    provider = ProviderInfo(id=1, name="p", kind="openai", base_url="http://x", api_key="k")
    return RouteInfo(
        1, 10, "*", provider, "m", conditions=parse_conditions(when), context_window=window, regex=compile_pattern("*")
    )


async def test_the_claude_code_body_is_not_tokenized_below_a_long_context_threshold():
    payload = claude_code_body.body("hello", stream=False)
    needs = await request_needs(_request(payload), payload, [_route({"min_input_tokens": 60000}), _route()])
    assert not needs.counted
    assert count_tokens(payload) <= needs.input_tokens < 60000  # the bound is above the tokenizer's count


async def test_a_request_past_the_bound_is_counted_by_the_tokenizer():
    payload = body(messages=[{"role": "user", "content": "word " * 20000}])
    needs = await request_needs(_request(payload), payload, [_route({"min_input_tokens": 15000})])
    assert needs.counted and needs.input_tokens == count_tokens(payload)


async def test_no_route_testing_size_means_no_count():
    payload = body(messages=[{"role": "user", "content": "word " * 20000}])
    needs = await request_needs(_request(payload), payload, [_route({"thinking": True})])
    assert not needs.counted
