"""The providers admin's "Test connection" action: the /test-connection probe, for holders of the permission."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import httpx
import pytest
import respx
import time_machine
from django.test import Client

from tests.factories import make_provider, make_route, make_staff
from tests.integration.conftest import UPSTREAM, completion
from tests.respx_aiohttp import AiohttpTransportMocker

pytestmark = pytest.mark.django_db


@pytest.fixture
def upstream():
    with respx.mock(assert_all_called=False, using=AiohttpTransportMocker.name) as mock:
        yield mock.post(f"{UPSTREAM}/chat/completions").mock(
            return_value=httpx.Response(200, json=completion({"content": "pong"}))
        )


@pytest.fixture
def provider():
    provider = make_provider(base_url=UPSTREAM)
    make_route(provider, target_model="gpt-4o")
    return provider


def shown_after_action(client: Client, provider) -> list[str]:
    """The messages the changelist shows after the action ran (or was refused)."""
    form = {"action": "test_connection", "_selected_action": [provider.pk]}
    response = client.post("/admin/routing/provider/", form, follow=True)
    assert response.status_code == 200
    return [str(m) for m in response.context["messages"]]


def run_action(username: str, *permissions: str, provider) -> list[str]:
    client = Client()
    client.force_login(make_staff(username, "routing.view_provider", *permissions))
    return shown_after_action(client, provider)


def test_a_holder_of_test_provider_tests_the_selected_provider_and_it_is_logged(upstream, provider, caplog):
    caplog.set_level(logging.INFO, logger="api")
    shown = run_action("ops", "routing.test_provider", provider=provider)
    assert len(shown) == 1 and shown[0].startswith("openai-main (gpt-4o): ok in ")
    assert upstream.call_count == 1
    assert "test-connection by user ops (admin) from 127.0.0.1: provider='openai-main', openai-main ok" in caplog.text


def test_without_the_permission_the_action_is_not_offered_and_a_forged_post_does_nothing(upstream, provider):
    client = Client()
    client.force_login(make_staff("viewer", "routing.view_provider"))
    assert 'value="test_connection"' not in client.get("/admin/routing/provider/").content.decode()
    assert shown_after_action(client, provider) == []
    assert upstream.call_count == 0


def test_the_action_shares_the_callers_rate_limit(upstream, provider):
    client = Client()
    with time_machine.travel(datetime(2030, 6, 1, 12, 0, 45, tzinfo=UTC), tick=False):
        client.force_login(make_staff("ops", "routing.view_provider", "routing.test_provider"))
        shown = [shown_after_action(client, provider) for _ in range(4)]
    assert [len(messages) for messages in shown[:3]] == [1, 1, 1]
    assert shown[3] == ["At most 3 connection tests a minute; try again in 61 s."]  # a sliding minute
    assert upstream.call_count == 3


def test_a_disabled_provider_is_reported_untested(upstream, provider):
    provider.enabled = False
    provider.save()
    shown = run_action("ops", "routing.test_provider", provider=provider)
    assert shown == ["openai-main: not tested, it is disabled or has no enabled route"]
    assert upstream.call_count == 0
