"""Logging with the request id on every line, as plain text or one JSON object per line (LOG_FORMAT=json).

Only ids, names, numbers and short error messages are logged: never keys, headers or bodies. Those
messages (and tracebacks) may quote an upstream, so every record is scrubbed of known secrets.
"""

from __future__ import annotations

import contextvars
import json
import logging
import time

from api.http.scrub import scrub

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
access = logging.getLogger("api.access")


class ScrubbedLogRecord(logging.LogRecord):
    """A log record whose message and cached traceback text carry no known secret, whichever handler
    formats it (console, caplog, an error tracker): installed as the record factory at start-up."""

    def getMessage(self) -> str:
        return scrub(super().getMessage())

    @property
    def exc_text(self) -> str | None:
        return self._exc_text

    @exc_text.setter
    def exc_text(self, value: str | None) -> None:
        self._exc_text = scrub(value) if value else value


def install_scrubbing() -> None:
    logging.setLogRecordFactory(ScrubbedLogRecord)


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
            if not record.exc_text:  # cached as logging.Formatter does, so a scrubbing record can clean it
                record.exc_text = self.formatException(record.exc_info)
            data["exception"] = record.exc_text
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
