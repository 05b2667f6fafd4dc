"""Endpoints Claude Code and operators probe: HEAD /, GET /, /health, and JSON 404s under /v1/."""

import pytest

from api.accounting.usage import writer
from routing.models import UsageLog


def test_head_root_is_2xx_with_an_empty_body(client):
    response = client.head("/")
    assert response.status_code == 200 and response.content == b""


def test_get_root_names_the_service(client):
    data = client.get("/").json()
    assert data["service"] == "anthropic-gateway" and data["version"]


@pytest.mark.django_db
def test_health_reports_the_database_without_auth_or_secrets(client, settings):
    settings.ANTHROPIC_API_KEY = "client-secret-value"
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"
    assert b"client-secret-value" not in response.content


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/v1/models/nope", "/v1/complete", "/v1/"])
def test_unknown_api_paths_get_a_json_404_in_anthropic_shape_and_a_usage_row(client, path):
    response = client.post(path, data="{}", content_type="application/json")
    assert response.status_code == 404
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == "not_found_error"
    assert body["request_id"].startswith("req_") and response["request-id"] == body["request_id"]
    assert writer.flush(10.0)
    row = UsageLog.objects.get(request_id=body["request_id"])
    assert (row.status, row.endpoint) == (404, "unknown")


@pytest.mark.django_db(transaction=True)
def test_get_on_messages_is_a_json_405(client):
    response = client.get("/v1/messages")
    assert response.status_code == 405 and response.json()["error"]["type"] == "invalid_request_error"
    assert writer.flush(10.0)
    assert UsageLog.objects.get(request_id=response["request-id"]).status == 405
