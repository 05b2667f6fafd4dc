"""Start-up replay of the usage journals that dead processes left behind (journal.py).

Several workers start at once and live workers keep writing, so a journal is replayed only by the
process that takes its owner's lock: a live owner holds it, a dead one's was released by the kernel.
Per request, a D line is the final row; an A line (and the latest P line) without a D line is a
request the owner never finished, whose row says so: status 500, error type `interrupted`, the
tokens streamed so far. The rows go into this process's own journal and the usage writer before
the dead owner's files are deleted, so they are deleted only once committed (a database that is
down at start loses nothing), and replaying twice writes nothing twice (request ids are unique).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from django.db import DatabaseError

from api.accounting.costs import price_record, spent_micros
from api.accounting.journal import LOCK_SUFFIX, SEGMENT_SUFFIX, journal, try_lock
from api.accounting.usage import UsageRecord, writer
from api.admission import limits
from routing import snapshot

log = logging.getLogger("api.accounting.recovery")

INTERRUPTED = "interrupted"
INTERRUPTED_STATUS = 500
"""An interrupted request's row: a failure of the gateway (5xx), told apart from others by its error type."""
INTERRUPTED_MESSAGE = "the gateway stopped before the request ended"
_ABANDONED_CLAIM_SECONDS = 60.0


@dataclass
class OpenRequest:
    """A request a dead process admitted and never finished: its A line and its latest P line."""

    admission: dict
    progress: dict | None = None


@dataclass
class Found:
    """What a dead owner's segments hold, by request id."""

    finished: dict[str, UsageRecord] = field(default_factory=dict)
    open: dict[str, OpenRequest] = field(default_factory=dict)


def recover_dead_journals(where: Path | None = None) -> int:
    """Replay the journal of every owner whose lock can be taken; the number of rows handed on."""
    where = where or journal.folder
    if not where.is_dir():
        return 0
    _remove_abandoned_claims(where)
    total = 0
    for lock_path in sorted(where.glob(f"*{LOCK_SUFFIX}")):
        fd = try_lock(lock_path)
        if fd is None:
            continue  # its owner is alive (or another starting worker is replaying it)
        try:
            total += _recover_owner(where, lock_path)
        except (OSError, ValueError, KeyError, TypeError):  # unreadable, or lines of another version
            log.exception("replaying the usage journal %s failed; its files are kept", lock_path.name)
        finally:
            os.close(fd)
    return total


def settle_interrupted(requests: list[OpenRequest]) -> list[UsageRecord]:
    """The rows of requests a dead process never finished: each as admitted, with its last progress
    line's tokens (estimated unless the upstream had reported them) and how long it had run. Their
    reservations on key limits are settled to those tokens, so they count toward budgets."""
    rows = []
    for request in requests:
        record = UsageRecord.from_journal(request.admission["rec"])
        progress = request.progress or {}
        record.set_tokens(progress.get("usage") or {}, estimated=progress.get("est", True))
        record.latency_ms = int(progress.get("ms") or 0)
        record.status, record.error_type, record.error_message = INTERRUPTED_STATUS, INTERRUPTED, INTERRUPTED_MESSAGE
        price_record(record, _price_table())
        if hold := request.admission.get("hold"):  # a no-op when the request had settled before the crash
            limits.settle(hold, record.total_tokens, spent_micros(record))
        rows.append(record)
    return rows


def _price_table():
    """The prices for interrupted rows; None (the rows stay unpriced) when the database is down."""
    try:
        return snapshot.prices.get_sync()
    except DatabaseError:
        log.warning("database unavailable: interrupted rows are written without a cost")
        return None


def read_segments(paths: list[Path]) -> Found:
    """Fold an owner's lines, oldest segment first, into finished records and open requests."""
    found = Found()
    for path in paths:
        for line in _lines(path):
            kind, request_id = line.get("t"), line["id"]
            if kind == "D":
                found.finished[request_id] = UsageRecord.from_journal(line["rec"])
                found.open.pop(request_id, None)
            elif kind == "A" and request_id not in found.finished:
                found.open[request_id] = OpenRequest(line)
            elif kind == "P" and request_id in found.open:
                found.open[request_id].progress = line
    return found


def _lines(path: Path) -> Iterator[dict]:
    """The segment's whole lines; what follows the last newline is a torn write and is skipped."""
    *whole, _torn = path.read_bytes().split(b"\n")
    for raw in whole:
        try:
            line = orjson.loads(raw)
        except orjson.JSONDecodeError:
            log.warning("skipping a damaged line in %s", path.name)
            continue
        if isinstance(line, dict) and isinstance(line.get("id"), str):
            yield line


def _recover_owner(where: Path, lock_path: Path) -> int:
    owner = lock_path.name.removesuffix(LOCK_SUFFIX)
    segments = sorted(where.glob(f"{owner}.*{SEGMENT_SUFFIX}"))
    found = read_segments(segments)
    interrupted = settle_interrupted(list(found.open.values()))
    rows = _not_committed([*found.finished.values(), *interrupted])
    if not _hand_on(rows):
        log.error("usage journal of %s: could not re-journal its rows; its files are kept", owner)
        return len(rows)
    for segment in segments:
        segment.unlink(missing_ok=True)
    lock_path.unlink(missing_ok=True)
    if segments:
        log.warning(
            "usage journal of stopped process %s: %d rows recovered (%d interrupted), %d already written",
            owner,
            len(rows),
            sum(r.error_type == INTERRUPTED for r in rows),
            len(found.finished) + len(interrupted) - len(rows),
        )
    return len(rows)


def _not_committed(rows: list[UsageRecord], chunk: int = 500) -> list[UsageRecord]:
    """The rows not in the database yet (they are charged to key limits when written); all of them
    when the database cannot be asked."""
    from routing.models import UsageLog

    ids = [r.request_id for r in rows]
    try:
        present = {
            found
            for start in range(0, len(ids), chunk)
            for found in UsageLog.objects.filter(request_id__in=ids[start : start + chunk]).values_list(
                "request_id", flat=True
            )
        }
    except DatabaseError as exc:
        log.warning("usage journal replay: the database is unavailable (%s); offering every row", exc)
        return rows
    return [r for r in rows if r.request_id not in present]


def _hand_on(rows: list[UsageRecord]) -> bool:
    """Into this process's journal (so they outlive us too) and the writer's queue; False if any
    line could not be journaled."""
    journaled = all([journal.append(r.request_id, {"t": "D", "id": r.request_id, "rec": r}) for r in rows])
    for record in rows:
        writer.record(record)
    return journaled


def _remove_abandoned_claims(where: Path) -> None:
    """A process killed between creating its lock file and renaming it into place leaves `.*.lock.new`."""
    for path in where.glob(f".*{LOCK_SUFFIX}.new"):
        fd = try_lock(path)
        if fd is not None:
            if time.time() - os.fstat(fd).st_mtime > _ABANDONED_CLAIM_SECONDS:
                path.unlink(missing_ok=True)
            os.close(fd)
