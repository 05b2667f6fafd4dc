"""The live gateway for fault tests: the e2e harness (`tests/e2e/servers.py`) with short timeouts,
plus the client side: posting raw bodies, reading SSE under an overall deadline, and the checks
every fault test makes on what the client got (Anthropic shape, no HTML, no stack trace).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.e2e.servers import REPO, Gateway, gateway_env, serving
from tests.faults.fault_upstream import directive

CLIENT_KEY = "sk-faults-shared-client-key"
RETRY_ROUTE = "retry"
"""Requested models containing this word go to provider `retrying` (2 retries); all others to `env` (none)."""

_SETUP = """
from django.core.management import call_command
from routing.env_sync import sync_env_provider
from routing.models import ModelRoute, Provider
call_command("migrate", interactive=False, verbosity=0)
env = sync_env_provider()
env.max_retries = {env_retries}
env.save()
retrying = Provider(name="retrying", kind="openai", base_url=env.base_url, profile=env.profile,
                    read_timeout=env.read_timeout, connect_timeout=env.connect_timeout, max_retries=2,
                    circuit_failures=0)  # failures are provoked one after another: no circuit opens
retrying.api_key = "sk-fake-upstream-key"
retrying.save()
ModelRoute.objects.create(priority=1, pattern="*{retry}*").targets.create(provider=retrying, model="fault-retry")
"""


@dataclass(frozen=True)
class Timeouts:
    """What the gateway under test is configured with (env variables of the same names)."""

    request: float = 2.0
    connect: float = 1.0
    ping: float = 0.5
    retry_deadline: float = 4.0
    retry_max_wait: float = 3.0

    @property
    def hang_bound(self) -> float:
        """The longest any request may take: one read timeout plus a margin for a busy 2-core machine."""
        return self.request + 3.0


SHORT = Timeouts()
"""The shared `live_gateway`'s: a 2 s read timeout, pings every 0.5 s, no retries on provider `env`."""


def gateway_environment(tmp: Path, upstream_url: str, timeouts: Timeouts, **overrides: str) -> dict[str, str]:
    env = gateway_env(tmp, upstream_url)
    env.update(
        {
            "DEBUG": "true",  # a stack trace leaking into a response would show; production hides it
            "WORKERS": "1",  # one process: its RSS is the gateway's, its usage rows come from one writer
            "ANTHROPIC_API_KEY": CLIENT_KEY,
            "REQUEST_TIMEOUT": str(timeouts.request),
            "CONNECT_TIMEOUT": str(timeouts.connect),
            "PING_INTERVAL": str(timeouts.ping),
            "RETRY_DEADLINE": str(timeouts.retry_deadline),
            "RETRY_MAX_WAIT": str(timeouts.retry_max_wait),
            "USAGE_FLUSH_SECONDS": "0.2",
            "LOG_LEVEL": "WARNING",
            **overrides,
        }
    )
    return env


@contextlib.contextmanager
def fault_gateway(
    tmp: Path, upstream_url: str, timeouts: Timeouts, *, env_retries: int = 0, **overrides: str
) -> Iterator[Gateway]:
    """A live gateway on a fresh database: provider `env` with `env_retries` retries, provider `retrying` with 2."""
    env = gateway_environment(tmp, upstream_url, timeouts, **overrides)
    code = _SETUP.format(env_retries=env_retries, retry=RETRY_ROUTE)
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=REPO,
        env=env,
        check=True,
        timeout=120,
        capture_output=True,
    )
    with serving(tmp, env) as gw:
        yield gw


# --- requests -------------------------------------------------------------------------------
def new_tag() -> str:
    return uuid.uuid4().hex[:12]


def model_for(tag: str, *, retrying: bool = False) -> str:
    """A requested model unique to one request, so its usage row can be found by `requested_model`."""
    return f"claude-{RETRY_ROUTE if retrying else 'opus'}-{tag}"


def body_for(tag: str, *faults: str, stream: bool, retrying: bool = False, **extra: object) -> dict:
    """A small valid Messages body ordering the fault upstream to answer with `faults`."""
    text = f"Say hello. {directive(*(faults or ('ok',)), tag=tag)}"
    return {
        "model": model_for(tag, retrying=retrying),
        "max_tokens": 64,
        "stream": stream,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }


@dataclass
class Reply:
    """What the client got: status, headers, raw body, SSE events, and how long it took."""

    status: int
    headers: httpx.Headers
    raw: bytes
    elapsed: float
    events: list[dict] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8", "replace")

    def json(self) -> dict:
        return json.loads(self.raw)

    @property
    def is_sse(self) -> bool:
        return self.headers.get("content-type", "").startswith("text/event-stream")


async def post(
    gw: Gateway,
    body: dict | bytes,
    *,
    bound: float,
    key: str | None = CLIENT_KEY,
    path: str = "/v1/messages",
    client: httpx.AsyncClient | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """POST `body` (JSON-encoded unless bytes) and read the whole answer; fail the test if that takes over `bound` s."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent = {"content-type": "application/json", "anthropic-version": "2023-06-01", **(headers or {})}
    if key:
        sent["x-api-key"] = key
    own = client is None
    client = client or httpx.AsyncClient(timeout=httpx.Timeout(bound + 5))
    started = time.monotonic()
    try:
        async with asyncio.timeout(bound):
            async with client.stream("POST", gw.url + path, content=content, headers=sent) as response:
                raw = b"".join([part async for part in response.aiter_raw()])
    except TimeoutError:
        raise AssertionError(f"the gateway hung: no complete answer within {bound:.1f} s") from None
    finally:
        if own:
            await client.aclose()
    reply = Reply(response.status_code, response.headers, raw, time.monotonic() - started)
    if reply.is_sse:
        reply.events = parse_sse(raw)
    return reply


def parse_sse(raw: bytes) -> list[dict]:
    """Anthropic SSE frames as events, checking each frame's `event:` line names its data's `type`."""
    events = []
    for frame in raw.decode().split("\n\n"):
        if not frame.strip():
            continue
        lines = frame.split("\n")
        assert lines[0].startswith("event: ") and lines[1].startswith("data: "), f"malformed SSE frame {frame!r}"
        event = json.loads(lines[1][len("data: ") :])
        assert lines[0][len("event: ") :] == event["type"], frame
        events.append(event)
    return events


# --- checks ---------------------------------------------------------------------------------
def assert_no_leak(reply: Reply) -> None:
    """Never an HTML page or a Python stack trace in what the client reads."""
    lowered = reply.text.lower()
    assert "<html" not in lowered and "<!doctype" not in lowered, reply.text[:300]
    assert "traceback" not in lowered and 'file "/' not in lowered, reply.text[:300]


def assert_error_response(reply: Reply, status: int, error_type: str, *, mentions: str = "") -> dict:
    """A plain (non-SSE) Anthropic error: the status, JSON body of the one shape, request id echoed."""
    assert_no_leak(reply)
    assert reply.status == status, (reply.status, reply.text[:500])
    assert reply.headers.get("content-type", "").startswith("application/json"), reply.headers
    body = reply.json()
    assert body["type"] == "error" and set(body) == {"type", "error", "request_id"}, body
    assert body["error"]["type"] == error_type, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    assert body["request_id"] == reply.headers["request-id"] and body["request_id"].startswith("req_"), body
    assert mentions in body["error"]["message"], body["error"]["message"]
    return body


def assert_stream_grammar(events: list[dict]) -> None:
    """message_start first; contiguous block indices, one open at a time; message_stop or error last, nothing after."""
    kinds = [e["type"] for e in events]
    assert kinds and kinds[0] == "message_start", kinds
    assert kinds[-1] in ("message_stop", "error"), f"the stream did not end with message_stop or error: {kinds}"
    assert sum(k in ("message_stop", "error") for k in kinds) == 1, f"events after the end: {kinds}"
    open_index, next_index = None, 0
    for event in events:
        if event["type"] == "content_block_start":
            assert open_index is None and event["index"] == next_index, kinds
            open_index, next_index = event["index"], next_index + 1
        elif event["type"] == "content_block_delta":
            assert event["index"] == open_index, kinds
        elif event["type"] == "content_block_stop":
            assert event["index"] == open_index, kinds
            open_index = None


def assert_stream_error(reply: Reply, error_type: str) -> dict:
    """A stream that started (200, SSE) and ended with one `error` event of `error_type`."""
    assert_no_leak(reply)
    assert reply.status == 200 and reply.is_sse, (reply.status, reply.text[:500])
    assert_stream_grammar(reply.events)
    error = reply.events[-1]
    assert error["type"] == "error" and error["error"]["type"] == error_type, error
    assert isinstance(error["error"]["message"], str) and error["error"]["message"], error
    return error


def assert_stream_complete(reply: Reply) -> str:
    """A whole, well-formed stream; returns the text it carried."""
    assert_no_leak(reply)
    assert reply.status == 200 and reply.is_sse, (reply.status, reply.text[:500])
    assert_stream_grammar(reply.events)
    assert reply.events[-1]["type"] == "message_stop", [e["type"] for e in reply.events]
    return "".join(e["delta"].get("text", "") for e in reply.events if e["type"] == "content_block_delta")


def one_row(gw: Gateway, *, timeout: float = 5.0, **where: object) -> dict:
    """The one usage row matching `where`, waiting for the background writer (and failing on duplicates)."""
    rows = gw.usage_rows(count=1, timeout=timeout, **where)
    assert len(rows) == 1, f"expected exactly one usage row for {where}, found {len(rows)}"
    return rows[0]
