"""A user sees and revokes only their own keys: anyone else's key pages answer 404, never a redirect."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.test import Client

from routing.models import ProxyKey
from tests.factories import make_key, make_usage
from tests.portal.conftest import person

pytestmark = pytest.mark.django_db


@pytest.fixture
def bobs_key():
    key, _ = make_key(person("bob"), name="bob-ci")
    make_usage(request_id="r-bob", key=key, user=key.user, requested_model="bob-model", input_tokens=777)
    return key


def test_another_users_key_page_is_not_found(alice_client, bobs_key):
    response = alice_client.get(f"/portal/keys/{bobs_key.pk}/")

    assert response.status_code == 404


def test_another_users_key_cannot_be_revoked(alice_client, bobs_key):
    response = alice_client.post(f"/portal/keys/{bobs_key.pk}/revoke/", HTTP_HX_REQUEST="true")

    assert response.status_code == 404
    bobs_key.refresh_from_db()
    assert bobs_key.revoked_at is None
    assert not LogEntry.objects.exists()


def test_another_users_keys_and_usage_are_nowhere_on_her_pages(alice_client, bobs_key):
    home = alice_client.get("/portal/").content.decode()
    usage = alice_client.get(f"/portal/usage/?key={bobs_key.pk}&model=bob-model").content.decode()

    assert "bob-ci" not in home and bobs_key.prefix not in home
    assert "777" not in usage and "bob-model" not in usage


def test_her_own_key_is_revoked_once_and_audited(alice_client, alice):
    key, _ = make_key(alice)

    first = alice_client.post(f"/portal/keys/{key.pk}/revoke/")
    alice_client.post(f"/portal/keys/{key.pk}/revoke/")

    assert first.status_code == 302 and first["Location"] == "/portal/"
    key.refresh_from_db()
    assert key.revoked_at is not None
    [entry] = LogEntry.objects.all()
    assert (entry.user, entry.action_flag, entry.get_change_message()) == (
        alice,
        CHANGE,
        "Revoked in the portal from 127.0.0.1.",
    )


def test_revoking_needs_a_post_with_a_csrf_token(alice, alice_client):
    key, _ = make_key(alice)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)

    assert alice_client.get(f"/portal/keys/{key.pk}/revoke/").status_code == 405
    assert strict.post(f"/portal/keys/{key.pk}/revoke/").status_code == 403
    assert strict.post("/portal/keys/new/", {"name": "x"}).status_code == 403
    assert ProxyKey.objects.get().revoked_at is None and ProxyKey.objects.count() == 1


@pytest.mark.parametrize("path", ["/portal/", "/portal/keys/new/", "/portal/keys/1/", "/portal/usage/"])
def test_anonymous_visitors_are_sent_to_sign_in(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/portal/login/?next=")
