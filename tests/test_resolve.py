"""Route resolution: enabled routes that apply to the caller, by priority, first match wins."""

import pytest

from routing.resolve import ProviderInfo, RouteInfo, compile_pattern, resolve

PROVIDER = ProviderInfo(id=1, name="p", kind="openai", base_url="http://x", api_key="k")


def route(id, pattern, priority=100, users=(), groups=()):
    return RouteInfo(
        id=id,
        priority=priority,
        pattern=pattern,
        provider=PROVIDER,
        target_model=f"m{id}",
        user_ids=frozenset(users),
        group_ids=frozenset(groups),
        regex=compile_pattern(pattern),
    )


ROUTES = sorted(
    [route(1, "*haiku*", 10), route(2, "claude-opus-4-*", 20), route(3, "*sonnet*", 30), route(4, "*", 1000)],
    key=lambda r: (r.priority, r.id),
)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        pytest.param("claude-haiku-4-5", 1, id="haiku-family"),
        pytest.param("CLAUDE-HAIKU-4-5-20251001", 1, id="case-insensitive"),
        pytest.param("claude-opus-4-8", 2, id="opus-glob"),
        pytest.param("claude-opus-5", 4, id="opus-5-falls-to-catch-all"),
        pytest.param("claude-sonnet-4-5", 3, id="sonnet"),
        pytest.param("gpt-4o", 4, id="anything-else-catch-all"),
    ],
)
def test_it_picks_the_first_matching_route_by_priority(model, expected):
    assert resolve(model, ROUTES).id == expected


def test_it_returns_none_when_nothing_matches():
    assert resolve("claude-opus-4-8", [route(1, "*haiku*")]) is None


def test_a_lower_priority_number_wins_over_an_earlier_id():
    routes = sorted([route(1, "*", 50), route(2, "*opus*", 5)], key=lambda r: (r.priority, r.id))
    assert resolve("claude-opus-4-8", routes).id == 2


def test_a_scoped_route_applies_only_to_its_users_and_groups():
    routes = [route(1, "*", 10, users=[7]), route(2, "*", 11, groups=[3]), route(3, "*", 12)]
    assert resolve("m", routes, user_id=7).id == 1
    assert resolve("m", routes, user_id=8, group_ids=[3]).id == 2
    assert resolve("m", routes, user_id=8, group_ids=[4]).id == 3
    assert resolve("m", routes).id == 3


def test_the_glob_must_match_the_whole_model_name():
    assert resolve("claude-opus-4-8-extra", [route(1, "claude-opus-4-8")]) is None
    assert resolve("xclaude-opus-4-8", [route(1, "claude-opus-4-*")]) is None


def test_route_caps_fall_back_to_the_provider_default():
    provider = ProviderInfo(id=2, name="q", kind="openai", base_url="http://y", api_key="", max_output_tokens=4096)
    assert RouteInfo(1, 1, "*", provider, "m").max_tokens == 4096
    assert RouteInfo(1, 1, "*", provider, "m", max_tokens_cap=1000).max_tokens == 1000
