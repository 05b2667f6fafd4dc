"""Junk in any query parameter of the management API is a 400 naming it, never a 500 from the database."""

from __future__ import annotations

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing.models import UsageLog
from tests.factories import make_key, make_staff

pytestmark = pytest.mark.django_db

PARAMETERS = {
    "/api/v1/keys/": ("user", "active", "revoked", "page", "page_size"),
    "/api/v1/usage/": ("since", "until", "user", "key", "model", "provider", "status", "stream", "page", "page_size"),
    "/api/v1/usage/summary/": ("since", "until", "user", "key", "model", "provider", "status", "stream", "group_by"),
}
JUNK = [
    "99999999999999999999",  # past a 64-bit id
    "9" * 5000,  # past what int() parses at all
    "-1",
    "abc",
    "\x00",
    "1\x00",
    "²",  # a "digit" to str.isdigit(), not to int()
    "١٢",  # Arabic-Indic digits
    "1e9",
    "2025-13-01T00:00:00Z",
    "9999-12-31T23:59:59-01:00",  # after the last representable instant in UTC
    "0001-01-01T00:00:00+01:00",  # before the first
    "2025-01-01T00:00:00+99:00",
    "x" * 10_000,
    "' OR 1=1 --",
    "%",
    "NaN",
]
CASES = [
    pytest.param(url, name, value, id=f"{url.strip('/').replace('/', '-')}-{name}-{i}")
    for url, names in PARAMETERS.items()
    for name in names
    for i, value in enumerate(JUNK)
]


@pytest.fixture
def client():
    """A viewer of every key and usage row, with a key and a row to find."""
    root = make_staff("root", "routing.view_proxykey", "routing.view_usagelog")
    key, _ = make_key(root)
    UsageLog.objects.create(request_id="req_1", user=root, key=key, requested_model="claude-haiku")
    client = Client()
    client.force_login(root)
    return client


def assert_answered(response, name: str) -> None:
    """200 (the value is a fine filter that matches nothing), a 400 naming `name`, or a page past the end."""
    assert response.status_code in (200, 400, 404), (name, response.status_code, response.content[:200])
    if response.status_code == 400:
        assert list(response.json()) == [name]
    if response.status_code == 404:
        assert name == "page" and response.json() == {"detail": "Invalid page."}


@pytest.mark.parametrize(("url", "name", "value"), CASES)
def test_a_junk_value_is_answered_never_a_500(client, url, name, value):
    assert_answered(client.get(url, {name: value}), name)


@pytest.mark.parametrize(
    ("query", "name"),
    [
        pytest.param({"page": "abc"}, "page", id="page-abc"),
        pytest.param({"page": "0"}, "page", id="page-zero"),
        pytest.param({"page": "99999999999999999999"}, "page", id="page-huge"),
        pytest.param({"page_size": "-1"}, "page_size", id="page-size-negative"),
        pytest.param({"page_size": "0"}, "page_size", id="page-size-zero"),
        pytest.param({"page_size": "ten"}, "page_size", id="page-size-words"),
        pytest.param({"key": "99999999999999999999"}, "key", id="key-id-past-64-bits"),
        pytest.param({"user": "99999999999999999999"}, "user", id="user-id-past-64-bits"),
        pytest.param({"status": "99999"}, "status", id="status-past-599"),
        pytest.param({"model": "claude\x00haiku"}, "model", id="nul-in-model"),
        pytest.param({"since": "9999-12-31T23:59:59-01:00"}, "since", id="since-past-the-last-instant"),
    ],
)
def test_the_bad_values_named_in_the_brief_are_400s_naming_the_parameter(client, query, name):
    response = client.get("/api/v1/usage/", query)
    assert response.status_code == 400
    assert list(response.json()) == [name]


def test_good_values_beside_them_still_filter(client):
    assert client.get("/api/v1/usage/", {"page": "last", "page_size": "5000", "key": "1"}).status_code == 200
    assert client.get("/api/v1/usage/", {"page": "2"}).status_code == 404  # one row: page 2 is past the end
    assert client.get("/api/v1/usage/", {"user": "root"}).json()["count"] == 1


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        pytest.param({"user": 99999999999999999999}, "user", id="user-id-past-64-bits"),
        pytest.param({"user": "1\x00"}, "user", id="nul-in-user"),
        pytest.param({"user": "ROOT", "name": "a\x00b"}, "name", id="nul-in-name"),
        pytest.param({"user": "ROOT", "rpm_limit": 99999999999999999999}, "rpm_limit", id="huge-limit"),
        pytest.param({"user": "ROOT", "budget_tokens": -5}, "budget_tokens", id="negative-budget"),
        pytest.param({"user": "ROOT", "expires_at": "0001-01-01T00:00:00+01:00"}, "expires_at", id="before-time"),
        pytest.param({"user": "ROOT", "may_test_connection": "perhaps"}, "may_test_connection", id="not-a-boolean"),
    ],
)
def test_junk_in_an_issue_request_is_a_400_naming_the_field(fields, error_field):
    root = make_staff("root", is_superuser=True)
    client = Client()
    client.force_login(root)
    fields = {name: root.pk if value == "ROOT" else value for name, value in fields.items()}
    response = client.post("/api/v1/keys/", fields, "application/json")
    assert response.status_code == 400, response.content[:300]
    assert list(response.json()) == [error_field]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    target=st.sampled_from([(url, name) for url, names in PARAMETERS.items() for name in names]),
    value=st.text(min_size=1, max_size=40),
)
def test_any_text_in_any_parameter_is_answered_never_a_500(client, target, value):
    url, name = target
    assert_answered(client.get(url, {name: value}), name)
