"""Management API tokens: made by a command, shown once, stored as a digest, expiring, revocable."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.apps import apps
from django.core.management import CommandError, call_command
from django.test import Client
from knox.models import AuthToken

from tests.factories import make_key, make_staff, make_user

pytestmark = pytest.mark.django_db

NOON = datetime(2030, 6, 1, 12, tzinfo=UTC)


@pytest.fixture
def root():
    user = make_staff("root", "routing.view_proxykey")
    make_key(make_user(username="bob"))
    return user


def create_token(username: str, *args: str) -> tuple[str, str]:
    """The token (stdout, alone) and the note for the operator (stderr)."""
    out, err = StringIO(), StringIO()
    call_command("create_api_token", username, *args, stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue()


def keys_as(token: str):
    return Client(HTTP_AUTHORIZATION=f"Token {token}").get("/api/v1/keys/")


def test_a_new_token_is_printed_once_and_only_its_digest_is_stored(root):
    token, note = create_token("root")
    assert token.startswith("sk-mgmt-") and len(token) == len("sk-mgmt-") + 64
    assert token not in note and token[:15] in note
    row = AuthToken.objects.values().get(user=root)
    assert row["digest"] == hashlib.sha512(token.encode()).hexdigest()
    assert row["token_key"] == token[:15]  # the lookup prefix knox keeps, 7 random characters of 64
    assert not any(token in str(value) for value in row.values())


def test_a_token_authenticates_as_its_user_with_that_users_permissions(root):
    token, _ = create_token("root")
    response = keys_as(token)
    assert response.status_code == 200
    assert [k["username"] for k in response.json()["results"]] == ["bob"]


def test_a_token_expires_after_the_days_asked_for_and_is_then_refused_and_deleted(root):
    with time_machine.travel(NOON, tick=False):
        token, note = create_token("root", "--expires-days", "2")
    assert "valid until 2030-06-03 12:00 UTC" in note
    assert AuthToken.objects.get(user=root).expiry == NOON + timedelta(days=2)
    with time_machine.travel(NOON + timedelta(days=2, seconds=-1), tick=False):
        assert keys_as(token).status_code == 200
    with time_machine.travel(NOON + timedelta(days=2, seconds=1), tick=False):
        response = keys_as(token)
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}
    assert not AuthToken.objects.filter(user=root).exists()


def test_tokens_last_thirty_days_unless_told_otherwise(root):
    with time_machine.travel(NOON, tick=False):
        create_token("root")
    assert AuthToken.objects.get(user=root).expiry == NOON + timedelta(days=30)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(("root", "--expires-days", "0"), "--expires-days must be from 1 to 3650", id="zero-days"),
        pytest.param(("root", "--expires-days", "3651"), "--expires-days must be from 1 to 3650", id="ten-years"),
        pytest.param(("nobody",), "No active user named 'nobody'", id="unknown-user"),
        pytest.param(("gone",), "No active user named 'gone'", id="inactive-user"),
    ],
)
def test_the_command_refuses_bad_requests_and_stores_nothing(root, args, message):
    make_user(username="gone", is_active=False)
    with pytest.raises(CommandError, match=message):
        create_token(*args)
    assert not AuthToken.objects.exists()


def test_revoking_one_token_by_its_key_leaves_the_others_working(root):
    first, _ = create_token("root")
    second, _ = create_token("root")
    out = StringIO()
    call_command("revoke_api_tokens", "root", "--key", first[:15] + "…", stdout=out)
    assert out.getvalue().strip() == "Revoked 1 token(s) of root."
    assert keys_as(first).status_code == 401
    assert keys_as(second).status_code == 200


def test_revoking_all_of_a_users_tokens(root):
    tokens = [create_token("root")[0] for _ in range(2)]
    call_command("revoke_api_tokens", "root", stdout=StringIO())
    assert [keys_as(token).status_code for token in tokens] == [401, 401]
    with pytest.raises(CommandError, match="No token of 'root' matched"):
        call_command("revoke_api_tokens", "root", stdout=StringIO())


def test_a_token_revokes_itself_through_the_api(root):
    token, _ = create_token("root")
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.post("/api/v1/token/revoke/").status_code == 204
    assert client.get("/api/v1/keys/").status_code == 401
    assert not AuthToken.objects.exists()


def test_the_admin_lists_and_deletes_tokens_but_never_makes_one(root):
    create_token("root")
    admin = make_staff("tokenadmin", "knox.view_authtoken", "knox.add_authtoken", "knox.delete_authtoken")
    client = Client()
    client.force_login(admin)
    listing = client.get("/admin/knox/authtoken/")
    assert listing.status_code == 200 and "sk-mgmt-" in listing.content.decode()
    # knox's own admin would let this user make a token for anyone, a superuser included.
    assert client.get("/admin/knox/authtoken/add/").status_code == 403
    digest = AuthToken.objects.get().digest
    assert client.post(f"/admin/knox/authtoken/{digest}/delete/", {"post": "yes"}).status_code == 302
    assert not AuthToken.objects.exists()


def test_drf_plain_text_tokens_are_gone(root):
    assert not apps.is_installed("rest_framework.authtoken")
    response = keys_as("9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b")  # a DRF-style 40-character key
    assert response.status_code == 401
