"""The keys page lists the models she may use: per key of hers what GET /v1/models would answer it (route
names open to her, direct `provider,model` entries, within the key's allowlist), before she has a key what
her scope reaches, and the glob patterns open to her; never a route scoped to someone else."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.utils import timezone

from tests.factories import make_key, make_provider, make_route
from tests.portal.conftest import person

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(datetime(2031, 3, 15, 12, tzinfo=UTC), tick=False):
        yield


@pytest.fixture
def routes(alice):
    """Open: sonnet, haiku and the `claude-*` glob; her team's `team-special`; bob's `bobs-secret` and `bob-*`
    glob; and a provider taking direct requests for its deepseek model (an unlisted glob route's target)."""
    provider = make_provider()
    make_route(provider, pattern="claude-sonnet-4-5", target_model="gpt-4o", priority=10)
    make_route(provider, pattern="claude-haiku-4-5", target_model="gpt-4o-mini", priority=20)
    make_route(provider, pattern="claude-*", target_model="gpt-4o", priority=90)
    team = Group.objects.create(name="platform")
    alice.groups.add(team)
    make_route(provider, pattern="team-special", target_model="gpt-5", priority=30).groups.add(team)
    bob = person("bob")
    make_route(provider, pattern="bobs-secret", target_model="gpt-5", priority=40).users.add(bob)
    make_route(provider, pattern="bob-*", target_model="gpt-5", priority=41).users.add(bob)
    direct = make_provider(name="openrouter", base_url="http://open.test/v1", allow_direct=True)
    make_route(direct, pattern="*deepseek*", target_model="deepseek/deepseek-chat", priority=50)


def listed(html: str, heading: str) -> list[str]:
    """The model names under `heading` in the models section."""
    section = html[html.index('<div id="models">') :]
    part = section[section.index(heading) :]
    part = part[: part.index("</ul>")]
    return [li.split("</code>")[0] for li in part.split("<li><code>")[1:]]


EVERYTHING_OF_HERS = ["claude-haiku-4-5", "claude-sonnet-4-5", "openrouter,deepseek/deepseek-chat", "team-special"]


def test_before_she_has_a_key_it_lists_what_her_scope_reaches(alice_client, routes):
    html = alice_client.get("/portal/").content.decode()

    assert listed(html, "With a key of yours") == EVERYTHING_OF_HERS
    assert sorted(listed(html, 'id="model-patterns"')) == ["*deepseek*", "claude-*"]
    assert "bobs-secret" not in html and "bob-*" not in html


def test_each_key_lists_only_what_its_allowlist_lets_through(alice_client, alice, routes):
    make_key(alice, name="haiku-only", allowed_models="*haiku*")
    make_key(alice, name="anything")
    make_key(alice, name="old", revoked_at=timezone.now())

    html = alice_client.get("/portal/").content.decode()

    assert listed(html, "With haiku-only") == ["claude-haiku-4-5"]
    assert listed(html, "With anything") == EVERYTHING_OF_HERS
    assert "With old" not in html and "With a key of yours" not in html
    assert "bobs-secret" not in html


def test_a_direct_entry_follows_the_allowlist_of_its_upstream_model(alice_client, alice, routes):
    make_key(alice, name="deepseek", allowed_models="deepseek/*")

    html = alice_client.get("/portal/").content.decode()

    assert listed(html, "With deepseek") == ["openrouter,deepseek/deepseek-chat"]
