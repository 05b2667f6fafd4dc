"""Which secrets the scrubber knows: loaded with the route snapshot, no query per scrub."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from api.http.scrub import scrub
from routing import snapshot
from tests.factories import make_provider, make_route

pytestmark = pytest.mark.django_db

DISABLED_KEY = "sk-disabled-provider-key-0001"
HEADER_TOKEN = "goog-header-token-0002"


@pytest.fixture
def providers(settings):
    settings.OPENAI_API_KEY = "sk-env-openai-key-0003"
    settings.ANTHROPIC_API_KEY = "sk-gateway-client-key-0004"
    settings.CUSTOM_HEADERS = {"X-Org-Secret": "env-custom-header-0005", "HTTP-Referer": "https://team.example"}
    enabled = make_provider(name="on", extra_headers={"X-Goog-Api-Key": HEADER_TOKEN, "X-Title": "Team Gateway App"})
    make_route(enabled)
    make_provider(name="off", enabled=False, api_key=DISABLED_KEY)
    snapshot.routes.get_sync()


def test_every_provider_key_header_token_and_env_secret_is_scrubbed(providers):
    text = " ".join(
        [DISABLED_KEY, HEADER_TOKEN, "sk-env-openai-key-0003", "sk-gateway-client-key-0004", "env-custom-header-0005"]
    )
    assert scrub(text) == " ".join(["[redacted]"] * 5)
    ordinary = "X-Title: Team Gateway App, see https://team.example/help"  # values of non-secret headers
    assert scrub(ordinary) == ordinary


def test_scrubbing_queries_nothing(providers):
    with CaptureQueriesContext(connection) as queries:
        scrub(f"echo {DISABLED_KEY}")
    assert len(queries) == 0


def test_a_replaced_key_stays_known_for_one_more_load_then_goes(providers):
    provider = make_provider(name="rotating", api_key="sk-old-rotating-key-0006")
    snapshot.routes.invalidate()
    snapshot.routes.get_sync()
    provider.api_key = "sk-new-rotating-key-0007"
    provider.save()
    snapshot.routes.get_sync()  # requests in flight may still hold the old key
    assert scrub("sk-old-rotating-key-0006 sk-new-rotating-key-0007") == "[redacted] [redacted]"
    snapshot.routes.invalidate()
    snapshot.routes.get_sync()
    assert scrub("sk-old-rotating-key-0006") == "sk-old-rotating-key-0006"
