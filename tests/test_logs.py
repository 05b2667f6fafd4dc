"""Logs: one JSON object per line with the request id, and no secrets."""

import io
import json
import logging

from api.accounting.logs import JsonFormatter, RequestIdFilter, log_finished, request_id
from api.accounting.usage import UsageRecord


def test_a_finished_request_is_one_json_line_with_its_request_id_and_no_secrets():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("api.access")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    token = request_id.set("req_abc")
    try:
        log_finished(
            UsageRecord(
                request_id="req_abc",
                requested_model="claude-opus-4-8",
                status=200,
                input_tokens=12,
                output_tokens=3,
                latency_ms=42,
                request_body='{"secret": "sk-live-123456789"}',
            )
        )
    finally:
        request_id.reset(token)
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    line = json.loads(stream.getvalue().strip())
    assert (line["request_id"], line["status"], line["model"], line["input_tokens"]) == (
        "req_abc",
        200,
        "claude-opus-4-8",
        12,
    )
    assert "sk-live" not in stream.getvalue()
