"""The admin as a team admin uses it: providers with write-only keys, routes, keys shown once, a read-only log."""

import re

import pytest

from routing.models import ModelRoute, Provider, ProxyKey, UsageLog
from tests.factories import make_key, make_provider, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    admin = make_user(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client


def test_adding_a_provider_stores_its_key_encrypted_and_never_shows_it(staff_client):
    response = staff_client.post("/admin/routing/provider/add/", {
        "name": "deepseek", "kind": "openai", "profile": "deepseek", "base_url": "https://api.deepseek.test/v1",
        "api_key": "sk-deepseek-very-secret-4321", "extra_headers": "{}", "connect_timeout": "10",
        "read_timeout": "90", "max_retries": "2", "enabled": "on",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    provider = Provider.objects.get(name="deepseek")
    assert provider.api_key == "sk-deepseek-very-secret-4321"
    for url in ("/admin/routing/provider/", f"/admin/routing/provider/{provider.pk}/change/"):
        page = staff_client.get(url).content.decode()
        assert "sk-deepseek-very-secret-4321" not in page
        assert "sk-...4321" in page


def test_saving_a_provider_with_a_blank_key_keeps_the_stored_one(staff_client):
    provider = make_provider(api_key="sk-keep-me-please-0000")
    response = staff_client.post(f"/admin/routing/provider/{provider.pk}/change/", {
        "name": provider.name, "kind": "openai", "profile": "openai", "base_url": provider.base_url,
        "api_key": "", "extra_headers": "{}", "connect_timeout": "5", "read_timeout": "60",
        "max_retries": "1", "enabled": "on",
    })
    assert response.status_code == 302
    provider.refresh_from_db()
    assert provider.api_key == "sk-keep-me-please-0000" and provider.read_timeout == 60


def test_adding_a_route_through_the_admin(staff_client):
    provider = make_provider()
    response = staff_client.post("/admin/routing/modelroute/add/", {
        "priority": "10", "pattern": "*haiku*", "provider": provider.pk, "target_model": "gpt-4o-mini",
        "enabled": "on", "fallback_links-TOTAL_FORMS": "0", "fallback_links-INITIAL_FORMS": "0",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    assert ModelRoute.objects.get(pattern="*haiku*").target_model == "gpt-4o-mini"


def test_issuing_a_key_shows_the_secret_once_and_stores_only_its_hash(staff_client):
    user = make_user(username="dev1")
    response = staff_client.post("/admin/routing/proxykey/add/", {
        "user": user.pk, "name": "ci", "budget_period": "month",
    })
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
    row = UsageLog.objects.create(request_id="req_1", key=key, user=key.user, requested_model="claude-opus-4-8")
    listing = staff_client.get("/admin/routing/usagelog/")
    assert listing.status_code == 200 and "claude-opus-4-8" in listing.content.decode()
    assert staff_client.get("/admin/routing/usagelog/add/").status_code == 403
    detail = staff_client.get(f"/admin/routing/usagelog/{row.pk}/change/")
    assert detail.status_code == 200 and 'type="submit"' not in detail.content.decode().split('id="content"')[1]
    assert staff_client.post(f"/admin/routing/usagelog/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert UsageLog.objects.filter(pk=row.pk).exists()
