"""Prometheus metrics, fed from the one place every request ends (`Exchange.finish`).

With several workers, `serve` points PROMETHEUS_MULTIPROC_DIR at a shared folder so a scrape of any
worker sums all of them. `/metrics` is off unless METRICS_TOKEN is set, and then needs that bearer token.
"""

from __future__ import annotations

import hmac
import os
import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

REQUESTS = Counter(
    "gateway_requests_total",
    "Requests by endpoint, provider, route and status.",
    ["endpoint", "provider", "route", "status"],
)
LATENCY = Histogram(
    "gateway_request_duration_seconds", "Time to the last byte.", ["endpoint", "provider"], buckets=LATENCY_BUCKETS
)
TTFT = Histogram(
    "gateway_time_to_first_token_seconds",
    "Streams: time to the first content delta.",
    ["provider"],
    buckets=LATENCY_BUCKETS,
)
TOKENS = Counter(
    "gateway_tokens_total", "Tokens by direction (input, output, cache_read, cache_write).", ["provider", "direction"]
)
UPSTREAM_ERRORS = Counter(
    "gateway_upstream_errors_total", "Failed requests by provider and error type.", ["provider", "error_type"]
)
RETRIES = Counter("gateway_upstream_retries_total", "Upstream attempts beyond the first.", ["provider"])
ATTEMPTS = Counter(
    "gateway_provider_attempts_total",
    "Upstream attempts by provider and outcome (ok, or the error type); failover makes several per request.",
    ["provider", "outcome"],
)
CIRCUIT_STATES = ("closed", "half-open", "open")
INFLIGHT_STREAMS = Gauge("gateway_inflight_streams", "Streams being relayed now.", multiprocess_mode="livesum")
USAGE_QUEUE = Gauge("gateway_usage_queue_depth", "Usage rows waiting to be written.", multiprocess_mode="livesum")
USAGE_DROPPED = Counter("gateway_usage_rows_dropped_total", "Usage rows dropped because the queue was full.")
USAGE_WRITE_FAILURES = Counter("gateway_usage_write_failures_total", "Failed usage batch writes (retried).")


def observe(record) -> None:
    """Count one finished request from its usage record."""
    provider = record.provider_name or "none"
    REQUESTS.labels(record.endpoint, provider, str(record.route_id or ""), str(record.status)).inc()
    LATENCY.labels(record.endpoint, provider).observe(record.latency_ms / 1000)
    if record.ttft_ms is not None:
        TTFT.labels(provider).observe(record.ttft_ms / 1000)
    for direction, value in (
        ("input", record.input_tokens),
        ("output", record.output_tokens),
        ("cache_read", record.cache_read_tokens),
        ("cache_write", record.cache_creation_tokens),
    ):
        if value:
            TOKENS.labels(provider, direction).inc(value)
    if record.status >= 500 or (record.error_type and record.provider_name):
        UPSTREAM_ERRORS.labels(provider, record.error_type or str(record.status)).inc()
    if record.attempts > 1:
        RETRIES.labels(provider).inc(record.attempts - 1)


def attempted(provider: str, outcome: str) -> None:
    ATTEMPTS.labels(provider, outcome).inc()


def circuit_states() -> bytes:
    """`gateway_provider_circuit_state`: 0 closed, 1 half-open, 2 open, per provider, read from the shared
    store at scrape time (one value for every worker, so it is not a per-process series)."""
    from api.forward import health
    from routing.models import Provider

    registry = CollectorRegistry()
    gauge = Gauge(
        "gateway_provider_circuit_state",
        "Circuit per provider: 0 closed, 1 half-open, 2 open.",
        ["provider"],
        registry=registry,
    )
    circuits, now = health.read_all(), time.time()
    for provider_id, name in Provider.objects.filter(enabled=True).values_list("id", "name"):
        circuit = circuits.get(provider_id)
        gauge.labels(name).set(CIRCUIT_STATES.index(circuit.state(now)) if circuit else 0)
    return generate_latest(registry)


def view(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token:
        return HttpResponse(status=404)
    presented = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(presented.encode(), token.encode()):
        return HttpResponse(status=401, headers={"www-authenticate": "Bearer"})
    from api.accounting.usage import writer

    USAGE_QUEUE.set(writer.depth)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return HttpResponse(generate_latest(registry) + circuit_states(), content_type=CONTENT_TYPE_LATEST)
    return HttpResponse(generate_latest() + circuit_states(), content_type=CONTENT_TYPE_LATEST)
