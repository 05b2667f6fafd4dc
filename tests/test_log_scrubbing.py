"""Log lines and tracebacks that quote an upstream carry no known secret, whatever formats them."""

import io
import json
import logging

import pytest

from api.accounting.logs import JsonFormatter
from routing import snapshot
from tests.factories import make_provider, make_route

pytestmark = pytest.mark.django_db

KEY = "AIzaSyLogLeak-9f8e7d6c5b4a"


@pytest.fixture
def known_key():
    make_route(make_provider(api_key=KEY))
    snapshot.routes.get_sync()


def _log_an_upstream_failure(logger: logging.Logger) -> None:
    try:
        raise RuntimeError(f"upstream said: invalid x-api-key: {KEY}")
    except RuntimeError:
        logger.exception("stream failed after upstream answered %s", f"bad key {KEY[:10]}")


def test_caplog_sees_message_and_traceback_scrubbed(known_key, caplog):
    _log_an_upstream_failure(logging.getLogger("api.forward.relay"))
    assert "RuntimeError: upstream said: invalid x-api-key: [redacted]" in caplog.text
    assert "bad key [redacted]" in caplog.text
    assert KEY[:8] not in caplog.text and KEY[-8:] not in caplog.text


def test_the_json_formatter_scrubs_message_and_exception(known_key):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("api.test_log_scrubbing")
    logger.addHandler(handler)
    try:
        _log_an_upstream_failure(logger)
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line["message"] == "stream failed after upstream answered bad key [redacted]"
    assert line["exception"].endswith("RuntimeError: upstream said: invalid x-api-key: [redacted]")
