"""Workers start while others serve: a live process's journal is never replayed, only a dead one's.
The owner here is a real second process; `kill -9` is what turns its journal into a dead one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import orjson
import pytest

from api.accounting.recovery import recover_dead_journals
from api.accounting.usage import writer
from routing.models import UsageLog
from tests.e2e.servers import REPO
from tests.journal_files import journal_lines, record

pytestmark = pytest.mark.django_db(transaction=True)

_OWNER = """
import sys, time
from django.conf import settings
settings.configure(STATE_DIR=sys.argv[1], JOURNAL_SEGMENT_BYTES=1 << 20, JOURNAL_SEGMENT_SECONDS=3600.0)
import orjson
from api.accounting.journal import journal
journal.append("req_live", {"t": "A", "id": "req_live", "rec": orjson.loads(sys.argv[2])})
print(journal.owner, flush=True)
time.sleep(60)
"""


@pytest.fixture
def live_owner(journal_dir):
    """A process that journaled one admitted request and is still running; its owner name."""
    child = subprocess.Popen(
        [sys.executable, "-c", _OWNER, str(journal_dir.parent), orjson.dumps(record("req_live")).decode()],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        owner = child.stdout.readline().strip()
        assert owner, "the owner process did not start"
        yield child, owner
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        child.stdout.close()


def test_the_journal_of_a_running_process_is_left_alone_until_it_dies(journal_dir, live_owner):
    child, owner = live_owner

    assert recover_dead_journals() == 0
    assert writer.flush(10.0) and not UsageLog.objects.exists()
    assert sorted(p.name for p in journal_dir.glob(f"{owner}*")) == [f"{owner}.000001.jnl", f"{owner}.lock"]
    assert [line["id"] for line in journal_lines(journal_dir)] == ["req_live"]

    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    assert recover_dead_journals() == 1
    assert writer.flush(10.0)
    [row] = UsageLog.objects.all()
    assert (row.request_id, row.status, row.error_type) == ("req_live", 500, "interrupted")
    assert list(journal_dir.glob(f"{owner}*")) == []


def test_a_lock_file_still_being_claimed_is_left_alone_and_an_abandoned_one_removed(journal_dir):
    journal_dir.mkdir()
    claiming = journal_dir / ".222-fresh.lock.new"
    abandoned = journal_dir / ".111-gone.lock.new"
    claiming.touch()
    abandoned.touch()
    # Times from the process clock, as the recovery reads it (a faked clock in `make test-dates` too).
    now = time.time()
    os.utime(claiming, (now, now))
    os.utime(abandoned, (now - 3600, now - 3600))

    assert recover_dead_journals() == 0
    assert [p.name for p in journal_dir.iterdir()] == [claiming.name]
