"""Accounting under load (keys issue acceptance): 500 requests in flight at once, with an issued key,
leave exactly 500 usage rows carrying the key's user, and the successful ones add up to exactly the
tokens the upstream reported.

The mix: healthy streams and whole answers, upstream failures before and after the first byte, and
clients that hang up mid-stream or while waiting for a whole answer. The fault upstream holds every
answer until all 500 requests have reached it, so they are provably concurrent.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.servers import Gateway, GatewayDidNotStart
from tests.faults.fault_upstream import wait_until
from tests.faults.live import Timeouts, fault_gateway, model_for, new_tag
from tests.faults.load import Case, key_prefix, send, wait_for_rows

pytestmark = pytest.mark.e2e  # a live gateway: runs in `make test`, not again in `make test-pg`

REQUESTS = 500
TIMEOUTS = Timeouts(request=30.0, connect=10.0, ping=1.0, retry_deadline=5.0)
GATHER_WITHIN = 20.0
"""Seconds the upstream waits for all requests to arrive before answering anyway."""
RUN_BOUND = 90.0

MIX = [
    *[Case(("ok",), True, 200, 200)] * 4,
    *[Case(("ok",), False, 200, 200)] * 3,
    Case(("html_502",), False, 500, 500, "api_error"),
    Case(("rate_limit",), True, 429, 429, "rate_limit_error"),
    Case(("reset_before_headers",), False, 502, 502, "api_error"),
    Case(("error_chunk",), True, 200, 500, "api_error"),  # after the first byte: a 200 ending in an error event
    Case(("reset_mid_stream",), True, 200, 500, "api_error"),
    Case(("drip_forever",), True, None, 499, "client_closed"),
    Case(("drip_forever",), False, None, 499, "client_closed"),
]


@pytest.fixture(scope="module")
def accounting_gateway(fault_upstream, tmp_path_factory) -> Iterator[Gateway]:
    """REQUEST_TIMEOUT 30 s: the upstream holds the first answers while the others arrive. CONNECT_TIMEOUT
    10 s: a timer that also measures event-loop lag, which 500 simultaneous arrivals on a busy machine make long."""
    try:
        with fault_gateway(tmp_path_factory.mktemp("accounting"), fault_upstream.base_url, TIMEOUTS) as gw:
            yield gw
    except GatewayDidNotStart as exc:
        pytest.fail(str(exc), pytrace=False)


async def test_500_concurrent_requests_leave_500_usage_rows_whose_tokens_add_up(accounting_gateway, fault_upstream):
    gw = accounting_gateway
    key = gw.issue_key("alice", "--name", "accounting")
    cases = {new_tag(): MIX[n % len(MIX)] for n in range(REQUESTS)}
    limits = httpx.Limits(max_connections=REQUESTS * 2, max_keepalive_connections=REQUESTS * 2)

    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(RUN_BOUND)) as client:
        with fault_upstream.holding(REQUESTS, GATHER_WITHIN) as hold:
            async with asyncio.timeout(RUN_BOUND):
                outcomes = await asyncio.gather(
                    *(send(client, gw, fault_upstream, tag, case, key=key) for tag, case in cases.items())
                )

    assert hold.peak == REQUESTS, f"only {hold.peak} requests were in flight at once"
    for (tag, case), outcome in zip(cases.items(), outcomes, strict=True):
        assert outcome.status == case.http, (tag, case, outcome.status)
        if outcome.events is not None:
            assert outcome.events[-1]["type"] == ("message_stop" if case.status == 200 else "error"), tag
        if case.cancel:
            [req] = fault_upstream.requests_for(tag)
            assert wait_until(lambda r=req: r.connection.client_closed_at is not None, 2.0), f"{tag}: upstream open"
    rows = wait_for_rows(gw, REQUESTS, timeout=30, key_prefix=key_prefix(gw, key))
    assert len(rows) == REQUESTS, f"{len(rows)} usage rows for {REQUESTS} requests"
    by_model = {row["requested_model"]: row for row in rows}
    assert len(by_model) == REQUESTS, "one row per request, none twice"
    assert {row["username"] for row in rows} == {"alice"}
    for tag, case in cases.items():
        row = by_model[model_for(tag)]
        assert (row["status"], row["error_type"]) == (case.status, case.error_type), (tag, case, row)
    assert Counter(r["status"] for r in rows) == Counter(case.status for case in cases.values())
    healthy = [tag for tag, case in cases.items() if case.status == 200]
    reported = [req for tag in healthy for req in fault_upstream.requests_for(tag)]
    assert len(reported) == len(healthy)
    assert wait_until(lambda: all(req.completed for req in reported), 2.0), "every healthy answer was written whole"
    ok_rows = [by_model[model_for(tag)] for tag in healthy]
    assert sum(r["input_tokens"] for r in ok_rows) == sum(req.prompt_tokens for req in reported)
    assert sum(r["output_tokens"] for r in ok_rows) == sum(req.completion_tokens for req in reported)
    assert not any(r["estimated"] for r in ok_rows), "the upstream reported every healthy answer's usage"
