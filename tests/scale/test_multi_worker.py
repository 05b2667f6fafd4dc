"""Two workers on PostgreSQL + Redis behave as one gateway: limits, revocation, usage log, metrics.

`manage.py serve --workers 2` runs as in production (uvicorn's supervisor, DEBUG off) in front of the
fake OpenAI upstream, on a private PostgreSQL database and Redis database index of the CI services
(`scripts/ci_services.sh`). Each request goes over a connection whose serving worker is read from
/proc (tests/scale/workers.py), so every test shows which worker answered what, and asserts both did.

`CACHE_SECONDS` is 600 here: a revoked key refused within a second can only be Redis pub/sub at work,
never the snapshots' time to live.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families

from routing.keys import DISPLAY_LENGTH
from tests.e2e.servers import CLIENT_KEY, REPO, gateway_env, stop
from tests.fakes.openai_upstream import Error, FakeUpstream, Text
from tests.scale import services as svc
from tests.scale.cluster import WORKERS, Cluster, close_all, serving_cluster
from tests.scale.workers import Connection, Reply

pytestmark = pytest.mark.e2e

METRICS_TOKEN = "scale-metrics-token"
RPM = 5
REVOKE_BOUND = 1.0  # seconds after `revoke_key` returns within which every worker refuses the key
SERIES = (
    "gateway_requests_total",
    "gateway_request_duration_seconds",
    "gateway_time_to_first_token_seconds",
    "gateway_tokens_total",
    "gateway_upstream_errors_total",
    "gateway_upstream_retries_total",
    "gateway_inflight_streams",
    "gateway_usage_queue_depth",
)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    found = svc.services()
    tmp = tmp_path_factory.mktemp("multi-worker")
    with FakeUpstream(record=False).running() as fake, svc.private_database(found) as database_url:
        env = {
            **gateway_env(tmp, fake.base_url),
            "DATABASE_URL": database_url,
            "CACHE_URL": svc.private_cache(found),
            "METRICS_TOKEN": METRICS_TOKEN,
            "CACHE_SECONDS": "600",
            "TMPDIR": str(tmp),  # serve's metrics folder for the workers lands here
        }
        # Migrated by serve before it listens.
        with serving_cluster(tmp, env, fake, started=lambda: svc.number_keys_from_random(database_url)) as cluster:
            yield cluster


def test_a_per_key_rate_limit_holds_across_both_workers(cluster):
    key = cluster.gateway.issue_key("rpm-user", "--rpm", str(RPM))
    pinned = cluster.connections(per_worker=3)
    try:
        # 12 requests at once over 6 connections, 3 on each worker, 2 requests one after the other on each.
        conns = [conn for conns in pinned.values() for conn in conns]
        with ThreadPoolExecutor(len(conns)) as pool:
            replies = [r for pair in pool.map(lambda c: [cluster.post(c, key) for _ in range(2)], conns) for r in pair]
    finally:
        close_all(pinned)

    outcome = Counter((r.worker, r.status, r.error_type) for r in replies)
    print(f"\nrate limit {RPM}/min, 12 requests: {dict(outcome)}")
    assert {r.worker for r in replies} == set(cluster.workers), outcome
    assert Counter(r.status for r in replies) == {200: RPM, 429: 12 - RPM}, (outcome, cluster.log_tail())
    refused = [r for r in replies if r.status == 429]
    assert all(r.error_type == "rate_limit_error" for r in refused), [r.text for r in refused]


def test_a_revoked_key_is_refused_by_every_worker_within_a_second(cluster):
    key = cluster.gateway.issue_key("revoke-user")
    prefix = key[:DISPLAY_LENGTH]  # what `list_keys` and the admin show
    # Both workers have the key in their snapshot (CACHE_SECONDS=600): without pub/sub they would
    # go on accepting it for ten minutes.
    warm = cluster.connections(per_worker=1)
    try:
        for conns in warm.values():
            assert cluster.post(conns[0], key).status == 200
    finally:
        close_all(warm)
    revoked = subprocess.run(
        [sys.executable, "manage.py", "revoke_key", prefix],
        cwd=REPO,
        env=cluster.gateway.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    returned = time.monotonic()
    assert revoked.returncode == 0, revoked.stderr
    probes: list[Reply] = []
    # Rounds of fresh connections, one reaching each worker, until there are ten rounds or five seconds.
    while len(probes) < 10 * WORKERS and time.monotonic() - returned < 5:
        fresh = cluster.connections(per_worker=1)
        try:
            probes.extend(cluster.post(conns[0], key) for conns in fresh.values())
        finally:
            close_all(fresh)

    first_refusal = {
        pid: min((r.at - returned for r in probes if r.worker == pid and r.status == 401), default=None)
        for pid in cluster.workers
    }
    shown = {pid: f"{t * 1000:.1f} ms" if t is not None else "never" for pid, t in first_refusal.items()}
    print(f"\nrevoke propagation after `revoke_key` returned, first refusal per worker: {shown}")
    print(f"probes: {Counter((r.worker, r.status) for r in probes)}")
    assert all(t is not None and t < REVOKE_BOUND for t in first_refusal.values()), (shown, cluster.log_tail())
    accepted_late = [r for r in probes if r.status != 401]
    assert not accepted_late, [(r.worker, r.status, round(r.at - returned, 3)) for r in accepted_late]
    assert all(r.error_type == "authentication_error" for r in probes)


def scrape(conn: Connection) -> dict[str, float]:
    """Sample name -> value summed over labels (messages only for requests), from one worker's /metrics."""
    reply = conn.request("GET", "/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"})
    assert reply.status == 200, reply.text
    sums: Counter[str] = Counter()
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            if sample.name == "gateway_requests_total" and sample.labels.get("endpoint") != "messages":
                continue
            sums[sample.name] += sample.value
    return dict(sums)


def scrape_each_worker(cluster) -> dict[int, dict[str, float]]:
    pinned = cluster.connections(per_worker=1)
    try:
        return {pid: scrape(conns[0]) for pid, conns in pinned.items()}
    finally:
        close_all(pinned)


def test_metrics_from_either_worker_sum_every_worker(cluster):
    pinned = cluster.connections(per_worker=1)
    try:
        conns = [conns[0] for conns in pinned.values()]
        # A stream (time to first token), an upstream 503 retried once, and an upstream 400 (an
        # upstream error), on alternating workers; the fake answers in order.
        cluster.fake.script(Text("streamed", chunks=4))
        assert cluster.post(conns[0], CLIENT_KEY, stream=True).status == 200
        cluster.fake.script(Error(503, headers={"retry-after": "0"}), Text("after a retry"))
        assert cluster.post(conns[1], CLIENT_KEY).status == 200
        cluster.fake.script(Error(400, message="scripted bad request"))
        assert cluster.post(conns[0], CLIENT_KEY).status == 400
        for i in range(6):
            assert cluster.post(conns[i % 2], CLIENT_KEY).status == 200
    finally:
        close_all(pinned)

    made = len(cluster.messages)
    deadline = time.monotonic() + 10
    while True:  # a stream is counted when it ends, just after its last byte
        by_worker = scrape_each_worker(cluster)
        if all(s.get("gateway_requests_total") == made for s in by_worker.values()):
            break
        if time.monotonic() > deadline:
            totals = {pid: s.get("gateway_requests_total") for pid, s in by_worker.items()}
            raise AssertionError(f"gateway_requests_total by scraped worker {totals}, made {made}")
        time.sleep(0.2)

    served = Counter(r.worker for r in cluster.messages)
    print(f"\n/metrics: {made} messages requests so far, served per worker {dict(served)}; each scrape counts {made}")
    assert all(served[pid] for pid in cluster.workers), served
    for pid, samples in by_worker.items():
        for series in SERIES:
            assert any(name == series or name.startswith(series + "_") for name in samples), (pid, series)
        assert samples["gateway_upstream_retries_total"] >= 1
        assert samples["gateway_upstream_errors_total"] >= 1
        assert samples["gateway_time_to_first_token_seconds_count"] >= 1
        assert samples["gateway_tokens_total"] > 0
        assert samples["gateway_request_duration_seconds_count"] == made


def usage_request_ids(database_url: str) -> list[str]:
    import psycopg

    with psycopg.connect(database_url, connect_timeout=5) as db:
        return [row[0] for row in db.execute("SELECT request_id FROM routing_usagelog")]


def test_no_usage_row_is_lost(cluster):
    pinned = cluster.connections(per_worker=4)
    try:
        conns = [conn for conns in pinned.values() for conn in conns]
        # 8 connections at once, 5 requests one after the other on each, every third a stream.
        with ThreadPoolExecutor(len(conns)) as pool:
            list(pool.map(lambda c: [cluster.post(c, CLIENT_KEY, stream=n % 3 == 0) for n in range(5)], conns))
    finally:
        close_all(pinned)

    expected = Counter(r.request_id for r in cluster.messages)
    assert all(expected) and max(expected.values()) == 1, "every answer carries its own request-id"
    deadline = time.monotonic() + 15
    while Counter(usage_request_ids(cluster.database_url)) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    served = Counter(r.worker for r in cluster.messages)
    print(f"\nusage log: {len(expected)} requests made in this module, served per worker {dict(served)}")
    assert all(served[pid] for pid in cluster.workers), served
    rows = Counter(usage_request_ids(cluster.database_url))
    assert rows == expected, f"missing {set(expected) - set(rows)}, unexpected {set(rows) - set(expected)}"

    # A clean stop (SIGTERM) writes nothing twice and loses nothing either.
    stop(cluster.gateway.process)
    assert Counter(usage_request_ids(cluster.database_url)) == expected
