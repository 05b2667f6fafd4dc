"""Logging with the request id on every line, as plain text or one JSON object per line (LOG_FORMAT=json).

Only ids, names, numbers and short error messages are logged: never keys, headers or bodies.
"""

from __future__ import annotations

import contextvars
import json
import logging
import time

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
access = logging.getLogger("api.access")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; fields passed as `extra={"fields": {...}}` are merged in."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


def log_finished(record) -> None:
    """The one access line per request (INFO), from its usage record."""
    if not access.isEnabledFor(logging.INFO):
        return
    fields = {
        "endpoint": record.endpoint,
        "model": record.requested_model,
        "provider": record.provider_name,
        "upstream_model": record.upstream_model,
        "stream": record.stream,
        "status": record.status,
        "error_type": record.error_type,
        "latency_ms": record.latency_ms,
        "ttft_ms": record.ttft_ms,
        "input_tokens": record.input_tokens,
        "output_tokens": record.output_tokens,
        "attempts": record.attempts,
        "user_id": record.user_id,
        "key_id": record.key_id,
    }
    access.info(
        "%s %s -> %s in %d ms",
        record.endpoint,
        record.requested_model,
        record.status,
        record.latency_ms,
        extra={"fields": fields},
    )
