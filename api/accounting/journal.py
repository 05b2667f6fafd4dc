"""The usage journal: every request's record on local disk until its usage row is committed.

The usage writer batches rows in memory for about a second, and a stream's row is only complete when
the stream ends; a `kill -9` lost both. So each request also leaves lines in an append-only file:

    {"t": "A", "id": ..., "rec": {...}}                       admitted, before any upstream call
    {"t": "P", "id": ..., "usage": {...}, "est": .., "ms": ..} a stream's tokens so far, about once a second
    {"t": "D", "id": ..., "rec": {...}}                       the final record, before the response ends

One orjson line per `os.write` on an O_APPEND descriptor, no fsync: a line is in the page cache when
`write` returns, which survives the process (kill -9, OOM) but not the machine. A power cut or kernel
crash loses what the kernel had not flushed yet (typically the last ~30 s, `vm.dirty_expire_centisecs`);
a torn last line is skipped on replay.

Files, in `STATE_DIR/journal/`: `<owner>.lock`, held with `flock` for the owning process's life, and
its segments `<owner>.<seq>.jnl`. One segment is active per process; it is sealed by size or age, and a
sealed segment is deleted once every request in it has its row committed (`committed`, called by the
usage writer). `recovery.py` replays the segments of owners whose lock can be taken: dead processes.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

import orjson
from django.conf import settings

log = logging.getLogger("api.accounting.journal")

LOCK_SUFFIX = ".lock"
SEGMENT_SUFFIX = ".jnl"
_OPEN_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
_RETRY_SECONDS = 60.0
"""After a failed write (disk full, folder gone), appends are skipped this long before the next try."""


def folder() -> Path:
    return Path(settings.STATE_DIR) / "journal"


def try_lock(path: Path) -> int | None:
    """An exclusive `flock` on `path` without waiting: its descriptor, or None if another holds it."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _decimal_text(value: object) -> str:
    """A usage row's cost (a Decimal) as its exact text; orjson knows no Decimal."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class Segment:
    """One file of the journal and the requests seen in it whose rows are not committed yet."""

    __slots__ = ("fd", "opened", "path", "pending", "sealed", "size")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, _OPEN_FLAGS, 0o600)
        self.opened = time.monotonic()
        self.size = 0
        self.pending: set[str] = set()
        self.sealed = False

    def close(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1

    def discard(self) -> None:
        self.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class Journal:
    """This process's journal. `append` runs on the request path, `committed` on the writer thread."""

    def __init__(self, where: Path | None = None) -> None:
        self._where = where
        self._lock = threading.Lock()
        self._owner = ""
        self._owner_fd: int | None = None
        self._seq = 0
        self._active: Segment | None = None
        self._segments: dict[str, list[Segment]] = {}  # request id -> segments holding its lines
        self._retry_at = 0.0

    @property
    def folder(self) -> Path:
        return self._where or folder()

    @property
    def owner(self) -> str:
        """This process's name in the folder (empty until the first line); recovery never takes it."""
        return self._owner

    def append(self, request_id: str, line: dict) -> bool:
        """Write one line for `request_id`; False if it could not be written (logged, never raised)."""
        data = orjson.dumps(line, default=_decimal_text) + b"\n"
        with self._lock:
            if self._retry_at and time.monotonic() < self._retry_at:
                return False
            try:
                segment = self._active or self._open_segment()
                if os.write(segment.fd, data) < len(data):  # O_APPEND: one write is one line, at the end
                    os.write(segment.fd, b"\n")  # the disk filled mid-line: end it, so the next line parses
                    raise OSError(errno.ENOSPC, "short write")
            except OSError as exc:
                self._retry_at = time.monotonic() + _RETRY_SECONDS
                log.error("usage journal in %s is not writable (%s): rows rely on the queue alone", self.folder, exc)
                return False
            self._retry_at = 0.0
            segment.size += len(data)
            if request_id not in segment.pending:
                segment.pending.add(request_id)
                self._segments.setdefault(request_id, []).append(segment)
            if segment.size >= settings.JOURNAL_SEGMENT_BYTES or self._aged(segment):
                self._seal(segment)
            return True

    def committed(self, request_ids: Iterable[str]) -> None:
        """These rows are in the database: forget them, deleting sealed segments left with nothing pending."""
        with self._lock:
            for request_id in request_ids:
                for segment in self._segments.pop(request_id, ()):
                    segment.pending.discard(request_id)
                    if segment.sealed and not segment.pending:
                        segment.discard()
            if self._active is not None and not self._active.pending and self._aged(self._active):
                self._seal(self._active)  # an idle process keeps no file of committed rows

    def close(self) -> None:
        """At shutdown: if every row is committed, delete the segments and the lock; else leave them to
        the next start's recovery. Either way the lock is released."""
        with self._lock:
            if self._owner_fd is None:
                return
            segments = {id(s): s for held in self._segments.values() for s in held}
            if self._active is not None:
                segments[id(self._active)] = self._active
            if not self._segments:
                for segment in segments.values():
                    segment.discard()
                (self.folder / f"{self._owner}{LOCK_SUFFIX}").unlink(missing_ok=True)
            else:
                for segment in segments.values():
                    segment.close()
                log.warning("usage journal: %d rows not committed at shutdown, kept for replay", len(self._segments))
            os.close(self._owner_fd)
            self._reset()

    def _open_segment(self) -> Segment:
        if self._owner_fd is None:
            self._claim()
        self._seq += 1
        self._active = Segment(self.folder / f"{self._owner}.{self._seq:06d}{SEGMENT_SUFFIX}")
        return self._active

    def _claim(self) -> None:
        """Create and lock this process's lock file under a temporary name, then rename it into place,
        so that no recovery ever sees the name of a lock that is not held yet."""
        self.folder.mkdir(parents=True, exist_ok=True)
        owner = f"{os.getpid()}-{secrets.token_hex(4)}"
        claiming = self.folder / f".{owner}{LOCK_SUFFIX}.new"
        fd = os.open(claiming, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.rename(claiming, self.folder / f"{owner}{LOCK_SUFFIX}")
        except OSError:
            os.close(fd)
            raise
        self._owner, self._owner_fd = owner, fd

    def _seal(self, segment: Segment) -> None:
        segment.sealed = True
        if segment is self._active:
            self._active = None
        if not segment.pending:
            segment.discard()

    @staticmethod
    def _aged(segment: Segment) -> bool:
        return time.monotonic() - segment.opened >= settings.JOURNAL_SEGMENT_SECONDS

    def _reset(self) -> None:
        self._owner, self._owner_fd, self._seq, self._active = "", None, 0, None
        self._segments = {}
        self._retry_at = 0.0

    def _after_fork_in_child(self) -> None:
        """A forked child starts afresh: its copies of the parent's descriptors would keep the parent's
        lock held after the parent died, and the parent's segments are not the child's to delete."""
        for held in [*self._segments.values(), [self._active] if self._active else []]:
            for segment in held:
                segment.close()
        if self._owner_fd is not None:
            os.close(self._owner_fd)
        self._reset()


journal = Journal()
os.register_at_fork(after_in_child=journal._after_fork_in_child)
