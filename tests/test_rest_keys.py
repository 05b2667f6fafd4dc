"""Issuing, listing and revoking keys through the management API: the secret is shown once, then only its prefix."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.test import Client, RequestFactory
from django.utils import timezone

from api.admission.auth import authenticate
from api.http.errors import GatewayError
from routing.keys import DISPLAY_LENGTH, KEY_PREFIX, hash_key
from routing.models import ProxyKey
from tests.factories import make_key, make_staff, make_user

pytestmark = pytest.mark.django_db

KEY_PERMISSIONS = ("routing.view_proxykey", "routing.add_proxykey", "routing.change_proxykey")


@pytest.fixture
def staff_client():
    client = Client()
    client.force_login(make_staff("root", *KEY_PERMISSIONS))
    return client


@pytest.fixture
def alice():
    return make_user(username="alice")


def gateway_caller(secret: str):
    """What /v1/messages makes of a client presenting `secret`."""
    request = RequestFactory().post("/v1/messages", HTTP_X_API_KEY=secret)
    return async_to_sync(authenticate)(request)


def issue(client, **fields):
    return client.post("/api/v1/keys/", data=fields, content_type="application/json")


def test_an_issued_secret_is_returned_once_and_only_its_hash_is_stored(staff_client, alice):
    response = issue(staff_client, user=alice.pk, name="ci", allowed_models="*haiku*", rpm_limit=60)
    assert response.status_code == 201, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    secret = body["secret"]
    assert secret.startswith(KEY_PREFIX) and len(secret) > 40
    key = ProxyKey.objects.get(pk=body["id"])
    assert key.secret_hash == hash_key(secret)
    assert (key.user, key.name, key.allowed_models, key.rpm_limit) == (alice, "ci", "*haiku*", 60)
    assert key.prefix == body["prefix"] == secret[:DISPLAY_LENGTH]
    assert "secret_hash" not in body
    stored = [str(value) for value in ProxyKey.objects.values().get(pk=key.pk).values()]
    assert not any(secret in value for value in stored)


def test_an_issued_secret_authenticates_on_the_gateway_as_its_user(staff_client, alice):
    secret = issue(staff_client, user=alice.pk).json()["secret"]
    caller = gateway_caller(secret)
    assert (caller.key.username, caller.user_id) == ("alice", alice.pk)


def test_after_issue_list_and_detail_show_the_prefix_but_never_the_secret_or_its_hash(staff_client, alice):
    secret = issue(staff_client, user=alice.pk).json()["secret"]
    key = ProxyKey.objects.get()
    for url in ("/api/v1/keys/", f"/api/v1/keys/{key.pk}/", f"/api/v1/keys/?user={alice.pk}"):
        response = staff_client.get(url)
        text = response.content.decode()
        assert response.status_code == 200
        assert key.prefix in text
        assert secret not in text and key.secret_hash not in text
        assert '"secret' not in text
    detail = staff_client.get(f"/api/v1/keys/{key.pk}/").json()
    assert detail["username"] == "alice" and detail["is_active"] is True


def test_issuing_a_key_logs_nothing_of_its_secret(staff_client, alice, caplog):
    caplog.set_level(logging.DEBUG)
    secret = issue(staff_client, user=alice.pk).json()["secret"]
    assert secret not in caplog.text
    assert all(secret not in str(record.args) for record in caplog.records)


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        pytest.param({"user": 999_999}, "user", id="unknown-user"),
        pytest.param({}, "user", id="no-user"),
        pytest.param({"user": "ALICE", "budget_period": "fortnight"}, "budget_period", id="bad-period"),
        pytest.param({"user": "ALICE", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at", id="expiry-in-the-past"),
        pytest.param({"user": "ALICE", "rpm_limit": -1}, "rpm_limit", id="negative-limit"),
    ],
)
def test_a_bad_issue_request_is_a_400_naming_the_field_and_stores_nothing(staff_client, alice, fields, error_field):
    fields = {name: alice.pk if value == "ALICE" else value for name, value in fields.items()}
    response = issue(staff_client, **fields)
    assert response.status_code == 400
    assert error_field in response.json()
    assert not ProxyKey.objects.exists()


def test_a_key_cannot_be_issued_to_a_deactivated_user(staff_client):
    gone = make_user(username="gone", is_active=False)
    response = issue(staff_client, user=gone.pk)
    assert response.status_code == 400
    assert not ProxyKey.objects.exists()


def test_revoking_sets_revoked_at_and_the_gateway_refuses_the_key_at_once(staff_client, alice):
    key, secret = make_key(alice)
    assert gateway_caller(secret).user_id == alice.pk
    response = staff_client.post(f"/api/v1/keys/{key.pk}/revoke/")
    assert response.status_code == 200
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert response.json()["revoked_at"] is not None and response.json()["is_active"] is False
    with pytest.raises(GatewayError, match="revoked"):
        gateway_caller(secret)


def test_revoking_twice_keeps_the_first_revocation_time(staff_client, alice):
    key, _ = make_key(alice)
    first = staff_client.post(f"/api/v1/keys/{key.pk}/revoke/").json()["revoked_at"]
    key.refresh_from_db()
    revoked_at = key.revoked_at
    second = staff_client.post(f"/api/v1/keys/{key.pk}/revoke/")
    assert second.status_code == 200
    assert second.json()["revoked_at"] == first
    key.refresh_from_db()
    assert key.revoked_at == revoked_at


def test_issuing_and_revoking_are_recorded_in_the_audit_log_once_each(staff_client, alice):
    key_id = issue(staff_client, user=alice.pk, name="ci").json()["id"]
    for _ in range(2):
        staff_client.post(f"/api/v1/keys/{key_id}/revoke/")
    entries = LogEntry.objects.order_by("id")
    assert [(e.user.username, e.object_id, e.action_flag) for e in entries] == [
        ("root", str(key_id), ADDITION),
        ("root", str(key_id), CHANGE),
    ]
    assert [e.get_change_message() for e in entries] == [
        "Issued through the management API from 127.0.0.1.",
        "Revoked through the management API from 127.0.0.1.",
    ]
    assert all(e.content_type.model_class() is ProxyKey for e in entries)


def test_an_owner_revokes_her_own_key_but_another_users_key_is_not_found(alice):
    own, _ = make_key(alice)
    other, _ = make_key(make_user(username="bob"))
    client = Client()
    client.force_login(alice)
    assert client.post(f"/api/v1/keys/{own.pk}/revoke/").status_code == 200
    assert client.post(f"/api/v1/keys/{other.pk}/revoke/").status_code == 404
    assert client.get(f"/api/v1/keys/{other.pk}/").status_code == 404
    own.refresh_from_db()
    other.refresh_from_db()
    assert own.revoked_at is not None and other.revoked_at is None


def test_revoking_a_key_that_does_not_exist_is_a_404(staff_client):
    assert staff_client.post("/api/v1/keys/424242/revoke/").status_code == 404


@pytest.mark.parametrize(
    ("query", "names"),
    [
        pytest.param("", {"live", "revoked", "expired", "bobs"}, id="all"),
        pytest.param("?user=alice", {"live", "revoked", "expired"}, id="by-username"),
        pytest.param("?user=ALICE_ID", {"live", "revoked", "expired"}, id="by-user-id"),
        pytest.param("?active=true", {"live", "bobs"}, id="active"),
        pytest.param("?active=false", {"revoked", "expired"}, id="inactive"),
        pytest.param("?revoked=true", {"revoked"}, id="revoked"),
        pytest.param("?revoked=false&user=alice", {"live", "expired"}, id="unrevoked-of-alice"),
    ],
)
def test_staff_filter_keys_by_user_and_state(staff_client, alice, query, names):
    now = timezone.now()
    make_key(alice, name="live", expires_at=now + timedelta(days=1))
    make_key(alice, name="revoked", revoked_at=now)
    make_key(alice, name="expired", expires_at=now - timedelta(seconds=1))
    make_key(make_user(username="bob"), name="bobs")
    response = staff_client.get("/api/v1/keys/" + query.replace("ALICE_ID", str(alice.pk)))
    assert response.status_code == 200
    assert {k["name"] for k in response.json()["results"]} == names


def test_a_bad_boolean_filter_is_a_400(staff_client):
    response = staff_client.get("/api/v1/keys/?active=maybe")
    assert response.status_code == 400
    assert response.json() == {"active": ["Expected true or false."]}
