"""The admin and the management API answer the same users the same way, action by action.

Each user holds a different set of model permissions; for every action the test asks the API and the
admin, and both must allow it exactly when the user holds the permission the admin requires. A refusal
in the API is a 403, a 404 (a key the caller may not see) or only the caller's own rows.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from routing.models import ProxyKey
from tests.factories import make_key, make_staff, make_usage, make_user

pytestmark = pytest.mark.django_db

ACTIONS = ("list_keys", "read_key", "issue_key", "revoke_key", "list_usage", "usage_summary")
EVERY_ROUTING_PERMISSION = (
    "routing.view_proxykey",
    "routing.add_proxykey",
    "routing.change_proxykey",
    "routing.view_usagelog",
)
VIEW_ALL = {"list_keys", "read_key", "list_usage", "usage_summary"}
USERS = {
    # username: (is_staff, is_superuser, permissions, the actions the admin allows them)
    "clerk": (True, False, (), set()),
    "viewer": (True, False, ("routing.view_proxykey", "routing.view_usagelog"), VIEW_ALL),
    "issuer": (True, False, ("routing.add_proxykey",), {"issue_key"}),
    "revoker": (
        True,
        False,
        ("routing.view_proxykey", "routing.change_proxykey"),
        {"list_keys", "read_key", "revoke_key"},
    ),
    "outsider": (False, False, EVERY_ROUTING_PERMISSION, set()),  # permissions, but the admin refuses non-staff
    "boss": (True, True, (), set(ACTIONS)),
}


@pytest.fixture
def world():
    """Bob, an ordinary user with a key and a usage row, whose key and rows the callers reach for."""
    bob = make_user(username="bob")
    bob_key, _ = make_key(bob, name="bob laptop")
    make_usage(request_id="req_bob", user=bob, key=bob_key, requested_model="claude-haiku")
    return {"bob": bob, "bob_key": bob_key}


def signed_in(username: str) -> Client:
    is_staff, is_superuser, permissions, _ = USERS[username]
    client = Client()
    client.force_login(make_staff(username, *permissions, is_staff=is_staff, is_superuser=is_superuser))
    return client


def api_allows(client: Client, action: str, world) -> bool:
    """What the management API lets the caller do; a refusal must have the documented shape."""
    bob_key = world["bob_key"]
    if action == "list_keys":
        names = {k["username"] for k in client.get("/api/v1/keys/").json()["results"]}
        return "bob" in names
    if action == "read_key":
        status = client.get(f"/api/v1/keys/{bob_key.pk}/").status_code
        assert status in (200, 404)
        return status == 200
    if action == "issue_key":
        response = client.post("/api/v1/keys/", {"user": world["bob"].pk, "name": "new"}, "application/json")
        assert response.status_code in (201, 403)
        assert ProxyKey.objects.filter(name="new").exists() == (response.status_code == 201)
        return response.status_code == 201
    if action == "revoke_key":
        status = client.post(f"/api/v1/keys/{bob_key.pk}/revoke/").status_code
        assert status in (200, 403, 404)
        bob_key.refresh_from_db()
        assert (bob_key.revoked_at is not None) == (status == 200)
        return status == 200
    if action == "list_usage":
        return "req_bob" in {row["request_id"] for row in client.get("/api/v1/usage/").json()["results"]}
    totals = client.get("/api/v1/usage/summary/").json()["totals"]
    return totals["requests"] == 1  # bob's row; the callers have none of their own


def admin_allows(client: Client, action: str, world) -> bool:
    """What the admin lets the same caller do: a page (200) or a refusal (403, or sign-in for non-staff)."""
    bob_key = world["bob_key"]
    if action == "revoke_key":
        client.post("/admin/routing/proxykey/", {"action": "revoke", "_selected_action": [bob_key.pk]})
        bob_key.refresh_from_db()
        return bob_key.revoked_at is not None
    if action == "issue_key":
        response = client.post("/admin/routing/proxykey/add/", {"user": world["bob"].pk, "budget_period": "month"})
        issued = response.status_code == 200 and "Key issued" in response.content.decode()
        assert ProxyKey.objects.filter(user=world["bob"]).count() == 1 + issued
        return issued
    url = {
        "list_keys": "/admin/routing/proxykey/",
        "read_key": f"/admin/routing/proxykey/{bob_key.pk}/change/",
        "list_usage": "/admin/routing/usagelog/",
        "usage_summary": "/admin/routing/usagelog/summary/",
    }[action]
    status = client.get(url).status_code
    assert status in (200, 403, 302)
    return status == 200


CASES = [
    pytest.param(username, action, action in USERS[username][3], id=f"{username}-{action}")
    for username in USERS
    for action in ACTIONS
]


@pytest.mark.parametrize(("username", "action", "allowed"), CASES)
def test_the_api_allows_an_action_exactly_when_the_admin_does(world, username, action, allowed):
    client = signed_in(username)
    assert admin_allows(client, action, world) is allowed
    world["bob_key"].revoked_at = None
    world["bob_key"].save(update_fields=["revoked_at"])
    ProxyKey.objects.exclude(pk=world["bob_key"].pk).delete()
    assert api_allows(client, action, world) is allowed


def test_a_staff_user_without_permissions_reaches_only_his_own_key_and_rows(world):
    client = signed_in("clerk")
    clerk = get_user_model().objects.get(username="clerk")
    own, _ = make_key(clerk, name="clerk laptop")
    make_usage(request_id="req_clerk", user=clerk, key=own)
    assert [k["name"] for k in client.get("/api/v1/keys/").json()["results"]] == ["clerk laptop"]
    assert [r["request_id"] for r in client.get("/api/v1/usage/").json()["results"]] == ["req_clerk"]
    assert client.post(f"/api/v1/keys/{own.pk}/revoke/").status_code == 200  # his own: always
    assert client.get(f"/api/v1/keys/{world['bob_key'].pk}/").status_code == 404


METHODS = ("get", "post", "put", "patch", "delete")
# What a staff user without permissions gets from each endpoint and method: his own rows (200),
# a refusal (403), another's key unseen (404), or a method the endpoint does not have (405).
BARE_STAFF_ANSWERS = {
    "/api/v1/keys/": {"get": 200, "post": 403},
    "/api/v1/keys/{bob_key}/": {"get": 404},
    "/api/v1/keys/{bob_key}/revoke/": {"post": 404},
    "/api/v1/usage/": {"get": 200},
    "/api/v1/usage/summary/": {"get": 200},
}


@pytest.mark.parametrize(
    ("url", "method", "expected"),
    [
        pytest.param(url, method, answers.get(method, 405), id=f"{method}-{url}")
        for url, answers in BARE_STAFF_ANSWERS.items()
        for method in METHODS
    ],
)
def test_a_staff_user_without_permissions_changes_and_reads_nothing_of_others_by_any_method(
    world, url, method, expected
):
    client = signed_in("clerk")
    body = {"user": world["bob"].pk, "name": "new", "revoked_at": "2030-01-01T00:00:00Z"}
    url = url.format(bob_key=world["bob_key"].pk)
    if method == "get":
        response = client.get(url)
    else:
        response = getattr(client, method)(url, body, content_type="application/json")
    assert response.status_code == expected, response.content[:200]
    if expected == 200:
        assert "bob" not in response.content.decode()
    world["bob_key"].refresh_from_db()
    assert world["bob_key"].revoked_at is None and world["bob_key"].name == "bob laptop"
    assert ProxyKey.objects.count() == 1
