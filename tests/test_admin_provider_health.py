"""The provider pages show each provider's health as every worker shares it: state, failures in the
window, last error and when, cooling until; an upstream's error text is shown as text, never as HTML."""

from __future__ import annotations

import pytest
import time_machine
from asgiref.sync import async_to_sync

from api.forward import health
from api.providers.errors import ProviderError
from api.translate.errors import ApiError
from routing.snapshot import provider_info
from tests.factories import make_provider, make_user

NOW = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC


@pytest.fixture
def stopped_clock():
    """Stopped before the client logs in, so its session is fresh at that instant."""
    with time_machine.travel(NOW + 5, tick=False):
        yield


@pytest.fixture
def staff_client(client, db, stopped_clock):
    client.force_login(make_user(username="root", is_staff=True, is_superuser=True))
    return client


def fail(provider, times: int, message: str = "Could not connect to the upstream") -> None:
    for i in range(times):
        error = ProviderError(ApiError(502, "api_error", message), retryable=True)
        async_to_sync(health.failed)(provider_info(provider), error, NOW + i)


def test_a_provider_after_an_outage_shows_open_with_its_failures_last_error_and_cool_down(staff_client):
    provider = make_provider(name="east", circuit_failures=3, circuit_window=60, circuit_cooldown=30)
    fail(provider, 3)
    page = staff_client.get(f"/admin/routing/provider/{provider.pk}/change/").content.decode()
    assert ">open</b>" in page
    assert "last error: Could not connect to the upstream at 2027-01-15 08:00:02 UTC" in page
    assert "cooling until: 2027-01-15 08:00:32 UTC" in page
    listing = staff_client.get("/admin/routing/provider/").content.decode()
    assert ">open</b>" in listing


def test_a_provider_with_a_failure_below_the_threshold_shows_closed_and_counts_it(staff_client):
    provider = make_provider(name="west")
    fail(provider, 1)
    page = staff_client.get(f"/admin/routing/provider/{provider.pk}/change/").content.decode()
    assert ">closed</b><br>failures in the last 60 s: 1" in page and "cooling until: —" in page


def test_a_healthy_provider_shows_closed_with_no_failure(staff_client):
    provider = make_provider(name="north")
    page = staff_client.get(f"/admin/routing/provider/{provider.pk}/change/").content.decode()
    assert ">closed</b> — no failure in the last 60 s" in page


def test_an_upstream_error_text_is_escaped_on_the_page(staff_client):
    provider = make_provider(name="evil")
    fail(provider, 1, message="<script>alert(1)</script>")
    page = staff_client.get(f"/admin/routing/provider/{provider.pk}/change/").content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
