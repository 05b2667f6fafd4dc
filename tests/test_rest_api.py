"""Who may call each management API endpoint, how they sign in, and the OpenAPI schema that describes it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from drf_spectacular.validation import validate_schema
from knox.models import AuthToken

from routing.models import ProxyKey
from tests.factories import make_key, make_staff, make_usage, make_user

pytestmark = pytest.mark.django_db

STAFF, STAFF_TOKEN, BARE_STAFF, OWNER, OWNER_TOKEN, STRANGER, ANONYMOUS = (
    "staff",
    "staff-token",
    "bare-staff",
    "owner",
    "owner-token",
    "stranger",
    "anonymous",
)
MANAGER_PERMISSIONS = (
    "routing.view_proxykey",
    "routing.add_proxykey",
    "routing.change_proxykey",
    "routing.view_usagelog",
)


@pytest.fixture
def world():
    """Staff `root` holding the key and usage permissions; `clerk`, staff holding none; `alice` (the
    owner) and `bob` (a stranger to her). Everyone but root has a key and a usage row."""
    root = make_staff("root", *MANAGER_PERMISSIONS)
    clerk, alice, bob = make_staff("clerk"), make_user(username="alice"), make_user(username="bob")
    users = {"root": root, "clerk": clerk, "alice": alice, "bob": bob}
    for name in ("clerk", "alice", "bob"):
        key, _ = make_key(users[name], name=f"{name} laptop")
        make_usage(request_id=f"req_{name}", user=users[name], key=key, requested_model="claude-haiku")
        users[f"{name}_key"] = key
    return users


def client_for(caller: str, world) -> Client:
    """A client signed in as `caller`: by session, by management API token, or not at all."""
    user = {
        STAFF: "root",
        STAFF_TOKEN: "root",
        BARE_STAFF: "clerk",
        OWNER: "alice",
        OWNER_TOKEN: "alice",
        STRANGER: "bob",
    }.get(caller)
    if user is None:
        return Client()
    if caller.endswith("-token"):
        _, token = AuthToken.objects.create(world[user], expiry=timedelta(days=1))
        return Client(HTTP_AUTHORIZATION=f"Token {token}")
    client = Client()
    client.force_login(world[user])
    return client


def call(caller: str, world, method: str, url: str, **data):
    url = url.format(alice_key=world["alice_key"].pk)
    client = client_for(caller, world)
    if method == "post":
        return client.post(url, data=data, content_type="application/json")
    return client.get(url)


MATRIX = [
    # List keys: each signed-in caller sees what they may see; anonymous is a JSON 401.
    *[
        pytest.param(caller, "get", "/api/v1/keys/", code, id=f"list-keys-{caller}")
        for caller, code in [
            (STAFF, 200),
            (STAFF_TOKEN, 200),
            (BARE_STAFF, 200),
            (OWNER, 200),
            (OWNER_TOKEN, 200),
            (STRANGER, 200),
            (ANONYMOUS, 401),
        ]
    ],
    # Read alice's key: a stranger (staff without view_proxykey too) gets 404: its existence is not confirmed.
    *[
        pytest.param(caller, "get", "/api/v1/keys/{alice_key}/", code, id=f"read-key-{caller}")
        for caller, code in [
            (STAFF, 200),
            (STAFF_TOKEN, 200),
            (BARE_STAFF, 404),
            (OWNER, 200),
            (OWNER_TOKEN, 200),
            (STRANGER, 404),
            (ANONYMOUS, 401),
        ]
    ],
    *[
        pytest.param(caller, "get", "/api/v1/usage/", code, id=f"list-usage-{caller}")
        for caller, code in [
            (STAFF, 200),
            (STAFF_TOKEN, 200),
            (BARE_STAFF, 200),
            (OWNER, 200),
            (OWNER_TOKEN, 200),
            (STRANGER, 200),
            (ANONYMOUS, 401),
        ]
    ],
    *[
        pytest.param(caller, "get", "/api/v1/usage/summary/", code, id=f"summary-{caller}")
        for caller, code in [
            (STAFF, 200),
            (STAFF_TOKEN, 200),
            (BARE_STAFF, 200),
            (OWNER, 200),
            (OWNER_TOKEN, 200),
            (STRANGER, 200),
            (ANONYMOUS, 401),
        ]
    ],
    *[
        pytest.param(caller, "get", "/api/v1/schema/", code, id=f"schema-{caller}")
        for caller, code in [
            (STAFF, 200),
            (STAFF_TOKEN, 200),
            (BARE_STAFF, 200),
            (OWNER, 200),
            (STRANGER, 200),
            (ANONYMOUS, 401),
        ]
    ],
]


@pytest.mark.parametrize(("caller", "method", "url", "expected"), MATRIX)
def test_each_read_endpoint_answers_each_caller_as_the_matrix_says(world, caller, method, url, expected):
    response = call(caller, world, method, url)
    assert response.status_code == expected, response.content
    if expected == 401:
        assert response["WWW-Authenticate"] == "Token"
        assert "credentials were not provided" in response.content.decode()


VISIBLE = [
    pytest.param(STAFF, {"clerk", "alice", "bob"}, id="staff-with-view-permissions-sees-everyone"),
    pytest.param(STAFF_TOKEN, {"clerk", "alice", "bob"}, id="staff-token-sees-everyone"),
    pytest.param(BARE_STAFF, {"clerk"}, id="staff-without-permissions-sees-only-himself"),
    pytest.param(OWNER, {"alice"}, id="owner-sees-only-herself"),
    pytest.param(OWNER_TOKEN, {"alice"}, id="owner-token-sees-only-herself"),
    pytest.param(STRANGER, {"bob"}, id="stranger-sees-only-himself"),
]


@pytest.mark.parametrize(("caller", "usernames"), VISIBLE)
def test_keys_usage_and_summary_show_only_the_rows_a_caller_may_see(world, caller, usernames):
    keys = call(caller, world, "get", "/api/v1/keys/").json()
    usage = call(caller, world, "get", "/api/v1/usage/").json()
    summary = call(caller, world, "get", "/api/v1/usage/summary/?group_by=user").json()
    assert {k["username"] for k in keys["results"]} == usernames
    assert {row["username"] for row in usage["results"]} == usernames
    assert {row["username"] for row in summary["results"]} == usernames
    assert summary["totals"]["requests"] == len(usernames)


@pytest.mark.parametrize("caller", [OWNER, BARE_STAFF])
def test_a_user_without_view_permission_filtering_by_another_user_still_sees_nothing_of_theirs(world, caller):
    for url in ("/api/v1/keys/?user=bob", "/api/v1/usage/?user=bob", "/api/v1/usage/summary/?user=bob"):
        body = call(caller, world, "get", url).json()
        assert body["results"] == [], url


CREATE = [
    pytest.param(STAFF, 201, id="staff"),
    pytest.param(STAFF_TOKEN, 201, id="staff-token"),
    pytest.param(BARE_STAFF, 403, id="staff-without-add-permission"),
    pytest.param(OWNER, 403, id="owner-even-for-herself"),
    pytest.param(OWNER_TOKEN, 403, id="owner-token"),
    pytest.param(STRANGER, 403, id="stranger"),
    pytest.param(ANONYMOUS, 401, id="anonymous"),
]


@pytest.mark.parametrize(("caller", "expected"), CREATE)
def test_only_holders_of_add_proxykey_issue_keys(world, caller, expected):
    response = call(caller, world, "post", "/api/v1/keys/", user=world["alice"].pk, name="new")
    assert response.status_code == expected, response.content
    assert ProxyKey.objects.filter(name="new").exists() == (expected == 201)


REVOKE = [
    pytest.param(STAFF, 200, id="staff"),
    pytest.param(STAFF_TOKEN, 200, id="staff-token"),
    pytest.param(BARE_STAFF, 404, id="staff-without-permissions"),
    pytest.param(OWNER, 200, id="owner"),
    pytest.param(OWNER_TOKEN, 200, id="owner-token"),
    pytest.param(STRANGER, 404, id="stranger"),
    pytest.param(ANONYMOUS, 401, id="anonymous"),
]


@pytest.mark.parametrize(("caller", "expected"), REVOKE)
def test_holders_of_change_proxykey_and_the_owner_may_revoke_a_key_and_nobody_else(world, caller, expected):
    response = call(caller, world, "post", "/api/v1/keys/{alice_key}/revoke/")
    assert response.status_code == expected, response.content
    world["alice_key"].refresh_from_db()
    assert (world["alice_key"].revoked_at is not None) == (expected == 200)


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_an_unauthenticated_browser_gets_json_never_html(world):
    for url in ("/api/v1/keys/", "/api/v1/usage/", "/api/v1/usage/summary/"):
        response = Client().get(url, HTTP_ACCEPT=BROWSER_ACCEPT)
        assert response.status_code == 401
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_a_client_that_accepts_only_html_is_told_so_in_json(world):
    response = client_for(STAFF, world).get("/api/v1/keys/", HTTP_ACCEPT="text/html")
    assert response.status_code == 406
    assert response["Content-Type"] == "application/json"


def test_a_wrong_token_is_a_401_and_not_a_fall_through_to_anonymous(world):
    response = Client(HTTP_AUTHORIZATION="Token not-a-real-token").get("/api/v1/keys/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}


def test_a_token_of_a_deactivated_user_is_refused(world):
    _, token = AuthToken.objects.create(world["root"], expiry=timedelta(days=1))
    world["root"].is_active = False
    world["root"].save()
    response = Client(HTTP_AUTHORIZATION=f"Token {token}").get("/api/v1/keys/")
    assert response.status_code == 401


def test_a_session_post_without_a_csrf_token_is_refused(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["root"])
    url = f"/api/v1/keys/{world['alice_key'].pk}/revoke/"
    response = client.post(url, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    world["alice_key"].refresh_from_db()
    assert world["alice_key"].revoked_at is None


def test_the_schema_is_a_valid_openapi_document_of_the_keys_and_usage_endpoints(world):
    client = client_for(STAFF, world)
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    validate_schema(schema)  # raises on an invalid OpenAPI 3 document
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "anthropic-gateway management API"
    assert set(schema["paths"]) == {
        "/api/v1/keys/",
        "/api/v1/keys/{id}/",
        "/api/v1/keys/{id}/revoke/",
        "/api/v1/usage/",
        "/api/v1/usage/summary/",
        "/api/v1/schema/",
        "/api/v1/token/revoke/",
    }
    assert set(schema["components"]["securitySchemes"]) == {"knoxApiToken", "cookieAuth"}
    assert "secret_hash" not in response.content.decode()


def test_the_schema_is_yaml_by_default(world):
    response = client_for(STAFF, world).get("/api/v1/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert b"/api/v1/keys/:" in response.content
