"""Who may call each management API endpoint, how they sign in, and the OpenAPI schema that describes it."""

from __future__ import annotations

import json
import re

import pytest
from django.core.management import call_command
from django.test import Client
from drf_spectacular.validation import validate_schema
from rest_framework.authtoken.models import Token

from routing.models import ProxyKey, UsageLog
from tests.factories import make_key, make_user

pytestmark = pytest.mark.django_db

STAFF, STAFF_TOKEN, OWNER, OWNER_TOKEN, STRANGER, ANONYMOUS = (
    "staff",
    "staff-token",
    "owner",
    "owner-token",
    "stranger",
    "anonymous",
)


@pytest.fixture
def world():
    """Staff `root`; `alice` (the owner) and `bob` (a stranger to her), each with a key and a usage row."""
    root = make_user(username="root", is_staff=True)
    alice, bob = make_user(username="alice"), make_user(username="bob")
    alice_key, _ = make_key(alice, name="alice laptop")
    bob_key, _ = make_key(bob, name="bob laptop")
    UsageLog.objects.create(request_id="req_a", user=alice, key=alice_key, requested_model="claude-haiku")
    UsageLog.objects.create(request_id="req_b", user=bob, key=bob_key, requested_model="claude-opus")
    return {"root": root, "alice": alice, "bob": bob, "alice_key": alice_key, "bob_key": bob_key}


def client_for(caller: str, world) -> Client:
    """A client signed in as `caller`: by session, by DRF token, or not at all."""
    user = {STAFF: "root", STAFF_TOKEN: "root", OWNER: "alice", OWNER_TOKEN: "alice", STRANGER: "bob"}.get(caller)
    if user is None:
        return Client()
    if caller.endswith("-token"):
        token, _ = Token.objects.get_or_create(user=world[user])
        return Client(HTTP_AUTHORIZATION=f"Token {token.key}")
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
            (OWNER, 200),
            (OWNER_TOKEN, 200),
            (STRANGER, 200),
            (ANONYMOUS, 401),
        ]
    ],
    # Read alice's key: a stranger gets 404, so the key's existence is not confirmed.
    *[
        pytest.param(caller, "get", "/api/v1/keys/{alice_key}/", code, id=f"read-key-{caller}")
        for caller, code in [
            (STAFF, 200),
            (STAFF_TOKEN, 200),
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
            (OWNER, 200),
            (OWNER_TOKEN, 200),
            (STRANGER, 200),
            (ANONYMOUS, 401),
        ]
    ],
    *[
        pytest.param(caller, "get", "/api/v1/schema/", code, id=f"schema-{caller}")
        for caller, code in [(STAFF, 200), (STAFF_TOKEN, 200), (OWNER, 200), (STRANGER, 200), (ANONYMOUS, 401)]
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
    pytest.param(STAFF, {"alice", "bob"}, id="staff-sees-everyone"),
    pytest.param(STAFF_TOKEN, {"alice", "bob"}, id="staff-token-sees-everyone"),
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


def test_a_non_staff_user_filtering_by_another_user_still_sees_nothing_of_theirs(world):
    for url in ("/api/v1/keys/?user=bob", "/api/v1/usage/?user=bob", "/api/v1/usage/summary/?user=bob"):
        body = call(OWNER, world, "get", url).json()
        assert body["results"] == [], url


CREATE = [
    pytest.param(STAFF, 201, id="staff"),
    pytest.param(STAFF_TOKEN, 201, id="staff-token"),
    pytest.param(OWNER, 403, id="owner-even-for-herself"),
    pytest.param(OWNER_TOKEN, 403, id="owner-token"),
    pytest.param(STRANGER, 403, id="stranger"),
    pytest.param(ANONYMOUS, 401, id="anonymous"),
]


@pytest.mark.parametrize(("caller", "expected"), CREATE)
def test_only_staff_issue_keys(world, caller, expected):
    response = call(caller, world, "post", "/api/v1/keys/", user=world["alice"].pk, name="new")
    assert response.status_code == expected, response.content
    assert ProxyKey.objects.filter(name="new").exists() == (expected == 201)


REVOKE = [
    pytest.param(STAFF, 200, id="staff"),
    pytest.param(STAFF_TOKEN, 200, id="staff-token"),
    pytest.param(OWNER, 200, id="owner"),
    pytest.param(OWNER_TOKEN, 200, id="owner-token"),
    pytest.param(STRANGER, 404, id="stranger"),
    pytest.param(ANONYMOUS, 401, id="anonymous"),
]


@pytest.mark.parametrize(("caller", "expected"), REVOKE)
def test_staff_and_the_owner_may_revoke_a_key_and_nobody_else(world, caller, expected):
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
    token = Token.objects.create(user=world["root"])
    world["root"].is_active = False
    world["root"].save()
    response = Client(HTTP_AUTHORIZATION=f"Token {token.key}").get("/api/v1/keys/")
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


def test_a_token_made_by_drf_create_token_authenticates_as_its_user(world, capsys):
    call_command("drf_create_token", "root")
    token = re.search(r"Generated token (\w+) for user root", capsys.readouterr().out).group(1)
    assert Token.objects.get(user=world["root"]).key == token
    response = Client(HTTP_AUTHORIZATION=f"Token {token}").get("/api/v1/keys/")
    assert response.status_code == 200
    assert response.json()["count"] == 2


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
    }
    assert set(schema["components"]["securitySchemes"]) == {"tokenAuth", "cookieAuth"}
    assert "secret_hash" not in response.content.decode()


def test_the_schema_is_yaml_by_default(world):
    response = client_for(STAFF, world).get("/api/v1/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert b"/api/v1/keys/:" in response.content
