"""A route made by apply_config serves /v1/messages at once: its target, its key, its model."""

import json

import httpx
import pytest
import respx

from routing import snapshot
from routing.models import ModelRoute, RouteTarget
from tests.config.conftest import apply
from tests.factories import make_key
from tests.integration.conftest import completion, messages_body, usage_rows
from tests.respx_aiohttp import AiohttpTransportMocker

FILE = """
providers:
  - name: team-upstream
    base_url: http://config-upstream.test/v1
    api_key: ${TEAM_UPSTREAM_KEY}
    profile: openai
    max_retries: 0
routes:
  - name: opus
    pattern: "*opus*"
    targets: [{provider: team-upstream, model: gpt-from-config}]
"""


@pytest.fixture
def upstream():
    with respx.mock(assert_all_called=False, using=AiohttpTransportMocker.name) as mock:
        yield mock


@pytest.fixture
def configured(transactional_db, settings, config_file, monkeypatch):
    settings.AUTH_MODE = "keys"
    settings.ANTHROPIC_API_KEY = ""
    monkeypatch.setenv("TEAM_UPSTREAM_KEY", "sk-team-upstream-secret-5150")
    apply(config_file(FILE))
    _, secret = make_key()
    return secret


async def test_the_configured_route_calls_its_target_with_the_files_key(configured, upstream, async_client):
    call = upstream.post("http://config-upstream.test/v1/chat/completions").mock(
        return_value=httpx.Response(200, json=completion({"content": "from config"}))
    )

    response = await async_client.post(
        "/v1/messages",
        data=json.dumps(messages_body(model="claude-opus-4-8")),
        content_type="application/json",
        headers={"x-api-key": configured, "anthropic-version": "2023-06-01"},
    )

    assert response.status_code == 200
    assert response.json()["content"] == [{"type": "text", "text": "from config"}]
    sent = call.calls.last.request
    assert sent.headers["authorization"] == "Bearer sk-team-upstream-secret-5150"
    assert json.loads(sent.content)["model"] == "gpt-from-config"
    [row] = await usage_rows()
    route = await ModelRoute.objects.aget(name="opus")
    assert (row.status, row.route_id, row.provider_name, row.upstream_model) == (
        200,
        route.pk,
        "team-upstream",
        "gpt-from-config",
    )


def test_an_apply_drops_the_route_snapshot_even_when_only_a_target_changed(configured, config_file):
    [before] = snapshot.routes.get_sync()
    assert before.targets[0].weight == 1

    apply(config_file(FILE.replace("model: gpt-from-config}", "model: gpt-from-config, weight: 7}")))

    assert RouteTarget.objects.get().weight == 7
    [after] = snapshot.routes.get_sync()
    assert after.targets[0].weight == 7
