"""A crash between the batch's commit and the journal's note of it: the next start replays rows that
are already written. The insert skips them, and so do the rollups: nothing is counted twice."""

from __future__ import annotations

import pytest

from api.accounting.recovery import recover_dead_journals
from api.accounting.usage import UsageRecord, _insert, writer
from routing.models import UsageLog
from tests.journal_files import dead_journal, record
from tests.rollups.sums import log_sums, rollup_table

pytestmark = pytest.mark.django_db(transaction=True)  # the usage writer thread commits on its own connection


def finished(request_id: str, **fields) -> dict:
    return {"t": "D", "id": request_id, "rec": record(request_id, **fields)}


def test_replaying_rows_written_before_the_crash_leaves_the_rollups_as_they_were(journal_dir):
    lines = [finished(f"req_{n}", output_tokens=10 * n, status=(200, 500)[n % 2]) for n in range(6)]
    _insert([UsageRecord.from_journal(line["rec"]) for line in lines[:4]])  # committed, then the crash
    before = rollup_table()

    dead_journal(journal_dir, "111-dead", lines)
    assert recover_dead_journals() == 2, "only the two rows never written are handed on"
    assert writer.flush(10.0)

    after = rollup_table()
    assert sum(v[0] for v in after.values()) == 6 == UsageLog.objects.count()
    assert after == log_sums() and after != before


def test_a_replayed_batch_offered_again_to_the_writer_adds_nothing(journal_dir):
    rows = [UsageRecord.from_journal(finished(f"req_{n}", input_tokens=n)["rec"]) for n in range(5)]
    _insert(rows)
    before = rollup_table()

    for record_ in rows:  # the database was unreachable when replay asked what it holds: all offered
        writer.record(record_)
    assert writer.flush(10.0)

    assert rollup_table() == before == log_sums()
