"""The usage log through the management API: filters, pages and the totals per user, model and day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from knox.models import AuthToken

from routing.models import UsageLog
from tests.factories import make_key, make_staff, make_usage, make_user

pytestmark = pytest.mark.django_db

JAN_1, JAN_2, JAN_3 = (datetime(2025, 1, day, 12, tzinfo=UTC) for day in (1, 2, 3))


@pytest.fixture
def staff():
    return make_staff("root", "routing.view_usagelog")


@pytest.fixture
def staff_client(staff):
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def log():
    """Five rows: alice on two keys and two models over three days, bob once, one anonymous error."""
    alice, bob = make_user(username="alice"), make_user(username="bob")
    laptop, _ = make_key(alice, name="laptop")
    ci, _ = make_key(alice, name="ci")
    bobs, _ = make_key(bob)

    def row(request_id, created_at, user, key, model, **fields):
        fields = {"provider_name": "openai-main", "status": 200, **fields}
        return make_usage(
            request_id=request_id, created_at=created_at, user=user, key=key, requested_model=model, **fields
        )

    row("r1", JAN_1, alice, laptop, "claude-haiku", input_tokens=10, output_tokens=1, cache_read_tokens=5)
    row("r2", JAN_2, alice, laptop, "claude-haiku", input_tokens=20, output_tokens=2, stream=True)
    row(
        "r3",
        JAN_2,
        alice,
        ci,
        "claude-opus",
        input_tokens=40,
        output_tokens=4,
        cache_creation_tokens=7,
        provider_name="deepseek",
        stream=True,
    )
    row(
        "r4",
        JAN_3,
        bob,
        bobs,
        "claude-opus",
        input_tokens=80,
        output_tokens=8,
        status=429,
        error_type="rate_limit_error",
    )
    row("r5", JAN_3, None, None, "claude-haiku", status=401, error_type="authentication_error", provider_name="")
    return {"alice": alice, "bob": bob, "laptop": laptop, "ci": ci}


def request_ids(client, query: str) -> list[str]:
    response = client.get("/api/v1/usage/" + query)
    assert response.status_code == 200, response.content
    return [row["request_id"] for row in response.json()["results"]]


FILTERS = [
    pytest.param("", ["r5", "r4", "r3", "r2", "r1"], id="everything-newest-first"),
    pytest.param("?since=2025-01-02T00:00:00Z", ["r5", "r4", "r3", "r2"], id="since-inclusive"),
    pytest.param("?until=2025-01-02T12:00:00Z", ["r1"], id="until-exclusive"),
    pytest.param("?since=2025-01-02T00:00:00&until=2025-01-03T00:00:00", ["r3", "r2"], id="naive-range-is-utc"),
    pytest.param("?since=2025-01-02T13:00:00%2B01:00", ["r5", "r4", "r3", "r2"], id="offset-respected"),
    pytest.param("?user=alice", ["r3", "r2", "r1"], id="by-username"),
    pytest.param("?user=ALICE_ID", ["r3", "r2", "r1"], id="by-user-id"),
    pytest.param("?key=LAPTOP_ID", ["r2", "r1"], id="by-key-id"),
    pytest.param("?key=LAPTOP_PREFIX", ["r2", "r1"], id="by-key-prefix"),
    pytest.param("?key=LAPTOP_PREFIX…", ["r2", "r1"], id="by-key-prefix-as-displayed"),
    pytest.param("?model=claude-opus", ["r4", "r3"], id="by-model"),
    pytest.param("?provider=deepseek", ["r3"], id="by-provider"),
    pytest.param("?status=429", ["r4"], id="by-status"),
    pytest.param("?status=error", ["r5", "r4"], id="errors"),
    pytest.param("?status=ok", ["r3", "r2", "r1"], id="successes"),
    pytest.param("?stream=true", ["r3", "r2"], id="streamed"),
    pytest.param("?stream=false&model=claude-haiku", ["r5", "r1"], id="not-streamed-haiku"),
]


@pytest.mark.parametrize(("query", "expected"), FILTERS)
def test_staff_filter_usage(staff_client, log, query, expected):
    query = (
        query.replace("ALICE_ID", str(log["alice"].pk))
        .replace("LAPTOP_ID", str(log["laptop"].pk))
        .replace("LAPTOP_PREFIX", log["laptop"].prefix)
    )
    assert request_ids(staff_client, query) == expected


def test_a_usage_row_carries_its_user_key_and_tokens_but_no_bodies(staff_client, log):
    UsageLog.objects.filter(request_id="r1").update(request_body='{"secret prompt": 1}', response_body="answer")
    [row] = staff_client.get("/api/v1/usage/?until=2025-01-02T00:00:00Z").json()["results"]
    assert row["username"] == "alice" and row["key_prefix"] == log["laptop"].prefix
    assert (row["input_tokens"], row["output_tokens"], row["cache_read_tokens"]) == (10, 1, 5)
    assert "request_body" not in row and "response_body" not in row


def test_a_row_without_user_or_key_shows_nulls(staff_client, log):
    [row] = staff_client.get("/api/v1/usage/?status=401").json()["results"]
    assert (row["user"], row["username"], row["key"], row["key_prefix"]) == (None, None, None, None)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param("?since=yesterday", "since", id="bad-since"),
        pytest.param("?until=2025-13-01T00:00:00Z", "until", id="bad-until"),
        pytest.param("?status=teapot", "status", id="bad-status"),
        pytest.param("?stream=sometimes", "stream", id="bad-stream"),
    ],
)
def test_a_bad_usage_filter_is_a_400_naming_it(staff_client, log, query, field):
    for url in ("/api/v1/usage/", "/api/v1/usage/summary/"):
        response = staff_client.get(url + query)
        assert response.status_code == 400
        assert list(response.json()) == [field]


def test_an_owner_sees_only_her_own_rows_whatever_she_filters_by(log):
    client = Client()
    client.force_login(log["alice"])
    assert request_ids(client, "") == ["r3", "r2", "r1"]
    assert request_ids(client, "?user=bob") == []
    assert request_ids(client, "?status=error") == []


def test_usage_pages_hold_100_rows_and_a_page_size_is_capped_at_1000(staff_client, staff):
    UsageLog.objects.bulk_create(UsageLog(request_id=f"bulk{i}", user=staff) for i in range(1001))
    first = staff_client.get("/api/v1/usage/").json()
    assert (first["count"], len(first["results"])) == (1001, 100)
    assert first["next"].endswith("/api/v1/usage/?page=2")
    assert len(staff_client.get("/api/v1/usage/?page_size=5&page=3").json()["results"]) == 5
    assert len(staff_client.get("/api/v1/usage/?page_size=5000").json()["results"]) == 1000
    assert staff_client.get("/api/v1/usage/?page=99").status_code == 404


def test_listing_usage_costs_the_same_few_queries_however_many_rows(staff, log, django_assert_num_queries):
    _, token = AuthToken.objects.create(staff, expiry=timedelta(days=1))
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    # The token and its user, the user's other tokens (knox drops expired ones), the user's and groups'
    # permissions, the count, one page with users and keys.
    with django_assert_num_queries(6):
        assert client.get("/api/v1/usage/").status_code == 200


TOTALS = ("requests", "input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens", "errors")


def totals(*values) -> dict:
    """The totals of one summary row; `total_tokens` is the four token counts added up; these rows are
    unpriced, so they cost nothing in sum (tests/spend covers costs)."""
    row = dict(zip(TOTALS, values, strict=True))
    return {**row, "total_tokens": sum(values[1:5]), "cost_usd": "0.000000"}


def summary(client, query: str) -> dict:
    response = client.get("/api/v1/usage/summary/" + query)
    assert response.status_code == 200, response.content
    return response.json()


def test_the_summary_by_user_totals_each_user_busiest_first(staff_client, log):
    body = summary(staff_client, "?group_by=user")
    assert body["group_by"] == "user"
    alice, *tied = body["results"]
    assert alice == {"user": log["alice"].pk, "username": "alice", **totals(3, 70, 7, 5, 7, 0)}
    # One request each: their order is the database's (SQLite sorts the NULL user first, PostgreSQL last).
    assert sorted(tied, key=lambda row: row["user"] or 0) == [
        {"user": None, "username": None, **totals(1, 0, 0, 0, 0, 1)},
        {"user": log["bob"].pk, "username": "bob", **totals(1, 80, 8, 0, 0, 1)},
    ]
    assert body["totals"] == totals(5, 150, 15, 5, 7, 2)


def test_the_summary_by_model_totals_each_requested_model(staff_client, log):
    body = summary(staff_client, "?group_by=model")
    assert body["results"] == [
        {"model": "claude-haiku", **totals(3, 30, 3, 5, 0, 1)},
        {"model": "claude-opus", **totals(2, 120, 12, 0, 7, 1)},
    ]


def test_the_summary_by_day_lists_days_in_order(staff_client, log):
    body = summary(staff_client, "?group_by=day")
    assert body["results"] == [
        {"day": "2025-01-01", **totals(1, 10, 1, 5, 0, 0)},
        {"day": "2025-01-02", **totals(2, 60, 6, 0, 7, 0)},
        {"day": "2025-01-03", **totals(2, 80, 8, 0, 0, 2)},
    ]


def test_the_summary_applies_the_same_filters_as_the_list(staff_client, log):
    body = summary(staff_client, "?group_by=model&since=2025-01-02T00:00:00Z&user=alice")
    assert body["results"] == [
        {"model": "claude-haiku", **totals(1, 20, 2, 0, 0, 0)},
        {"model": "claude-opus", **totals(1, 40, 4, 0, 7, 0)},
    ]
    assert body["totals"] == totals(2, 60, 6, 0, 7, 0)


def test_the_summary_defaults_to_users_and_is_zero_when_nothing_matches(staff_client, log):
    body = summary(staff_client, "?since=2030-01-01T00:00:00Z")
    assert body == {"group_by": "user", "results": [], "totals": totals(0, 0, 0, 0, 0, 0)}


def test_an_owners_summary_counts_only_her_rows(log):
    client = Client()
    client.force_login(log["bob"])
    body = summary(client, "?group_by=model")
    assert body["results"] == [{"model": "claude-opus", **totals(1, 80, 8, 0, 0, 1)}]
    assert body["totals"] == totals(1, 80, 8, 0, 0, 1)


def test_an_unknown_grouping_is_a_400(staff_client, log):
    response = staff_client.get("/api/v1/usage/summary/?group_by=provider")
    assert response.status_code == 400
    assert response.json() == {"group_by": ["Expected one of: user, model, day."]}
