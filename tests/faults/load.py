"""Many requests at the live gateway: one request of a mix (`Case`), sent the way its client behaves,
and the usage rows read back once the background writer has caught up."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

import httpx

from tests.e2e.servers import Gateway
from tests.faults.fault_upstream import FaultUpstream
from tests.faults.live import CLIENT_KEY, body_for, parse_sse

BAD_JSON = b'{"model": "claude-opus-x", "max_tokens": 5, "messages": ['


@dataclass(frozen=True)
class Case:
    """One kind of request in a mix: the upstream's faults, what the client gets, what the usage row says."""

    faults: tuple[str, ...]
    stream: bool
    http: int | None
    """The HTTP status the client sees; None when the client hangs up first."""
    status: int
    """The usage row's status (a stream that failed after its first byte is a 200 to the client)."""
    error_type: str = ""
    retrying: bool = False
    """Sent to the route whose provider retries (2 retries) instead of provider `env` (none)."""
    malformed: bool = False
    """The body is not JSON: the gateway refuses it before any upstream call."""

    @property
    def cancel(self) -> bool:
        return self.http is None

    @property
    def injected_5xx(self) -> bool:
        return self.http is not None and self.http >= 500


@dataclass
class Outcome:
    status: int | None
    request_id: str | None
    events: list[dict] | None


async def send(
    client: httpx.AsyncClient, gw: Gateway, upstream: FaultUpstream, tag: str, case: Case, *, key: str = CLIENT_KEY
) -> Outcome:
    """Send one request of `case`; a cancelling client hangs up once its stream shows content, or (whole
    answers) 0.3 s after the upstream received the request."""
    body = (
        BAD_JSON
        if case.malformed
        else json.dumps(body_for(tag, *case.faults, stream=case.stream, retrying=case.retrying))
    )
    headers = {"x-api-key": key, "content-type": "application/json", "anthropic-version": "2023-06-01"}
    url = gw.url + "/v1/messages"
    if case.cancel and case.stream:
        async with client.stream("POST", url, content=body, headers=headers) as response:
            async for line in response.aiter_lines():
                if line.startswith("event: content_block_delta"):
                    return Outcome(None, response.headers.get("request-id"), None)  # leaving closes the connection
        raise AssertionError(f"{tag}: the stream ended before any content ({response.status_code})")
    if case.cancel:
        task = asyncio.create_task(client.post(url, content=body, headers=headers))
        while not upstream.requests_for(tag):
            assert not task.done(), f"{tag}: answered before the upstream saw it"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        task.cancel()
        return Outcome(None, None, None)
    response = await client.post(url, content=body, headers=headers)
    events = parse_sse(response.content) if response.headers["content-type"].startswith("text/event") else None
    return Outcome(response.status_code, response.headers.get("request-id"), events)


def wait_for_rows(gw: Gateway, count: int, timeout: float, **where: object) -> list[dict]:
    """The usage rows matching `where` once `count` are there (or `timeout` passed), re-read a second later
    so that a duplicate written late would show."""
    deadline = time.monotonic() + timeout
    while len(gw.usage_rows(count=count, timeout=1.0, **where)) < count and time.monotonic() < deadline:
        pass
    time.sleep(1.0)
    return gw.usage_rows(count=count, timeout=0, **where)


def key_prefix(gw: Gateway, key: str) -> str:
    """The stored prefix of an issued `key`, read back from the database."""
    [row] = gw.query("SELECT prefix FROM routing_proxykey WHERE substr(?, 1, length(prefix)) = prefix", key)
    return row["prefix"]
