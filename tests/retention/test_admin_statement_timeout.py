"""On PostgreSQL no admin statement runs past ADMIN_STATEMENT_TIMEOUT: a slow one (pg_sleep) is cut,
the page says so (503), and the connection's limit is reset afterwards so later work is not cut."""

from __future__ import annotations

import time

import pytest
from django.db import OperationalError, connection

from tests.factories import make_staff, make_usage

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="SQLite has no statement timeout"),
]
LIST = "/admin/routing/usagelog/"


@pytest.fixture
def admin_client(client, settings):
    settings.ADMIN_STATEMENT_TIMEOUT = 0.5
    client.force_login(make_staff("root", is_superuser=True))
    make_usage(request_id="req_one")
    return client


def slow_usage_reads(execute, sql, params, many, context):
    """Each read of the usage log first sleeps 5 s on the server, as a scan of millions of rows would."""
    if 'FROM "routing_usagelog"' in sql:
        execute("SELECT pg_sleep(5)", None, False, context)
    return execute(sql, params, many, context)


def statement_timeout() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return cursor.fetchone()[0]


def test_a_slow_admin_query_is_cut_and_the_page_says_so(admin_client):
    started = time.monotonic()
    with connection.execute_wrapper(slow_usage_reads):
        response = admin_client.get(LIST)
    assert time.monotonic() - started < 3
    assert response.status_code == 503
    assert response.content.decode().startswith("This page's query took longer than 0.5 s and was stopped")
    assert statement_timeout() == "0", "the limit ends with the admin request"


def test_a_streamed_export_stays_under_the_limit_until_it_ends(admin_client):
    response = admin_client.get(LIST + "export.csv")
    assert response.status_code == 200
    started = time.monotonic()
    with connection.execute_wrapper(slow_usage_reads), pytest.raises(OperationalError, match="statement timeout"):
        b"".join(response.streaming_content)
    assert time.monotonic() - started < 3
    response.close()
    assert statement_timeout() == "0"


def test_a_fast_admin_page_is_served_and_other_work_is_not_limited(admin_client):
    response = admin_client.get(LIST + "?period=any")
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1
    assert statement_timeout() == "0"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(0.7)")  # longer than the admin's limit, outside the admin
