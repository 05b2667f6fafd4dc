"""Two workers on the default setup (SQLite, no Redis) hold a key's limits as one gateway.

`manage.py serve --workers 2` as `make run` starts it, with nothing shared but the database and
STATE_DIR: requests per minute and budgets are counted in the SQLite counters file every worker opens
(api/admission/counters.py). Each request goes over a connection whose serving worker is known
(tests/scale/workers.py), and every test asserts both workers answered.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.servers import gateway_env
from tests.fakes.openai_upstream import FakeUpstream, Text
from tests.scale.cluster import Cluster, close_all, serving_cluster
from tests.scale.workers import Connection, Reply

pytestmark = pytest.mark.e2e

LEFT = re.compile(r"has (\d+) tokens left of its budget of (\d+) tokens .* may use up to (\d+)")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("limits-without-redis")
    with FakeUpstream(record=False).running() as fake:
        env = {**gateway_env(tmp, fake.base_url), "TMPDIR": str(tmp)}
        assert "CACHE_URL" not in env and env["DATABASE_URL"].startswith("sqlite")
        with serving_cluster(tmp, env, fake) as cluster:
            yield cluster


def post(conn: Connection, key: str, *, max_tokens: int, stream: bool = False) -> Reply:
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": max_tokens,
        "stream": stream,
        "messages": [{"role": "user", "content": "hi"}],
    }
    return conn.request("POST", "/v1/messages", body, {"x-api-key": key, "anthropic-version": "2023-06-01"})


def both_workers(cluster: Cluster, per_worker: int) -> tuple[dict[int, list[Connection]], list[Connection]]:
    pinned = cluster.connections(per_worker=per_worker)
    return pinned, [conn for conns in pinned.values() for conn in conns]


def test_requests_per_minute_hold_across_two_workers_without_redis(cluster):
    key = cluster.gateway.issue_key("rpm-user", "--rpm", "5")
    pinned, conns = both_workers(cluster, 3)
    try:
        with ThreadPoolExecutor(len(conns)) as pool:
            replies = [
                r for pair in pool.map(lambda c: [post(c, key, max_tokens=8) for _ in range(2)], conns) for r in pair
            ]
    finally:
        close_all(pinned)
    outcome = Counter((r.worker, r.status) for r in replies)
    assert {r.worker for r in replies} == set(cluster.workers), outcome
    assert Counter(r.status for r in replies) == {200: 5, 429: 7}, (outcome, cluster.log_tail())


def test_a_100_token_budget_holds_one_request_at_a_time_across_two_workers(cluster):
    key = cluster.gateway.issue_key("budget-user", "--budget", "100", "--period", "day")
    pinned, conns = both_workers(cluster, 1)
    try:
        replies = [post(conns[i % 2], key, max_tokens=8) for i in range(8)]
    finally:
        close_all(pinned)
    statuses = [r.status for r in replies]
    admitted = statuses.count(200)
    assert statuses == [200] * admitted + [429] * (8 - admitted), statuses
    assert {r.worker for r in replies[: max(admitted, 2)]} == set(cluster.workers)
    rows = cluster.gateway.usage_rows(count=8, username="budget-user")
    used = sum(r["input_tokens"] + r["output_tokens"] for r in rows if r["status"] == 200)
    left, budget, wanted = map(int, LEFT.search(replies[admitted].body["error"]["message"]).groups())
    assert budget == 100 and used == 100 - left <= 100
    assert left < wanted, "refused although its reservation fitted"
    assert admitted >= 2


def test_twenty_concurrent_streams_stay_within_a_1000_token_budget(cluster):
    key = cluster.gateway.issue_key("stream-user", "--budget", "1000", "--period", "month")
    # Each stream reports the most it may: 100 output tokens for max_tokens 100, over 1.5 s.
    cluster.fake.reset()
    cluster.fake.script(*[Text("x" * 50, chunks=5, chunk_delay=0.3, completion_tokens=100) for _ in range(20)])
    pinned, conns = both_workers(cluster, 10)
    try:
        with ThreadPoolExecutor(len(conns)) as pool:
            replies = list(pool.map(lambda c: post(c, key, max_tokens=100, stream=True), conns))
    finally:
        close_all(pinned)
        cluster.fake.reset()
    admitted = [r for r in replies if r.status == 200]
    refused = [r for r in replies if r.status == 429]
    assert len(admitted) + len(refused) == 20 and {r.worker for r in replies} == set(cluster.workers)
    rows = cluster.gateway.usage_rows(count=20, username="stream-user")
    used = sum(r["input_tokens"] + r["output_tokens"] for r in rows)
    _, _, wanted = map(int, LEFT.search(refused[0].body["error"]["message"]).groups())
    print(f"\n20 concurrent streams, budget 1000: {len(admitted)} admitted, {used} tokens used, {wanted} reserved each")
    # All 20 arrive while the admitted ones are still streaming: as many as their reservations fit.
    assert len(admitted) == 1000 // wanted
    assert used <= 1000, used
