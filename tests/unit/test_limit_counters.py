"""The shared limit counters, the same rules on both stores: the SQLite file every local worker opens,
and Redis (Lua). Time is passed in, never read."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator

import pytest

from api.admission.counters import Check, Counters, LocalCounters

NOW = 1_800_000_000.25  # any instant: the counters only ever see the `now` they are given


def _redis_store() -> Counters:
    from api.admission.counters_redis import RedisCounters
    from tests.scale import services as svc

    found = svc.services()  # skips locally / fails in CI when Redis is not set up
    from django.conf import settings

    return RedisCounters(svc.private_cache(found), settings.CACHES["default"]["KEY_PREFIX"])


@pytest.fixture(params=["sqlite", "redis"])
def counters(request, tmp_path) -> Iterator[Counters]:
    store = LocalCounters(tmp_path / "limits.sqlite3") if request.param == "sqlite" else _redis_store()
    store.clear()
    yield store
    store.clear()


def rpm(limit: int) -> Check:
    return Check("rpm:key:1", limit, 1, window=60, settles=False)


def tpm(limit: int, amount: int) -> Check:
    return Check("tpm:key:1", limit, amount, window=60)


def budget(limit: int, amount: int, name: str = "budget:key:1:month@2027-03-01T00:00:00+00:00") -> Check:
    return Check(name, limit, amount)


def test_a_window_admits_its_limit_and_refuses_the_next_with_a_wait(counters):
    outcomes = [counters.reserve(f"r{i}", [rpm(3)], NOW + i) for i in range(4)]
    assert [o.admitted for o in outcomes] == [True, True, True, False]
    refused = outcomes[3]
    assert refused.refused == rpm(3) and refused.used == 3
    # The first request (second 1_800_000_000) leaves the window at second +61.
    assert refused.retry_after == 58


def test_a_window_slides_and_never_lets_twice_the_limit_through_at_a_minute_edge(counters):
    """A fixed minute would admit 3 at :59 and 3 more at :00; a sliding window admits none until 61 s later."""
    edge = 1_800_000_059.9
    assert all(counters.reserve(f"a{i}", [rpm(3)], edge).admitted for i in range(3))
    assert not counters.reserve("b0", [rpm(3)], edge + 0.2).admitted  # the next calendar minute
    assert not counters.reserve("b1", [rpm(3)], edge + 60.05).admitted  # 60 s later: not yet
    assert counters.reserve("b2", [rpm(3)], edge + 61.1).admitted


def test_all_checks_must_fit_and_a_refusal_reserves_nothing(counters):
    assert counters.reserve("r1", [rpm(10), tpm(100, 80)], NOW).admitted
    refused = counters.reserve("r2", [rpm(10), tpm(100, 30)], NOW)
    assert not refused.admitted and refused.refused.name == "tpm:key:1" and refused.used == 80
    # rpm was not charged by the refused request: 9 more fit.
    assert sum(counters.reserve(f"s{i}", [rpm(10)], NOW).admitted for i in range(10)) == 9


def test_a_budget_is_loaded_before_it_is_counted(counters):
    first = counters.reserve("r1", [budget(100, 40)], NOW)
    assert not first.admitted and first.missing == (budget(100, 40).name,)
    counters.seed(budget(100, 40).name, 30, 3600, NOW)
    assert counters.reserve("r1", [budget(100, 40)], NOW).admitted
    counters.seed(budget(100, 40).name, 0, 3600, NOW)  # a second seed (another worker) changes nothing
    refused = counters.reserve("r2", [budget(100, 40)], NOW)
    assert not refused.admitted and refused.used == 70


def test_settling_replaces_the_reservation_with_the_real_use_once(counters):
    counters.seed(budget(100, 0).name, 0, 3600, NOW)
    assert counters.reserve("r1", [tpm(1000, 90), budget(100, 90)], NOW).admitted
    assert not counters.reserve("r2", [budget(100, 20)], NOW).admitted  # 90 held
    assert counters.settle("r1", 25)
    assert not counters.settle("r1", 25)  # a replay after the request's own settle
    assert counters.reserve("r3", [budget(100, 75)], NOW + 2).admitted  # 25 + 75 = 100 fits exactly
    assert not counters.reserve("r4", [budget(100, 1)], NOW + 2).admitted
    refused = counters.reserve("r5", [tpm(125, 101)], NOW + 2)
    assert not refused.admitted and refused.used == 25  # the window holds the settled 25, not 90


def test_a_money_counter_settles_to_the_cost_and_a_token_counter_to_the_tokens(counters):
    usd = Check("budget:user:1:usd:total", 1_000_000, 400_000, money=True)
    counters.seed(usd.name, 0, 3600, NOW)
    counters.seed(budget(100, 0).name, 0, 3600, NOW)
    assert counters.reserve("r1", [budget(100, 90), usd], NOW).admitted
    assert counters.settle("r1", 30, 999_000)  # 30 tokens, $0.999
    assert counters.reserve("r2", [budget(100, 70)], NOW).admitted  # 30 + 70 tokens fit exactly
    refused = counters.reserve("r3", [Check(usd.name, 1_000_000, 1_001, money=True)], NOW)
    assert not refused.admitted and refused.used == 999_000


def test_budget_counters_of_different_periods_never_share_a_name(counters):
    """On a Monday that is the 1st, the day, week and month periods start together: three counters."""
    names = [f"budget:key:1:{kind}@2027-03-01T00:00:00+00:00" for kind in ("day", "week", "month")]
    for name in names:
        counters.seed(name, 0, 3600, NOW)
    for name in names:
        assert counters.reserve(f"r-{name}", [budget(100, 60, name)], NOW).admitted
        counters.settle(f"r-{name}", 60)
    assert [counters.reserve(f"x-{name}", [budget(100, 40, name)], NOW).admitted for name in names] == [True] * 3


def test_an_ended_period_is_loaded_again(counters):
    counters.seed(budget(100, 0).name, 90, 10, NOW)
    assert not counters.reserve("r1", [budget(100, 20)], NOW + 5).admitted
    later = counters.reserve("r1", [budget(100, 20)], NOW + 11)
    assert later.missing == (budget(100, 20).name,)


def _hammer(path: str, worker: int, tries: int, queue) -> None:
    store = LocalCounters(__import__("pathlib").Path(path))
    queue.put(sum(store.reserve(f"w{worker}-{i}", [rpm(150)], NOW).admitted for i in range(tries)))


def test_local_counters_hold_across_processes(tmp_path):
    """Four processes race for one window of 150: exactly 150 reservations are admitted."""
    path = tmp_path / "limits.sqlite3"
    LocalCounters(path).clear()
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    workers = [ctx.Process(target=_hammer, args=(str(path), n, 100, queue)) for n in range(4)]
    for w in workers:
        w.start()
    admitted = [queue.get(timeout=60) for _ in workers]
    for w in workers:
        w.join(timeout=30)
    assert sum(admitted) == 150, admitted


def test_a_spoiled_counters_file_is_started_anew(tmp_path):
    """After a power cut the file may be garbage: the counters start empty instead of refusing everyone."""
    path = tmp_path / "limits.sqlite3"
    path.write_bytes(b"not a database" * 512)
    counters = LocalCounters(path)
    assert counters.reserve("r1", [rpm(1)], NOW).admitted
    assert not counters.reserve("r2", [rpm(1)], NOW).admitted
