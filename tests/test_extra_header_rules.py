"""Extra headers (admin) and CUSTOM_HEADER_* (environment) cannot set framing, hop-by-hop or auth headers."""

import logging

import pytest
from django.core.exceptions import ValidationError

from routing.env_sync import sync_env_provider
from routing.models import Provider
from tests.factories import make_provider, make_user

pytestmark = pytest.mark.django_db

REFUSED = [
    "Authorization",
    "x-api-key",
    "Api-Key",
    "Content-Length",
    "Transfer-Encoding",
    "Host",
    "Connection",
    "Upgrade",
    "TE",
    "Trailer",
    "Keep-Alive",
    "Proxy-Authorization",
    "Cookie",
    "Accept-Encoding",
]


@pytest.fixture
def staff_client(client):
    client.force_login(make_user(username="root", is_staff=True, is_superuser=True))
    return client


def _add_provider(client, extra_headers: str):
    return client.post(
        "/admin/routing/provider/add/",
        {
            "name": "custom",
            "kind": "openai",
            "profile": "generic",
            "base_url": "https://llm.example.test/v1",
            "api_key": "sk-custom-key-0000",
            "extra_headers": extra_headers,
            "connect_timeout": "10",
            "read_timeout": "90",
            "first_byte_timeout": "600",
            "circuit_failures": "3",
            "circuit_window": "60",
            "circuit_cooldown": "30",
            "max_retries": "2",
            "enabled": "on",
        },
    )


@pytest.mark.parametrize("name", REFUSED)
def test_the_admin_refuses_a_framing_or_auth_header_and_names_it(staff_client, name):
    response = _add_provider(staff_client, f'{{"X-Title": "ok", "{name}": "x"}}')
    assert response.status_code == 200
    assert f"&#x27;{name}&#x27; cannot be set as an extra header" in response.content.decode()
    assert not Provider.objects.filter(name="custom").exists()


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        pytest.param({"X-A\r\nHost": "evil"}, "is not a valid header name", id="a-name-smuggling-a-line"),
        pytest.param({"X-Title": "a\r\nHost: evil"}, "must be text on one line", id="a-value-smuggling-a-line"),
        pytest.param({"X-Count": 3}, "must be text on one line", id="a-value-that-is-not-text"),
        pytest.param(["X-Title", "a"], "must be a JSON object", id="not-an-object"),
    ],
)
def test_the_model_refuses_headers_that_would_break_the_request(headers, problem):
    provider = make_provider(extra_headers={})
    provider.extra_headers = headers
    with pytest.raises(ValidationError, match=problem):
        provider.full_clean()


def test_ordinary_extra_headers_are_accepted(staff_client):
    headers = '{"X-Title": "Team", "HTTP-Referer": "https://team.test", "OpenAI-Beta": "assistants=v2"}'
    response = _add_provider(staff_client, headers)
    assert response.status_code == 302, response.content.decode()[:2000]


def test_env_sync_drops_refused_custom_headers_with_a_warning(settings, caplog):
    settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = "sk-env-key-123456", ""
    settings.CUSTOM_HEADERS = {"AUTHORIZATION": "Bearer other", "CONTENT-LENGTH": "1", "X-TITLE": "team"}
    provider = sync_env_provider()
    assert provider.extra_headers == {"X-TITLE": "team"}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(w.startswith("CUSTOM_HEADER_AUTHORIZATION ignored") for w in warnings)
    assert any(w.startswith("CUSTOM_HEADER_CONTENT_LENGTH ignored") for w in warnings)
