"""A stored key goes only to the host it was entered for: "change provider" must not mean "read its key".

The attacker is a staff user holding only `routing.change_provider`, who re-points a provider at a
server of their own through the admin; the proof is what each host receives on the next call.
"""

import httpx
import pytest
import respx
from asgiref.sync import async_to_sync
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError

from api.forward.connection_test import probe_all
from routing import snapshot
from routing.models import KEY_FOR_NEW_HOST, Provider
from tests.factories import make_provider, make_route, make_user, provider_form
from tests.integration.conftest import completion
from tests.respx_aiohttp import AiohttpTransportMocker

pytestmark = pytest.mark.django_db

HOME = "http://upstream.test/v1"
STORED_KEY = "sk-upstream-secret-1234"


@pytest.fixture
def provider():
    provider = make_provider(base_url=HOME, api_key=STORED_KEY)
    make_route(provider)
    return provider


@pytest.fixture
def change_only_client(client):
    user = make_user(username="mallory", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="change_provider"))
    client.force_login(user)
    return client


def _post(client, provider: Provider, base_url: str, **fields):
    data = provider_form(provider, base_url=base_url, **fields)
    return client.post(f"/admin/routing/provider/{provider.pk}/change/", data)


def _keys_received() -> dict[str, list[str]]:
    """Probe the provider as stored, and return the `authorization` each host received."""
    received: dict[str, list[str]] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        received.setdefault(request.url.host, []).append(request.headers.get("authorization", ""))
        return httpx.Response(200, json=completion({"content": "pong"}))

    routes = snapshot.routes.get_sync()
    with respx.mock(using=AiohttpTransportMocker.name) as mock:
        mock.route().mock(side_effect=answer)
        async_to_sync(probe_all)(routes, None)
    return received


@pytest.mark.parametrize(
    "new_url",
    [
        pytest.param("http://evil.test/v1", id="another-host"),
        pytest.param("https://upstream.test/v1", id="another-scheme"),
        pytest.param("http://upstream.test:8080/v1", id="another-port"),
        pytest.param("http://upstream.test@evil.test/v1", id="userinfo-that-looks-like-home"),
        pytest.param("http://upstream.test\\@evil.test/v1", id="a-backslash-before-the-userinfo"),
        pytest.param("http://evil.test#@upstream.test/v1", id="home-hidden-in-the-fragment"),
    ],
)
def test_a_new_host_without_the_key_entered_again_is_refused(change_only_client, provider, new_url):
    response = _post(change_only_client, provider, new_url)
    assert response.status_code == 200 and KEY_FOR_NEW_HOST in response.content.decode()
    provider.refresh_from_db()
    assert (provider.base_url, provider.api_key) == (HOME, STORED_KEY)
    assert _keys_received() == {"upstream.test": [f"Bearer {STORED_KEY}"]}


def test_a_new_host_with_a_new_key_gets_only_that_key(change_only_client, provider):
    response = _post(change_only_client, provider, "http://evil.test/v1", api_key="sk-mallory-own-key-5678")
    assert response.status_code == 302
    assert _keys_received() == {"evil.test": ["Bearer sk-mallory-own-key-5678"]}


def test_a_new_host_with_the_key_cleared_gets_no_key(change_only_client, provider):
    response = _post(change_only_client, provider, "http://evil.test/v1", clear_api_key="on")
    assert response.status_code == 302
    assert _keys_received() == {"evil.test": [""]}


@pytest.mark.parametrize(
    "new_url",
    [
        pytest.param("http://upstream.test/v2", id="another-path"),
        pytest.param("http://UPSTREAM.test:80/v1/", id="same-origin-spelled-differently"),
    ],
)
def test_the_same_host_keeps_its_key(change_only_client, provider, new_url):
    response = _post(change_only_client, provider, new_url)
    assert response.status_code == 302, response.content.decode()[:2000]
    provider.refresh_from_db()
    assert provider.base_url == new_url and provider.api_key == STORED_KEY


def test_saving_the_model_any_other_way_refuses_it_too(provider):
    provider.base_url = "http://evil.test/v1"
    with pytest.raises(ValidationError, match=KEY_FOR_NEW_HOST):
        provider.save()
    assert Provider.objects.get(pk=provider.pk).base_url == HOME
    provider.api_key = STORED_KEY  # entered again: allowed
    provider.save()
    assert Provider.objects.get(pk=provider.pk).base_url == "http://evil.test/v1"
