"""The admin as a team admin uses it: providers with write-only keys, routes, keys shown once, a read-only log."""

import re
from datetime import UTC, datetime

import pytest
import time_machine

from routing.models import ModelRoute, Provider, ProxyKey, UsageLog
from tests.factories import make_key, make_provider, make_usage, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def last_second_of_a_month():
    """A stopped clock (before the client logs in): usage is grouped by day and budgets by month, and
    no run may cross midnight between writing rows and reading the page."""
    with time_machine.travel(datetime(2027, 2, 28, 23, 59, 59, tzinfo=UTC), tick=False):
        yield


@pytest.fixture
def staff_client(client):
    admin = make_user(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client


def test_adding_a_provider_stores_its_key_encrypted_and_never_shows_it(staff_client):
    response = staff_client.post(
        "/admin/routing/provider/add/",
        {
            "name": "deepseek",
            "kind": "openai",
            "profile": "deepseek",
            "base_url": "https://api.deepseek.test/v1",
            "api_key": "sk-deepseek-very-secret-4321",
            "extra_headers": "{}",
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
    assert response.status_code == 302, response.content.decode()[:2000]
    provider = Provider.objects.get(name="deepseek")
    assert provider.api_key == "sk-deepseek-very-secret-4321"
    for url in ("/admin/routing/provider/", f"/admin/routing/provider/{provider.pk}/change/"):
        page = staff_client.get(url).content.decode()
        assert "sk-deepseek-very-secret-4321" not in page
        assert "sk-...4321" in page


def test_saving_a_provider_with_a_blank_key_keeps_the_stored_one(staff_client):
    provider = make_provider(api_key="sk-keep-me-please-0000")
    response = staff_client.post(
        f"/admin/routing/provider/{provider.pk}/change/",
        {
            "name": provider.name,
            "kind": "openai",
            "profile": "openai",
            "base_url": provider.base_url,
            "api_key": "",
            "extra_headers": "{}",
            "connect_timeout": "5",
            "read_timeout": "60",
            "first_byte_timeout": "600",
            "circuit_failures": "3",
            "circuit_window": "60",
            "circuit_cooldown": "30",
            "max_retries": "1",
            "enabled": "on",
        },
    )
    assert response.status_code == 302
    provider.refresh_from_db()
    assert provider.api_key == "sk-keep-me-please-0000" and provider.read_timeout == 60


def test_adding_a_route_through_the_admin(staff_client):
    provider = make_provider()
    response = staff_client.post(
        "/admin/routing/modelroute/add/",
        {
            "priority": "10",
            "pattern": "*haiku*",
            "strategy": "weighted",
            "enabled": "on",
            "targets-TOTAL_FORMS": "1",
            "targets-INITIAL_FORMS": "0",
            "targets-0-provider": provider.pk,
            "targets-0-model": "gpt-4o-mini",
            "targets-0-weight": "1",
            "targets-0-position": "0",
            "fallback_links-TOTAL_FORMS": "0",
            "fallback_links-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    route = ModelRoute.objects.get(pattern="*haiku*")
    assert route.name == "haiku"
    assert [(t.provider, t.model) for t in route.targets.all()] == [(provider, "gpt-4o-mini")]


def test_issuing_a_key_shows_the_secret_once_and_stores_only_its_hash(staff_client):
    user = make_user(username="dev1")
    response = staff_client.post(
        "/admin/routing/proxykey/add/",
        {
            "user": user.pk,
            "name": "ci",
            "budget_period": "month",
        },
    )
    page = response.content.decode()
    secrets_shown = re.findall(r"sk-proxy-[A-Za-z0-9_-]{32,}", page)
    assert response.status_code == 200 and len(set(secrets_shown)) == 1
    secret = secrets_shown[0]
    key = ProxyKey.objects.get(user=user)
    assert secret.startswith(key.prefix)
    assert "no-store" in response["Cache-Control"]
    # Never again: not on the key's page, not in the list.
    for url in ("/admin/routing/proxykey/", f"/admin/routing/proxykey/{key.pk}/change/"):
        assert secret not in staff_client.get(url).content.decode()


def test_the_usage_log_is_read_only(staff_client):
    key, _ = make_key()
    row = make_usage(request_id="req_1", key=key, user=key.user, requested_model="claude-opus-4-8")
    listing = staff_client.get("/admin/routing/usagelog/")
    assert listing.status_code == 200 and "claude-opus-4-8" in listing.content.decode()
    assert staff_client.get("/admin/routing/usagelog/add/").status_code == 403
    detail = staff_client.get(f"/admin/routing/usagelog/{row.pk}/change/")
    assert detail.status_code == 200 and 'type="submit"' not in detail.content.decode().split('id="content"')[1]
    assert staff_client.post(f"/admin/routing/usagelog/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert UsageLog.objects.filter(pk=row.pk).exists()


def _usage(key, day_offset=0, **fields):
    from datetime import timedelta

    from django.utils import timezone

    fields.setdefault("input_tokens", 100)
    fields.setdefault("output_tokens", 20)
    return make_usage(
        request_id=f"req_{UsageLog.objects.count()}",
        key=key,
        user=key.user,
        requested_model="claude-opus-4-8",
        provider_name="openai-main",
        created_at=timezone.now() - timedelta(days=day_offset),
        **fields,
    )


def test_the_summary_page_totals_per_user_and_draws_a_chart(last_second_of_a_month, staff_client):
    key, _ = make_key(make_user(username="dana"))
    _usage(key)
    _usage(key, day_offset=2, status=502, error_type="api_error")
    page = staff_client.get("/admin/routing/usagelog/summary/?days=7")
    html = page.content.decode()
    assert page.status_code == 200
    assert "<td>dana</td><td>2</td>" in html.replace("\n", "").replace("  ", "")
    assert html.count("<rect ") == 7 and "240 tokens" not in html  # one bar per day, 120 tokens each
    assert html.count("120 tokens</title>") == 2


def test_csv_export_follows_the_changelist_filters(staff_client):
    key, _ = make_key(make_user(username="erin"))
    _usage(key, status=200)
    _usage(key, status=429, error_type="rate_limit_error")
    response = staff_client.get("/admin/routing/usagelog/export.csv?status__exact=429")
    body = b"".join(response.streaming_content).decode()
    lines = body.strip().splitlines()
    assert response["Content-Type"] == "text/csv" and lines[0].startswith("created_at,request_id")
    assert len(lines) == 2 and ",429,rate_limit_error," in lines[1] and "erin" in lines[1]


def test_a_keys_page_shows_its_usage_and_remaining_budget(last_second_of_a_month, staff_client):
    key, _ = make_key(make_user(username="fay"), budget_tokens=1000, budget_period="month")
    _usage(key)
    page = staff_client.get(f"/admin/routing/proxykey/{key.pk}/change/").content.decode()
    assert "120 tokens in 1 requests" in page and "880 of 1000 tokens left this month" in page


def test_admin_changes_are_recorded_and_visible(staff_client):
    provider = make_provider()
    response = staff_client.post(
        f"/admin/routing/provider/{provider.pk}/change/",
        {
            "name": provider.name,
            "kind": "openai",
            "profile": "openai",
            "base_url": provider.base_url,
            "api_key": "",
            "extra_headers": "{}",
            "connect_timeout": "5",
            "read_timeout": "30",
            "first_byte_timeout": "600",
            "circuit_failures": "3",
            "circuit_window": "60",
            "circuit_cooldown": "30",
            "max_retries": "1",
            "enabled": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    page = staff_client.get("/admin/admin/logentry/").content.decode()
    assert provider.name in page and "Changed" in page
