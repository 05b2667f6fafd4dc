"""Route conditions in the resolver: every condition given must hold; a route whose conditions fail is
skipped for the next by priority; scope still applies; a request that does not fit a window skips it."""

import pytest

from routing.conditions import parse_conditions
from routing.needs import RequestNeeds
from routing.resolve import ProviderInfo, RouteInfo, compile_pattern, resolve, token_threshold

PROVIDER = ProviderInfo(id=1, name="p", kind="openai", base_url="http://x", api_key="k")


def route(id, pattern="*", priority=100, when=None, users=(), window=None, cap=None):
    return RouteInfo(
        id=id,
        priority=priority,
        pattern=pattern,
        provider=PROVIDER,
        target_model=f"m{id}",
        user_ids=frozenset(users),
        conditions=parse_conditions(when),
        context_window=window,
        max_tokens_cap=cap,
        regex=compile_pattern(pattern),
    )


def needs(**fields):
    fields.setdefault("max_tokens", 1000)
    return RequestNeeds(**fields)


def chosen(routes, request_needs, **caller):
    found = resolve("claude-sonnet-4-5", routes, needs=request_needs, **caller)
    return found.id if found else None


@pytest.mark.parametrize(
    ("when", "request_needs", "holds"),
    [
        pytest.param({"min_input_tokens": 60000}, needs(input_tokens=70000), True, id="long-input"),
        pytest.param({"min_input_tokens": 60000}, needs(input_tokens=60000), True, id="input-at-the-minimum"),
        pytest.param({"min_input_tokens": 60000}, needs(input_tokens=59999), False, id="short-input"),
        pytest.param({"thinking": True}, needs(thinking=True), True, id="thinking-asked"),
        pytest.param({"thinking": True}, needs(), False, id="thinking-not-asked"),
        pytest.param({"thinking": False}, needs(), True, id="no-thinking-wanted-none-asked"),
        pytest.param({"thinking": False}, needs(thinking=True), False, id="no-thinking-wanted-but-asked"),
        pytest.param({"has_images": True}, needs(has_images=True), True, id="image"),
        pytest.param({"has_images": True}, needs(), False, id="no-image"),
        pytest.param({"has_images": False}, needs(has_images=True), False, id="text-only-route-gets-no-image"),
        pytest.param({"tool": "web_search*"}, needs(tools=("web_search_20250305",)), True, id="server-tool"),
        pytest.param({"tool": "web_search*"}, needs(tools=("websearch", "bash")), False, id="client-tool-named-alike"),
        pytest.param({"tool": "web_search*"}, needs(), False, id="no-tools"),
        pytest.param({"tool": "BASH"}, needs(tools=("bash",)), True, id="tool-glob-ignores-case"),
        pytest.param(
            {"header": {"anthropic-beta": "*context-1m*"}},
            needs(headers={"anthropic-beta": "claude-code-20250219,context-1m-2025-08-07"}),
            True,
            id="beta-header",
        ),
        pytest.param(
            {"header": {"anthropic-beta": "*context-1m*"}},
            needs(headers={"anthropic-beta": "claude-code-20250219"}),
            False,
            id="other-beta",
        ),
        pytest.param({"header": {"x-team": "*"}}, needs(headers={}), False, id="absent-header-never-matches"),
    ],
)
def test_each_condition_alone_decides_whether_its_route_matches(when, request_needs, holds):
    routes = [route(1, priority=10, when=when), route(2, priority=20)]
    assert chosen(routes, request_needs) == (1 if holds else 2)


COMBINED = {"min_input_tokens": 1000, "thinking": True, "tool": "web_search*", "header": {"x-team": "red"}}
ALL_MET = {"input_tokens": 5000, "thinking": True, "tools": ("web_search",), "headers": {"x-team": "red"}}


@pytest.mark.parametrize("missing", ["input_tokens", "thinking", "tools", "headers"])
def test_combined_conditions_all_must_hold(missing):
    routes = [route(1, priority=10, when=COMBINED), route(2, priority=20)]
    assert chosen(routes, needs(**ALL_MET)) == 1
    short = {k: v for k, v in ALL_MET.items() if k != missing}
    assert chosen(routes, needs(**short)) == 2


def test_a_scoped_route_with_conditions_needs_both_the_caller_and_the_conditions():
    routes = [route(1, priority=10, when={"thinking": True}, users=[7]), route(2, priority=20)]
    assert chosen(routes, needs(thinking=True), user_id=7) == 1
    assert chosen(routes, needs(thinking=True), user_id=8) == 2
    assert chosen(routes, needs(), user_id=7) == 2


def test_priority_decides_between_two_routes_whose_conditions_both_hold():
    think, image = {"thinking": True}, {"has_images": True}
    both = needs(thinking=True, has_images=True)
    assert (
        chosen(
            sorted([route(1, priority=30, when=think), route(2, priority=20, when=image)], key=lambda r: r.priority),
            both,
        )
        == 2
    )
    assert chosen([route(1, priority=10, when=think), route(2, priority=20, when=image)], both) == 1


def test_conditions_failing_everywhere_leave_no_route():
    assert chosen([route(1, when={"thinking": True})], needs()) is None


@pytest.mark.parametrize(
    ("input_tokens", "max_tokens", "expected"),
    [
        pytest.param(100_000, 28_000, 1, id="fits-exactly"),
        pytest.param(100_000, 28_001, 2, id="one-token-over-goes-to-the-long-route"),
        pytest.param(150_000, 1_000, 2, id="long-input"),
        pytest.param(990_000, 20_000, None, id="fits-nowhere"),
    ],
)
def test_a_request_that_does_not_fit_a_routes_window_skips_it(input_tokens, max_tokens, expected):
    routes = [route(1, priority=10, window=128_000), route(2, priority=20, window=1_000_000)]
    assert chosen(routes, needs(input_tokens=input_tokens, max_tokens=max_tokens)) == expected


def test_the_window_counts_max_tokens_under_the_routes_cap():
    routes = [route(1, priority=10, window=128_000, cap=8_000), route(2, priority=20)]
    assert chosen(routes, needs(input_tokens=120_000, max_tokens=64_000)) == 1
    assert chosen(routes, needs(input_tokens=120_001, max_tokens=64_000)) == 2


@pytest.mark.parametrize(
    ("routes", "max_tokens", "threshold"),
    [
        pytest.param([route(1)], 1000, None, id="no-route-tests-size"),
        pytest.param([route(1, when={"min_input_tokens": 60000}), route(2, window=200_000)], 32_000, 60_000, id="min"),
        pytest.param([route(1, when={"min_input_tokens": 60000}), route(2, window=64_000)], 32_000, 32_001, id="win"),
        pytest.param([route(1, window=8_000)], 10_000, 0, id="max-tokens-alone-overflows"),
    ],
)
def test_the_token_threshold_is_the_smallest_input_size_any_route_tests(routes, max_tokens, threshold):
    assert token_threshold(routes, max_tokens) == threshold


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param([], "must be a JSON object", id="not-an-object"),
        pytest.param({"min_tokens": 5}, "unknown condition 'min_tokens'", id="unknown-name"),
        pytest.param({"min_input_tokens": 0}, "min_input_tokens: must be a whole number >= 1", id="zero"),
        pytest.param({"min_input_tokens": "60000"}, "min_input_tokens: must be", id="string-number"),
        pytest.param({"min_input_tokens": True}, "min_input_tokens: must be", id="bool-is-not-a-number"),
        pytest.param({"thinking": "yes"}, "thinking: must be true or false", id="thinking-string"),
        pytest.param({"has_images": 1}, "has_images: must be true or false", id="images-int"),
        pytest.param({"tool": ""}, "tool: must be a non-empty glob", id="empty-tool"),
        pytest.param({"header": {}}, "header: must be an object", id="empty-header"),
        pytest.param({"header": {"bad name": "x"}}, "is not a header name", id="header-name"),
        pytest.param({"header": {"x-a": 3}}, "header.x-a: must be a non-empty glob", id="header-value"),
    ],
)
def test_invalid_conditions_are_refused_with_the_condition_named(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_conditions(raw)


def test_valid_conditions_read_back_as_written():
    raw = {
        "min_input_tokens": 60000,
        "thinking": True,
        "has_images": False,
        "tool": "web_search*",
        "header": {"Anthropic-Beta": "*context-1m*"},
    }
    assert parse_conditions(raw).given() == {**raw, "header": {"anthropic-beta": "*context-1m*"}}
