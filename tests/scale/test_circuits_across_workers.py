"""Two gateway workers share provider circuits: failures one worker met keep the other away from that
provider too (the circuit lives in the counters store every worker opens: STATE_DIR's SQLite file here).

`manage.py serve --workers 2` with every route `ordered` over a dead deployment (nothing listens on its
port) and then the live fake upstream. Each request is sent on a connection whose serving worker is known
(tests/scale/workers.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.e2e.servers import CLIENT_KEY, free_port, gateway_env
from tests.fakes.openai_upstream import FakeUpstream
from tests.scale.cluster import Cluster, close_all, serving_cluster

pytestmark = pytest.mark.e2e

DEAD_FIRST = """
from routing.models import ModelRoute, Provider, RouteTarget
dead = Provider(name="dead", base_url="http://127.0.0.1:{port}/v1", profile="openai", circuit_failures=3,
                circuit_cooldown=120, max_retries=0)
dead.api_key = "x"
dead.save()
for route in ModelRoute.objects.all():
    route.strategy = "ordered"
    route.save()
    for target in list(route.targets.all()):
        target.position = 1
        target.save()
        RouteTarget.objects.create(route=route, provider=dead, model=target.model, position=0)
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("circuits-across-workers")
    with FakeUpstream().running() as fake:
        env = {**gateway_env(tmp, fake.base_url), "TMPDIR": str(tmp)}
        with serving_cluster(tmp, env, fake) as cluster:
            cluster.gateway.manage("shell", "-c", DEAD_FIRST.format(port=free_port()))
            time.sleep(5.5)  # every worker's route cache (CACHE_SECONDS) has the new targets
            yield cluster


def attempts(cluster: Cluster, replies) -> list[int]:
    return [cluster.gateway.usage_rows(request_id=r.request_id)[0]["attempts"] for r in replies]


def test_failures_add_up_across_workers_and_the_open_circuit_holds_in_both(cluster):
    pinned = cluster.connections(per_worker=1)
    (first, [a]), (second, [b]) = pinned.items()
    try:
        before = cluster.post(b, CLIENT_KEY)  # failure 1, met by the second worker (which now has a cached read)
        opening = [cluster.post(a, CLIENT_KEY) for _ in range(2)]  # failures 2 and 3, by the first: open
        time.sleep(1.2)  # the second worker re-reads the shared circuits at most a second later
        after = [cluster.post(b, CLIENT_KEY) for _ in range(4)]
    finally:
        close_all(pinned)
    assert [(r.status, r.worker) for r in (before, *after)] == [(200, second)] * 5, cluster.log_tail()
    assert [(r.status, r.worker) for r in opening] == [(200, first)] * 2, cluster.log_tail()
    assert attempts(cluster, [before, *opening]) == [2, 2, 2]  # the dead deployment failed, the live one answered
    assert attempts(cluster, after) == [1, 1, 1, 1]  # the second worker no longer tries it
