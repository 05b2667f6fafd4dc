"""The benchmark's scenarios, and the requests each sends to the gateway and to the fake upstream directly."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from bench import claude_code_body
from bench.load import Target, build_request
from bench.processes import CLIENT_KEY

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Scenario:
    name: str
    concurrency: int
    body: str = "small"  # "small" or "claude_code" (the 75 KB Claude Code shape)
    stream: bool = False
    chunks: int = 20
    ttft_ms: int = 0
    delay_ms: int = 0
    tools: bool = False
    team_key: bool = False  # an issued proxy key with limits, instead of the single-user ANTHROPIC_API_KEY
    targets: int = 1  # deployments per route (each another provider on the same fake), weighted 1:1
    about: str = ""

    @property
    def paced(self) -> bool:
        return bool(self.ttft_ms or self.delay_ms)

    @property
    def upstream_seconds(self) -> float:
        """How long the fake takes to answer one request: the ramp that spreads paced workers."""
        return (self.ttft_ms + max(0, self.chunks - 1) * self.delay_ms) / 1000

    def marker(self) -> str:
        """The fake reads the answer's shape from this marker in the prompt (see fake_upstream)."""
        return f"[bench chunks={self.chunks} ttft_ms={self.ttft_ms} delay_ms={self.delay_ms} tools={int(self.tools)}]"

    def anthropic_body(self) -> dict:
        prompt = f"Say hello in one short sentence. {self.marker()}"
        if self.body == "claude_code":
            return claude_code_body.body(prompt, stream=self.stream)
        return {
            "model": "claude-sonnet-4-5",
            "max_tokens": 256,
            "stream": self.stream,
            "messages": [{"role": "user", "content": prompt}],
        }


# A paced stream lasts 0.3 + 19 x 0.05 = 1.25 s, so 512 of them ask for ~410 streams/s: on one core
# the gateway keeps up only at <= ~2.4 ms CPU per stream, which ties this scenario to the CPU target.
PACED = {"chunks": 20, "ttft_ms": 300, "delay_ms": 50}
SCENARIOS = (
    Scenario("small_c1", 1, about="small non-stream request, one at a time"),
    Scenario("small_c32", 32, about="small non-stream request, 32 concurrent"),
    Scenario("claude_code_c8", 8, body="claude_code", about="75 KB Claude Code body (24 tools), non-stream"),
    Scenario("stream20_c32", 32, stream=True, about="stream of 20 chunks, unpaced"),
    Scenario("paced_c32", 32, stream=True, **PACED, about="paced stream: 300 ms to first token, then 50 ms per chunk"),
    Scenario("paced_c512", 512, stream=True, **PACED, about="the same paced stream, 512 concurrent"),
)
EXTRA = (
    Scenario("small_c32_key", 32, team_key=True, about="small non-stream, 32 concurrent, proxy key with limits"),
    Scenario("stream_tools_c32", 32, stream=True, tools=True, about="stream answering with a Write tool call"),
    Scenario("claude_code_stream_c8", 8, body="claude_code", stream=True, about="75 KB body, streamed"),
    Scenario("small_c32_two_targets", 32, targets=2, about="small_c32 over a route with two weighted targets"),
)
BY_NAME = {s.name: s for s in SCENARIOS + EXTRA}


def gateway_target(scenario: Scenario, port: int, key: str = CLIENT_KEY) -> Target:
    headers = {"content-type": "application/json", "x-api-key": key, "anthropic-version": "2023-06-01"}
    path = "/v1/messages"
    if scenario.body == "claude_code":
        headers.update(claude_code_body.HEADERS)
        path += "?beta=true"
    body = orjson.dumps(scenario.anthropic_body())
    expect = b"event: message_stop" if scenario.stream else b'"stop_reason":"'
    return Target(HOST, port, build_request(HOST, port, "POST", path, headers, body), expect)


def direct_target(scenario: Scenario, port: int, upstream_body: bytes) -> Target:
    """The same upstream request the gateway sends (`upstream_body`, captured from the fake), sent directly."""
    headers = {"content-type": "application/json", "authorization": "Bearer x"}
    payload = build_request(HOST, port, "POST", "/v1/chat/completions", headers, upstream_body)
    return Target(HOST, port, payload, b"data: [DONE]" if scenario.stream else b'"finish_reason":"')
