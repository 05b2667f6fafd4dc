"""The usage list's exports, CSV and JSON lines: plain GET links that keep the list's filters, the same
rows in either format, and never the whole log unasked (31 days back when the list names no start)."""

from __future__ import annotations

import csv
import io
from html import unescape

import orjson
import pytest
import time_machine

from routing.models import UsageLog
from tests.factories import make_staff
from tests.retention.conftest import NOW

LIST = "/admin/routing/usagelog/"


def export(client, kind: str, query: str = ""):
    with time_machine.travel(NOW, tick=False):
        response = client.get(f"{LIST}export.{kind}{query}")
    return response, b"".join(response.streaming_content).decode() if response.status_code == 200 else ""


def jsonl_rows(client, query: str = "") -> list[dict]:
    response, body = export(client, "jsonl", query)
    assert response.status_code == 200 and response["Content-Type"] == "application/x-ndjson"
    assert response["Content-Disposition"] == 'attachment; filename="usage.jsonl"'
    return [orjson.loads(line) for line in body.splitlines()]


def csv_ids(client, query: str = "") -> list[str]:
    response, body = export(client, "csv", query)
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    return [row["request_id"] for row in csv.DictReader(io.StringIO(body))]


def test_json_lines_hold_the_filtered_rows_one_object_a_line(admin_client, aged_log):
    query = "?created_at__gte=2026-01-01T00:00:00%2B00:00&status__exact=429"
    rows = jsonl_rows(admin_client, query)
    assert [r["request_id"] for r in rows] == ["req_d3", "req_d40"]  # newest first
    stored = UsageLog.objects.get(request_id="req_d3")
    first = rows[0]
    assert first["created_at"] == stored.created_at.isoformat()
    assert (first["user__username"], first["key__prefix"]) == ("alice", aged_log.prefix)
    assert (first["status"], first["input_tokens"], first["cost_usd"]) == (429, 1, "0.001500")
    assert first["requested_model"] == "claude-=cmd", "JSON is no spreadsheet: text exported as it is"
    assert csv_ids(admin_client, query) == ["req_d3", "req_d40"]


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_without_a_filter_an_export_has_the_lists_default_7_days(admin_client, kind):
    ids = csv_ids(admin_client) if kind == "csv" else [r["request_id"] for r in jsonl_rows(admin_client)]
    assert ids == ["req_h2", "req_d3"]


@pytest.mark.parametrize("query", ["?period=any", "?q=alice", "?period=any&status__gte=100"])
def test_an_export_naming_no_start_reaches_31_days_back_only(admin_client, query):
    assert csv_ids(admin_client, query) == ["req_h2", "req_d3", "req_d10"]
    assert len(jsonl_rows(admin_client, query)) == 3


def test_dates_given_by_the_admin_reach_older_rows(admin_client):
    query = "?created_at__gte=2026-01-01T00:00:00%2B00:00&created_at__lt=2026-05-10T00:00:00%2B00:00"
    assert csv_ids(admin_client, query) == ["req_d40", "req_d120"]


def test_the_list_links_its_summary_and_both_exports_keeping_its_filters(admin_client):
    with time_machine.travel(NOW, tick=False):
        html = unescape(admin_client.get(LIST + "?period=31d&status_class=4").content.decode())
    assert f'<a href="{LIST}summary/">Summary</a>' in html
    assert f'<a href="{LIST}export.csv?period=31d&status_class=4">Export CSV</a>' in html
    assert f'<a href="{LIST}export.jsonl?period=31d&status_class=4">Export JSON lines</a>' in html
    assert csv_ids(admin_client, "?period=31d&status_class=4") == ["req_d3"]


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_staff_without_the_usage_view_permission_get_no_export(client, aged_log, kind):
    client.force_login(make_staff("helpdesk", "routing.view_proxykey"))
    response, body = export(client, kind, "?period=any")
    assert response.status_code == 403 and "req_" not in body
