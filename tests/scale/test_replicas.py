"""Two gateway replicas behind HAProxy act as one gateway, and lose nothing when one is killed.

Each replica is `manage.py serve` with two workers, as in production, with its own STATE_DIR (its usage
journal) on one private PostgreSQL database and one Redis database index of the CI services
(`scripts/ci_services.sh`). Debian's HAProxy (tests/scale/balancer.py, installed by
`scripts/install_haproxy.sh`) balances requests round-robin on 127.0.0.1, checks `/health`, and names
the replica that answered. `CACHE_SECONDS` is 600: a key revoked everywhere within a second can only be
Redis pub/sub at work. USAGE_FLUSH_SECONDS is 2: rows wait in the writer, where a kill finds them.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from routing.keys import DISPLAY_LENGTH
from tests.e2e.servers import CLIENT_KEY, Gateway, GatewayDidNotStart, free_port, gateway_env, start_gateway, stop
from tests.fakes.openai_upstream import FakeUpstream
from tests.faults.test_kill9_usage import kill_9
from tests.scale import services as svc
from tests.scale.balancer import SERVED_BY, Balancer, balancing
from tests.scale.cluster import WORKERS, close_all, stop_leftover_workers, wait_for_workers
from tests.scale.workers import connections_per_worker

pytestmark = [pytest.mark.slow, pytest.mark.e2e]  # deselect with -m "not slow"

REDIS_DB = 4  # this module's own: its counters and invalidations never meet the multi-worker test's
RPM = 5
BUDGET_TOKENS = 280  # ten answers of the fake upstream (21 + 7 tokens each)
REVOKE_BOUND = 1.0
KILL_AFTER, AFTER_DOWN, CONCURRENCY, LOAD_BOUND = 100, 100, 8, 60.0
NAMES = ("a", "b")


@dataclass
class Replica:
    name: str
    port: int
    tmp: Path
    env: dict[str, str]
    gateway: Gateway | None = None
    workers: list[int] = field(default_factory=list)


@dataclass
class Replicas:
    replicas: dict[str, Replica]
    balancer: Balancer
    database_url: str

    def issue_key(self, username: str, *options: str) -> str:
        return self.replicas["a"].gateway.issue_key(username, *options)


CUT = 0
"""An answer whose body a killed replica cut off after its head (HAProxy cannot turn that into a 502)."""


@dataclass(frozen=True)
class Answer:
    status: int
    error_type: str | None
    message: str
    request_id: str
    served_by: str | None
    at: float


def post(port: int, key: str, timeout: float = 30.0) -> Answer:
    """One /v1/messages request on a new connection to `port` (the balancer or a replica)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/v1/messages", json.dumps(_body()), {"content-type": "application/json", **_headers(key)})
        response = conn.getresponse()
        try:
            text = response.read().decode(errors="replace")
        except (http.client.IncompleteRead, ConnectionError):
            # The replica died after its answer's head went out: the body is cut (status CUT below).
            text, response.status = "", CUT
    finally:
        conn.close()
    try:
        error = json.loads(text).get("error") or {}
    except ValueError:
        error = {}
    return Answer(
        response.status,
        error.get("type"),
        error.get("message", ""),
        response.getheader("request-id") or "",
        response.getheader(SERVED_BY),
        time.monotonic(),
    )


def start_replica(replica: Replica, tmp: Path) -> None:
    """Serve `replica` on its port (again, after a kill: same STATE_DIR, so its journal is replayed)."""
    tmp.mkdir(exist_ok=True)
    try:
        replica.gateway = start_gateway(tmp, replica.env, port=replica.port)
    except GatewayDidNotStart as exc:
        pytest.fail(f"replica {replica.name}: {exc}", pytrace=False)
    replica.workers = wait_for_workers(replica.gateway, replica.port)
    assert len(replica.workers) == WORKERS, replica.gateway.log_text()[-4000:]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Replicas]:
    found = svc.services()
    tmp = tmp_path_factory.mktemp("replicas")
    with FakeUpstream(record=False).running() as fake, svc.private_database(found, "gw_replicas") as database_url:
        shared = {
            **gateway_env(tmp, fake.base_url),  # one SECRET_KEY and PROXY_ENCRYPTION_KEY for both
            "DATABASE_URL": database_url,
            "CACHE_URL": svc.with_path(found.cache_url, f"/{REDIS_DB}"),
            "CACHE_SECONDS": "600",
            "USAGE_FLUSH_SECONDS": "2.0",
            "WORKERS": str(WORKERS),
        }
        replicas: dict[str, Replica] = {}
        try:
            for name in NAMES:  # one after the other: the first migrates the database
                own = tmp / name
                env = {**shared, "HOME": str(own), "STATE_DIR": str(own / "state"), "TMPDIR": str(own)}
                replicas[name] = replica = Replica(name, free_port(), own, env)
                start_replica(replica, own)
                if name == "a":
                    svc.number_keys_from_random(database_url)
            with balancing(tmp, {r.name: r.port for r in replicas.values()}) as balancer:
                yield Replicas(replicas, balancer, database_url)
        finally:
            for replica in replicas.values():
                if replica.gateway is not None:
                    stop(replica.gateway.process)
                stop_leftover_workers(replica.workers)


def through_balancer(cluster: Replicas, key: str, count: int, concurrency: int) -> list[Answer]:
    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(lambda _: post(cluster.balancer.port, key), range(count)))


def test_a_keys_rate_limit_holds_across_both_replicas(cluster):
    key = cluster.issue_key("rpm-user", "--rpm", str(RPM))
    answers = through_balancer(cluster, key, 12, concurrency=6)

    outcome = Counter((a.served_by, a.status) for a in answers)
    print(f"\nrate limit {RPM}/min, 12 requests through HAProxy: {dict(outcome)}")
    assert {a.served_by for a in answers} == set(NAMES), outcome
    assert Counter(a.status for a in answers) == {200: RPM, 429: 12 - RPM}, outcome
    assert {a.error_type for a in answers if a.status == 429} == {"rate_limit_error"}


def usage_rows(database_url: str, where: str = "", *params: object) -> list[tuple]:
    import psycopg

    sql = "SELECT u.request_id, u.status, u.input_tokens + u.output_tokens, u.error_type FROM routing_usagelog u"
    with psycopg.connect(database_url, connect_timeout=5) as db:
        return list(db.execute(sql + where, params))


def test_a_keys_token_budget_holds_across_both_replicas(cluster):
    key = cluster.issue_key("budget-user", "--budget", str(BUDGET_TOKENS), "--budget-period", "total")
    answers = through_balancer(cluster, key, 24, concurrency=4)
    admitted = [a for a in answers if a.status == 200]
    where = " JOIN routing_proxykey k ON k.id = u.key_id WHERE k.prefix = %s"
    deadline = time.monotonic() + 10
    while len(rows := usage_rows(cluster.database_url, where, key[:DISPLAY_LENGTH])) < len(answers):
        assert time.monotonic() < deadline, f"{len(rows)} rows for {len(answers)} answers"
        time.sleep(0.2)

    spent = sum(tokens for _, status, tokens, _ in rows if status == 200)
    print(f"\nbudget {BUDGET_TOKENS} tokens: {Counter((a.served_by, a.status) for a in answers)}, spent {spent}")
    assert {a.served_by for a in admitted} == set(NAMES), "both replicas admitted some"
    assert 0 < spent <= BUDGET_TOKENS, "counted alone, each replica would spend the whole budget"
    refused = [a for a in answers if a.status != 200]
    assert refused and all(a.status == 429 and "budget" in a.message for a in refused), refused
    assert {request_id for request_id, *_ in rows} == {a.request_id for a in answers}


def test_a_revoked_key_is_refused_by_every_worker_of_both_replicas_within_a_second(cluster):
    key = cluster.issue_key("revoke-user")
    pinned = {name: connections_per_worker(r.port, r.workers, per_worker=1) for name, r in cluster.replicas.items()}
    try:
        for name, conns in pinned.items():
            for conn in (c for pair in conns.values() for c in pair):
                warm = conn.request("POST", "/v1/messages", _body(), _headers(key))
                assert warm.status == 200, (name, warm.text)
    finally:
        for conns in pinned.values():
            close_all(conns)
    cluster.replicas["b"].gateway.manage("revoke_key", key[:DISPLAY_LENGTH])
    returned = time.monotonic()

    first_refusal: dict[tuple[str, int | None], float] = {}
    accepted_late = []
    while time.monotonic() - returned < 3:
        for name, replica in cluster.replicas.items():
            fresh = connections_per_worker(replica.port, replica.workers, per_worker=1)
            try:
                for pid, [conn] in fresh.items():
                    probe = conn.request("POST", "/v1/messages", _body(), _headers(key))
                    if probe.status == 401 and probe.error_type == "authentication_error":
                        first_refusal.setdefault((name, pid), probe.at - returned)
                    else:
                        accepted_late.append((name, pid, probe.status, round(probe.at - returned, 3)))
            finally:
                close_all(fresh)
    via_balancer = through_balancer(cluster, key, 4, concurrency=2)

    print(f"\nfirst refusal per worker after revoke_key returned: {first_refusal}")
    assert len(first_refusal) == WORKERS * len(NAMES), first_refusal
    assert max(first_refusal.values()) < REVOKE_BOUND, first_refusal
    assert not accepted_late, accepted_late
    assert {(a.status, a.error_type) for a in via_balancer} == {(401, "authentication_error")}


def _body() -> dict:
    return {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}


def _headers(key: str) -> dict:
    return {"x-api-key": key, "anthropic-version": "2023-06-01"}


@dataclass
class Load:
    answers: list[Answer] = field(default_factory=list)
    killed_at: float = 0.0
    down_at: float = 0.0
    """When HAProxy's health check had taken the killed replica out."""
    lock: threading.Lock = field(default_factory=threading.Lock)


def load_and_kill(cluster: Replicas, victim: Replica) -> Load:
    """Requests through the balancer, CONCURRENCY at a time; `victim` is SIGKILLed (serve and its workers)
    once KILL_AFTER are answered, and the load goes on until AFTER_DOWN more were answered after HAProxy
    saw it DOWN (or LOAD_BOUND seconds have passed)."""
    load = Load()
    started = time.monotonic()

    def done() -> bool:
        if time.monotonic() - started > LOAD_BOUND:
            return True
        with load.lock:
            return bool(load.down_at) and sum(a.at > load.down_at for a in load.answers) >= AFTER_DOWN

    def sender() -> None:
        while not done():
            answer = post(cluster.balancer.port, CLIENT_KEY)
            with load.lock:
                load.answers.append(answer)
                kill = len(load.answers) >= KILL_AFTER and not load.killed_at
                if kill:
                    load.killed_at = time.monotonic()
            if kill:
                kill_9(victim.gateway)
                load.down_at = load.killed_at + cluster.balancer.wait_for_states({victim.name: "DOWN"})

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        for running in [pool.submit(sender) for _ in range(CONCURRENCY)]:
            running.result()
    return load


def test_a_replica_killed_mid_load_loses_no_usage_row_and_the_balancer_takes_it_out(cluster):
    victim, survivor = cluster.replicas["a"], cluster.replicas["b"]
    load = load_and_kill(cluster, victim)
    answers = load.answers

    failed = [a for a in answers if a.status != 200]
    after_down = [a for a in answers if a.at > load.down_at]
    print(
        f"\n{len(answers)} requests, killed after {KILL_AFTER}: taken out after"
        f" {(load.down_at - load.killed_at) * 1000:.0f} ms; {Counter((a.served_by, a.status) for a in answers)};"
        f" failed at (ms after the kill) {[round((a.at - load.killed_at) * 1000) for a in failed]}"
    )
    assert load.down_at and len(after_down) >= AFTER_DOWN, "the load ran to its end"
    assert {a.served_by for a in answers if a.at < load.killed_at} == set(NAMES)
    assert all(a.at <= load.down_at and a.status in (CUT, 502, 503) for a in failed), failed
    assert {(a.status, a.served_by) for a in after_down} == {(200, survivor.name)}

    seen = {a.request_id: a for a in answers if a.request_id}
    time.sleep(3)  # the survivor's writer flushes its last rows (every 2 s)
    before = {request_id for request_id, *_ in usage_rows(cluster.database_url)}
    only_journaled = [a for request_id, a in seen.items() if request_id not in before]
    assert only_journaled and {a.served_by for a in only_journaled} == {victim.name}, "rows the kill caught"

    start_replica(victim, victim.tmp / "restarted")  # same port and STATE_DIR: the journal is replayed
    deadline = time.monotonic() + 15
    while not seen.keys() <= (rows := Counter(r[0] for r in usage_rows(cluster.database_url))).keys():
        assert time.monotonic() < deadline, f"missing rows: {seen.keys() - rows.keys()}"
        time.sleep(0.2)
    print(f"{len(only_journaled)} rows written only after the replay")
    assert all(rows[request_id] == 1 for request_id in seen)
    cluster.balancer.wait_for_states({victim.name: "UP"})
    assert {a.served_by for a in through_balancer(cluster, CLIENT_KEY, 4, concurrency=1)} == set(NAMES)
