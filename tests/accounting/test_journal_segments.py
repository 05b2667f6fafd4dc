"""The journal's files: one orjson line per write, segments sealed by size or age, and a sealed
segment deleted only once every request in it has its row committed."""

from __future__ import annotations

import fcntl
import os

import orjson
import pytest

from api.accounting.journal import Journal, try_lock
from tests.journal_files import journal_lines


@pytest.fixture
def small_segments(settings):
    settings.JOURNAL_SEGMENT_BYTES = 150  # two lines of `line()`: sealed by the second
    settings.JOURNAL_SEGMENT_SECONDS = 3600.0


def segments(folder) -> list[str]:
    return sorted(p.name for p in folder.glob("*.jnl"))


def line(kind: str, request_id: str) -> dict:
    """A line of about 100 bytes."""
    return {"t": kind, "id": request_id, "pad": "x" * (70 - len(request_id))}


def test_each_line_is_one_whole_json_object_in_order(tmp_path):
    journal = Journal(tmp_path)
    assert journal.append("req_1", {"t": "A", "id": "req_1", "rec": {"stream": True}})
    assert journal.append("req_1", {"t": "D", "id": "req_1", "rec": {"status": 200}})

    [name] = segments(tmp_path)
    raw = (tmp_path / name).read_bytes()
    assert raw.endswith(b"\n") and raw.count(b"\n") == 2
    assert journal_lines(tmp_path) == [
        {"t": "A", "id": "req_1", "rec": {"stream": True}},
        {"t": "D", "id": "req_1", "rec": {"status": 200}},
    ]
    assert name.startswith(f"{journal.owner}.") and journal.owner.startswith(f"{os.getpid()}-")


def test_a_sealed_segment_is_deleted_once_every_request_in_it_is_committed(tmp_path, small_segments):
    journal = Journal(tmp_path)
    for n in range(3):
        journal.append(f"req_{n}", line("D", f"req_{n}"))
    first, second = segments(tmp_path)  # two lines filled the first one, the third opened the next

    journal.committed(["req_0"])
    assert segments(tmp_path) == [first, second], "req_1 in the first segment is not committed yet"
    journal.committed(["req_1"])
    assert segments(tmp_path) == [second]
    journal.committed(["req_2"])
    assert segments(tmp_path) == [second], "the active segment stays open for the next lines"


def test_a_request_whose_lines_span_segments_keeps_each_until_it_is_committed(tmp_path, small_segments):
    journal = Journal(tmp_path)
    journal.append("req_long", line("A", "req_long"))
    journal.append("req_0", line("D", "req_0"))  # seals the first segment
    journal.append("req_1", line("D", "req_1"))
    journal.append("req_long", line("D", "req_long"))  # seals the second
    journal.committed(["req_0", "req_1"])
    assert len(segments(tmp_path)) == 2, "each holds a line of req_long, not committed yet"

    journal.committed(["req_long"])
    assert segments(tmp_path) == []


def test_a_segment_is_sealed_by_age_and_an_idle_process_keeps_no_file(tmp_path, settings):
    settings.JOURNAL_SEGMENT_SECONDS = 0.0
    journal = Journal(tmp_path)
    journal.append("req_a", {"t": "D", "id": "req_a"})
    journal.append("req_b", {"t": "D", "id": "req_b"})
    assert len(segments(tmp_path)) == 2, "each line found its segment too old and sealed it"

    journal.committed(["req_a", "req_b"])
    assert segments(tmp_path) == []


def test_closing_with_every_row_committed_deletes_the_segments_and_the_lock(tmp_path):
    journal = Journal(tmp_path)
    journal.append("req_1", {"t": "D", "id": "req_1"})
    journal.committed(["req_1"])
    journal.close()
    assert list(tmp_path.iterdir()) == []


def test_closing_with_rows_not_committed_keeps_them_for_replay_and_releases_the_lock(tmp_path):
    journal = Journal(tmp_path)
    journal.append("req_1", {"t": "D", "id": "req_1"})
    owner = journal.owner
    journal.close()

    assert [line["id"] for line in journal_lines(tmp_path)] == ["req_1"]
    fd = try_lock(tmp_path / f"{owner}.lock")
    assert fd is not None, "a closed journal's lock is free: the next start replays it"
    os.close(fd)


def test_the_lock_of_a_live_journal_cannot_be_taken(tmp_path):
    journal = Journal(tmp_path)
    journal.append("req_1", {"t": "A", "id": "req_1"})
    lock = tmp_path / f"{journal.owner}.lock"
    assert try_lock(lock) is None
    with open(lock, "rb") as other, pytest.raises(BlockingIOError):  # any other descriptor, even in this process
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [], "claimed under its final name"


def test_an_unwritable_folder_is_logged_and_the_request_goes_on(tmp_path, caplog):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    journal = Journal(blocked / "journal")

    assert journal.append("req_1", {"t": "A", "id": "req_1"}) is False
    assert journal.append("req_2", {"t": "A", "id": "req_2"}) is False, "not retried at once"
    assert [r.message for r in caplog.records if r.name == "api.accounting.journal"] == [
        f"usage journal in {blocked / 'journal'} is not writable"
        f" ([Errno 20] Not a directory: '{blocked / 'journal'}'): rows rely on the queue alone"
    ]


def test_values_the_database_stores_survive_the_round_trip(tmp_path):
    journal = Journal(tmp_path)
    text = 'quotes " newlines \n and unicode é ✓'
    journal.append("req_1", {"t": "D", "id": "req_1", "rec": {"error_message": text}})
    [raw] = (tmp_path / segments(tmp_path)[0]).read_bytes().splitlines()
    assert orjson.loads(raw)["rec"]["error_message"] == text
