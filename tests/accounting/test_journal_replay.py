"""Replay at start-up: a dead process's finished rows are written as journaled, its unfinished
requests become `interrupted` rows with the tokens streamed so far, and nothing is written twice."""

from __future__ import annotations

import pytest
from django.db import OperationalError
from django.db.backends.utils import CursorWrapper

from api.accounting.journal import journal
from api.accounting.recovery import recover_dead_journals
from api.accounting.usage import writer
from routing.models import UsageLog
from tests.journal_files import WHEN, dead_journal, journal_lines, record

pytestmark = pytest.mark.django_db(transaction=True)  # the usage writer thread commits on its own connection

INTERRUPTED = ("interrupted", "the gateway stopped before the request ended")


def rows() -> dict[str, UsageLog]:
    assert writer.flush(10.0)
    return {row.request_id: row for row in UsageLog.objects.all()}


def stream_lines(request_id: str, *progress: dict) -> list[dict]:
    return [
        {"t": "A", "id": request_id, "rec": record(request_id)},
        *({"t": "P", "id": request_id, **p} for p in progress),
    ]


def test_a_finished_request_is_written_as_its_final_line_says(journal_dir):
    final = record("req_done", status=429, error_type="rate_limit_error", input_tokens=12, latency_ms=7)
    dead_journal(
        journal_dir,
        "111-dead",
        [{"t": "A", "id": "req_done", "rec": record("req_done")}, {"t": "D", "id": "req_done", "rec": final}],
    )

    assert recover_dead_journals() == 1
    row = rows()["req_done"]
    assert (row.status, row.error_type, row.input_tokens, row.latency_ms) == (429, "rate_limit_error", 12, 7)
    assert row.created_at == WHEN and row.stream is True and row.requested_model == "claude-opus-4-8"


def test_an_unfinished_stream_is_interrupted_with_the_tokens_of_its_last_progress_line(journal_dir):
    usage = {"input_tokens": 40, "output_tokens": 9, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}
    later = {**usage, "output_tokens": 23}
    dead_journal(
        journal_dir,
        "111-dead",
        stream_lines("req_open", {"usage": usage, "est": True, "ms": 1004}),
        [*stream_lines("req_other")[1:], {"t": "P", "id": "req_open", "usage": later, "est": True, "ms": 2010}],
    )

    assert recover_dead_journals() == 1
    row = rows()["req_open"]
    assert (row.status, row.error_type, row.error_message) == (500, *INTERRUPTED)
    assert (row.input_tokens, row.output_tokens, row.estimated, row.latency_ms) == (40, 23, True, 2010)
    assert (row.requested_model, row.provider_name, row.stream) == ("claude-opus-4-8", "openai-main", True)


def test_tokens_the_upstream_had_reported_are_not_marked_estimated(journal_dir):
    usage = {"input_tokens": 40, "output_tokens": 31}
    dead_journal(journal_dir, "111-dead", stream_lines("req_open", {"usage": usage, "est": False, "ms": 1500}))

    recover_dead_journals()
    row = rows()["req_open"]
    assert (row.output_tokens, row.estimated, row.error_type) == (31, False, "interrupted")


def test_a_request_admitted_without_progress_is_interrupted_with_no_tokens_and_says_they_are_unknown(journal_dir):
    dead_journal(journal_dir, "111-dead", stream_lines("req_waiting"))

    recover_dead_journals()
    row = rows()["req_waiting"]
    assert (row.status, row.error_type, row.input_tokens, row.output_tokens, row.estimated) == (
        500,
        "interrupted",
        0,
        0,
        True,
    )


def test_a_torn_last_line_is_skipped_and_the_whole_lines_are_recovered(journal_dir):
    whole = [{"t": "D", "id": "req_1", "rec": record("req_1")}]
    dead_journal(journal_dir, "111-dead", whole, torn=b'{"t":"D","id":"req_2","rec":{"request_id":"req_2","crea')

    assert recover_dead_journals() == 1
    assert list(rows()) == ["req_1"]
    assert list(journal_dir.glob("111-dead*")) == [], "the dead owner's files are gone once handed on"


def test_replaying_the_same_journal_twice_writes_each_row_once(journal_dir):
    lines = [{"t": "D", "id": f"req_{n}", "rec": record(f"req_{n}", output_tokens=n)} for n in range(5)]
    dead_journal(journal_dir, "111-dead", lines, stream_lines("req_open"))
    assert recover_dead_journals() == 6
    first = {request_id: (row.id, row.status) for request_id, row in rows().items()}

    dead_journal(journal_dir, "111-dead", lines, stream_lines("req_open"))  # as if the files had survived
    dead_journal(journal_dir, "222-dead", lines[:2])  # and another journal held some of them too
    assert recover_dead_journals() == 0, "every row is in the database already"
    assert {request_id: (row.id, row.status) for request_id, row in rows().items()} == first
    assert UsageLog.objects.count() == 6


def test_rows_recovered_while_the_database_is_down_stay_journaled_until_written(journal_dir, monkeypatch, settings):
    def database_down(*args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(CursorWrapper, "execute", database_down)
    monkeypatch.setattr(CursorWrapper, "executemany", database_down)
    settings.USAGE_FLUSH_SECONDS = 0.05
    dead_journal(journal_dir, "111-dead", [{"t": "D", "id": "req_1", "rec": record("req_1")}], stream_lines("req_2"))

    assert recover_dead_journals() == 2
    assert not writer.flush(0.3), "the writer cannot write them"
    assert [p.name for p in journal_dir.glob("111-dead*")] == []
    mine = [(line["t"], line["id"], line["rec"]["status"]) for line in journal_lines(journal_dir)]
    assert mine == [("D", "req_1", 200), ("D", "req_2", 500)], "now in this process's journal, until written"
    assert all(p.name.startswith(journal.owner) for p in journal_dir.glob("*.jnl"))

    monkeypatch.undo()  # the database is back
    assert sorted(rows()) == ["req_1", "req_2"]
