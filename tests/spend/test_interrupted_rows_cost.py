"""A request cut off by a crash is priced when its journal is replayed, from the tokens it had streamed
(an estimated cost), and its reservation on a USD budget settles to that cost; a finished row read back
from the journal keeps the exact cost it was written with."""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal

import pytest

from api.accounting.recovery import recover_dead_journals
from api.accounting.usage import writer
from api.admission.counters import Check, store
from routing.models import Price, UsageLog
from tests.factories import make_provider
from tests.journal_files import dead_journal, record

pytestmark = pytest.mark.django_db(transaction=True)
USD = "budget:user:7:usd:total"


def test_an_interrupted_row_is_priced_and_settles_its_usd_reservation(journal_dir):
    provider = make_provider(base_url="http://10.0.0.5/v1")
    Price.objects.create(
        provider=provider, model="gpt-4o", input="1000", output="2000", effective_from=date(2020, 1, 1)
    )
    now = time.time()
    store().seed(USD, 0, 3600, now)
    assert store().reserve("req_cut", [Check(USD, 1_000_000, 900_000, money=True)], now).admitted
    cut = record("req_cut", provider_id=provider.id)
    finished = record("req_done", provider_id=provider.id, input_tokens=1, cost_usd="0.123456", cost_estimated=False)
    dead_journal(
        journal_dir,
        "444-dead",
        [
            {"t": "A", "id": "req_cut", "rec": cut, "hold": "req_cut"},
            {"t": "P", "id": "req_cut", "usage": {"input_tokens": 40, "output_tokens": 9}, "est": True, "ms": 900},
            {"t": "D", "id": "req_done", "rec": finished},
        ],
    )
    assert recover_dead_journals() == 2
    assert writer.flush(10.0)
    rows = dict(UsageLog.objects.values_list("request_id", "cost_usd"))
    assert rows == {"req_cut": Decimal("0.058000"), "req_done": Decimal("0.123456")}  # 40 x $1000/M + 9 x $2000/M
    assert UsageLog.objects.get(request_id="req_cut").cost_estimated
    refused = store().reserve("probe", [Check(USD, 1_000_000, 1_000_000, money=True)], time.time())
    assert not refused.admitted and refused.used == 58_000  # the 900,000 held became the row's cost
