"""A restart mid-stream: on SIGTERM an open stream gets SHUTDOWN_GRACE seconds, then one honest
`overloaded_error` event (which clients retry); the upstream is closed and the usage row still written."""

from __future__ import annotations

import os
import signal
import subprocess

import httpx
import pytest

from tests.faults.live import CLIENT_KEY, Timeouts, body_for, fault_gateway, model_for, new_tag, parse_sse

pytestmark = pytest.mark.e2e  # a live gateway: runs in `make test`, not again in `make test-pg`

GRACE = 1.0
TIMEOUTS = Timeouts(request=10.0, ping=0.5)


async def test_sigterm_ends_an_open_stream_with_an_overloaded_error_and_keeps_its_usage_row(fault_upstream, tmp_path):
    tag = new_tag()
    with fault_gateway(tmp_path, fault_upstream.base_url, TIMEOUTS, SHUTDOWN_GRACE=str(GRACE)) as gw:
        headers = {"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01"}
        async with httpx.AsyncClient(timeout=GRACE + 10) as client:
            request = client.build_request(
                "POST", gw.url + "/v1/messages", json=body_for(tag, "drip_forever", stream=True), headers=headers
            )
            response = await client.send(request, stream=True)
            raw, parts = b"", response.aiter_bytes()
            async for part in parts:
                raw += part
                if b"event: content_block_delta" in raw:
                    break
            os.kill(gw.process.pid, signal.SIGTERM)
            async for part in parts:  # the rest, bounded by the client's read timeout
                raw += part
            await response.aclose()
        try:
            returncode = gw.process.wait(timeout=GRACE + 10)
        except subprocess.TimeoutExpired:
            pytest.fail("the gateway did not exit after its grace period")
        rows = gw.usage_rows(count=1, timeout=0, requested_model=model_for(tag))

    events = parse_sse(raw)
    assert events[-1] == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "The gateway is restarting; please retry the request."},
    }
    assert returncode == -signal.SIGTERM, "a clean exit (uvicorn re-raises the signal it drained on)"
    [req] = fault_upstream.requests_for(tag)
    assert req.connection.client_closed_at is not None, "the gateway closed the upstream stream"
    assert [(r["status"], r["error_type"]) for r in rows] == [(529, "overloaded_error")], "written before exit"
