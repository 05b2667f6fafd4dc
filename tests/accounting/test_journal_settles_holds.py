"""A request cut off by a crash counts toward its key's budget with the tokens it had streamed: the
replay settles its reservation, once, whether or not the dead process had settled it."""

from __future__ import annotations

import time

import pytest

from api.accounting.recovery import recover_dead_journals
from api.accounting.usage import writer
from api.admission.counters import Check, store
from tests.journal_files import dead_journal, record

pytestmark = pytest.mark.django_db(transaction=True)

BUDGET = "budget:key:7:day@2027-03-01T00:00:00+00:00"


def budget(amount: int) -> Check:
    return Check(BUDGET, 1000, amount)


def opened(request_id: str, hold: str | None, output_tokens: int) -> list[dict]:
    usage = {"input_tokens": 40, "output_tokens": output_tokens}
    return [
        {"t": "A", "id": request_id, "rec": record(request_id), "hold": hold},
        {"t": "P", "id": request_id, "usage": usage, "est": True, "ms": 1500},
    ]


def used_now() -> int:
    """What the budget holds: the most a reservation may add is 1000 minus it."""
    now = time.time()
    for used in range(1001):
        outcome = store().reserve("probe", [budget(1000 - used)], now)
        if outcome.admitted:
            store().settle("probe", 0)
            return used
    raise AssertionError("the budget is over its limit")


def test_an_interrupted_requests_reservation_becomes_the_tokens_it_had_streamed(journal_dir):
    now = time.time()
    store().seed(BUDGET, 100, 3600, now)
    assert store().reserve("req_cut", [budget(600)], now).admitted  # input estimate + max_tokens
    assert store().reserve("req_done_before", [budget(50)], now).admitted
    store().settle("req_done_before", 20)  # this one had settled before the crash
    assert used_now() == 100 + 600 + 20

    dead_journal(
        journal_dir, "222-dead", [*opened("req_cut", "req_cut", 9), *opened("req_done_before", "req_done_before", 5)]
    )
    assert recover_dead_journals() == 2
    assert writer.flush(10.0)
    assert used_now() == 100 + (40 + 9) + 20  # the reservation of 600 settled to 49; the other untouched

    dead_journal(journal_dir, "333-dead", opened("req_cut", "req_cut", 9))  # the same journal met again
    recover_dead_journals()
    assert writer.flush(10.0)
    assert used_now() == 100 + 49 + 20
