"""A target's context window: the admin's, else the price catalogue's for translated providers; a
pass-through provider's window depends on the client's beta headers, so only the admin's counts there.
A route's window is the smallest of its targets' (the balancer may pick any)."""

import pytest

from routing import snapshot
from tests.factories import make_provider, make_route

pytestmark = pytest.mark.django_db


def _window(route):
    snapshot.routes.invalidate()
    return next(r.context_window for r in snapshot.routes.get_sync() if r.id == route.id)


@pytest.mark.parametrize(
    ("kind", "model", "stated", "window"),
    [
        pytest.param("openai", "gpt-4o", None, 128_000, id="catalogue"),
        pytest.param("openai", "gpt-4o", 64_000, 64_000, id="stated-wins"),
        pytest.param("openai", "house-model-7b", None, None, id="unknown-model"),
        pytest.param("anthropic", "claude-sonnet-4-5", None, None, id="pass-through-uses-no-catalogue"),
        pytest.param("anthropic", "claude-sonnet-4-5", 200_000, 200_000, id="pass-through-stated"),
    ],
)
def test_a_targets_window_is_stated_or_from_the_catalogue(kind, model, stated, window):
    route = make_route(make_provider(kind=kind), target_model=model)
    route.targets.update(context_window=stated)
    assert _window(route) == window


def test_a_routes_window_is_its_smallest_targets():
    provider = make_provider()
    route = make_route(provider, target_model="gpt-4.1")
    route.targets.create(provider=provider, model="gpt-4o")
    assert _window(route) == 128_000
