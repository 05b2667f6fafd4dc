"""Routes that can never match are warned of at start-up: an earlier route with no conditions and no scope,
whose pattern covers theirs and whose context window fits whatever theirs does, takes every request."""

import pytest

from routing.checks import shadowed_routes_check
from routing.conditions import parse_conditions
from routing.explain import shadowed
from routing.resolve import ProviderInfo, RouteInfo, compile_pattern
from tests.factories import make_provider, make_route, make_user

PROVIDER = ProviderInfo(id=1, name="p", kind="openai", base_url="http://x", api_key="k")


def route(id, pattern, when=None, users=(), window=None):
    return RouteInfo(
        id,
        id,
        pattern,
        PROVIDER,
        f"m{id}",
        name=f"r{id}",
        conditions=parse_conditions(when),
        user_ids=frozenset(users),
        context_window=window,
        regex=compile_pattern(pattern),
    )


@pytest.mark.parametrize(
    ("earlier", "later", "is_shadowed"),
    [
        pytest.param(route(1, "*"), route(2, "*opus*"), True, id="catch-all-first"),
        pytest.param(route(1, "**"), route(2, "gpt-4o"), True, id="stars-only"),
        pytest.param(route(1, "claude-*"), route(2, "claude-opus-*"), True, id="wider-prefix"),
        pytest.param(route(1, "*opus*"), route(2, "*opus-4*"), True, id="wider-infix"),
        pytest.param(route(1, "*sonnet*"), route(2, "*sonnet*"), True, id="same-pattern"),
        pytest.param(route(1, "claude-opus-*"), route(2, "claude-*"), False, id="narrower-first"),
        pytest.param(route(1, "*sonnet*", when={"thinking": True}), route(2, "*sonnet*"), False, id="conditioned"),
        pytest.param(route(1, "*", users=[7]), route(2, "*opus*"), False, id="scoped"),
        pytest.param(route(1, "*", window=128_000), route(2, "*opus*"), False, id="windowed-before-unlimited"),
        pytest.param(route(1, "*", window=128_000), route(2, "*opus*", window=1_000_000), False, id="larger-later"),
        pytest.param(route(1, "*", window=200_000), route(2, "*opus*", window=128_000), True, id="smaller-later"),
        pytest.param(route(1, "a?c"), route(2, "a*c"), False, id="question-mark-is-not-claimed"),
        pytest.param(route(1, "*b]c"), route(2, "[ab]c"), False, id="class-is-not-claimed"),
    ],
)
def test_a_route_is_shadowed_only_by_an_earlier_route_that_always_takes_its_requests(earlier, later, is_shadowed):
    assert shadowed([earlier, later]) == ([(later, earlier)] if is_shadowed else [])


@pytest.mark.django_db
def test_the_system_check_names_the_route_that_can_never_match():
    provider = make_provider()
    make_route(provider, pattern="*", name="everything", priority=10)
    make_route(provider, pattern="*opus*", name="opus", priority=20)
    make_route(provider, pattern="*sonnet*", name="long", priority=5, conditions={"min_input_tokens": 60000})
    make_route(provider, pattern="*haiku*", name="bobs", priority=1).users.add(make_user(username="bob"))
    warnings = shadowed_routes_check(None)
    assert [(w.id, w.obj) for w in warnings] == [("proxy.W030", "route opus")]
    assert "route 'everything' ('*', priority 10) comes first" in warnings[0].msg
