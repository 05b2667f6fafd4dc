"""Limit counters that every worker of the gateway shares: sliding windows, budgets and holds.

A request reserves what it may use on every counter that limits it, all or nothing, in one atomic
step (`reserve`); when it ends, its hold is settled to what it really used (`settle`). Two stores:
Redis (`counters_redis.py`) when CACHE_URL is Redis, for several replicas; otherwise a SQLite file in
STATE_DIR that every worker process of this host opens (no extra server; a transaction costs tens of
microseconds). Several replicas without Redis would each count alone: system check proxy.W010.

Sliding windows are kept in one-second buckets. A window of W seconds sums the buckets of the last
W + 1 seconds, so a limit of N per minute is never more than N in any 60 seconds (a request may wait up
to a second longer than strictly needed). Budget counters are loaded from the daily rollups the first
time a period needs them (`Outcome.missing` -> `seed`) and live until the period ends, or until
`rebuild_usage_rollups` drops them (`drop_budgets`).
"""

from __future__ import annotations

import functools
import logging
import math
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import orjson
from asgiref.sync import sync_to_async
from django.conf import settings

log = logging.getLogger("api.admission.counters")
HOLD_LIFETIME = 24 * 3600
"""A hold not settled by then (its process died and no journal replayed it) is forgotten."""
LOCK_WAIT = 2.0


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    limit: int
    amount: int
    """Reserved now; settled to the real amount later when `settles`."""
    window: int = 0
    """Seconds of a sliding window; 0 for a budget counter."""
    settles: bool = True
    money: bool = False
    """Counts micro-dollars: settled to the request's cost, not its tokens."""


@dataclass(frozen=True, slots=True)
class Outcome:
    admitted: bool
    refused: Check | None = None
    used: int = 0
    """What the refused counter already held."""
    retry_after: int | None = None
    """Windows: seconds until the oldest reservation leaves the window."""
    missing: tuple[str, ...] = ()
    """Budget counters not loaded yet: `seed` them from the usage log, then reserve again."""


class Counters(Protocol):
    blocking: bool
    """True when a call does network I/O (run it off the event loop)."""

    def reserve(self, hold_id: str, checks: list[Check], now: float) -> Outcome: ...
    def seed(self, name: str, value: int, ttl: int, now: float) -> None: ...
    def settle(self, hold_id: str, amount: int, money: int = 0) -> bool: ...
    def peek(self, name: str, now: float) -> int | None: ...
    def drop_budgets(self) -> None: ...
    def clear(self) -> None: ...
    def circuits(self) -> dict[str, bytes]: ...
    def swap_circuit(self, name: str, expected: bytes | None, new: bytes | None) -> bool: ...


def retry_after(oldest_second: int, window: int, now: float) -> int:
    return max(1, math.ceil(oldest_second + window + 1 - now))


_SCHEMA = """
CREATE TABLE IF NOT EXISTS bucket (name TEXT, second INTEGER, amount INTEGER, PRIMARY KEY (name, second))
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS budget (name TEXT PRIMARY KEY, amount INTEGER, expires REAL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hold (id TEXT PRIMARY KEY, entries BLOB, created REAL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS circuit (name TEXT PRIMARY KEY, state BLOB) WITHOUT ROWID;
"""


class LocalCounters:
    """The counters in a SQLite file shared by this host's workers (WAL; one connection per thread)."""

    blocking = False
    CLEANUP_EVERY = 1000

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._calls = 0

    def reserve(self, hold_id: str, checks: list[Check], now: float) -> Outcome:
        return self._transaction(lambda db: self._reserve(db, hold_id, checks, now))

    def seed(self, name: str, value: int, ttl: int, now: float) -> None:
        def work(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM budget WHERE name = ? AND expires <= ?", (name, now))
            db.execute("INSERT OR IGNORE INTO budget VALUES (?, ?, ?)", (name, value, now + ttl))

        self._transaction(work)

    def settle(self, hold_id: str, amount: int, money: int = 0) -> bool:
        """The hold's counters become `amount` tokens (or `money` micro-dollars on money counters)."""
        return self._transaction(lambda db: self._settle(db, hold_id, amount, money))

    def peek(self, name: str, now: float) -> int | None:
        """A budget counter's amount (settled use plus holds in flight); None when not loaded."""
        row = self._db().execute("SELECT amount FROM budget WHERE name = ? AND expires > ?", (name, now)).fetchone()
        return None if row is None else int(row[0])

    def drop_budgets(self) -> None:
        """Forget every budget counter, so each is loaded again from the rollups at its next request."""
        self._transaction(lambda db: db.execute("DELETE FROM budget"))

    def clear(self) -> None:
        self._transaction(
            lambda db: (
                db.execute("DELETE FROM bucket")
                .execute("DELETE FROM budget")
                .execute("DELETE FROM hold")
                .execute("DELETE FROM circuit")
            )
        )

    def circuits(self) -> dict[str, bytes]:
        """Every provider's circuit state as stored (api/forward/health.py reads and writes it)."""
        return dict(self._db().execute("SELECT name, state FROM circuit").fetchall())

    def swap_circuit(self, name: str, expected: bytes | None, new: bytes | None) -> bool:
        """Compare and swap one circuit's state (None: absent); False when another worker changed it first."""

        def work(db: sqlite3.Connection) -> bool:
            row = db.execute("SELECT state FROM circuit WHERE name = ?", (name,)).fetchone()
            if (row[0] if row else None) != expected:
                return False
            if new is None:
                db.execute("DELETE FROM circuit WHERE name = ?", (name,))
            else:
                db.execute("INSERT OR REPLACE INTO circuit VALUES (?, ?)", (name, new))
            return True

        return self._transaction(work)

    def _reserve(self, db: sqlite3.Connection, hold_id: str, checks: list[Check], now: float) -> Outcome:
        second = int(now)
        missing = []
        for check in checks:
            if check.window:
                used, oldest = db.execute(
                    "SELECT COALESCE(SUM(amount), 0), MIN(second) FROM bucket WHERE name = ? AND second >= ?",
                    (check.name, second - check.window),
                ).fetchone()
                if used + check.amount > check.limit:
                    wait = retry_after(oldest, check.window, now) if oldest is not None else None
                    return Outcome(False, check, used, wait)
                continue
            row = db.execute("SELECT amount FROM budget WHERE name = ? AND expires > ?", (check.name, now)).fetchone()
            if row is None:
                missing.append(check.name)
            elif row[0] + check.amount > check.limit:
                return Outcome(False, check, row[0])
        if missing:
            return Outcome(False, missing=tuple(missing))
        entries = []
        for check in checks:
            if check.window:
                db.execute(
                    "INSERT INTO bucket VALUES (?, ?, ?) ON CONFLICT (name, second) DO UPDATE SET amount = amount + ?",
                    (check.name, second, check.amount, check.amount),
                )
            else:
                db.execute("UPDATE budget SET amount = amount + ? WHERE name = ?", (check.amount, check.name))
            if check.settles:
                entries.append((check.name, check.amount, second if check.window else None, check.money))
        if entries:
            db.execute("INSERT OR REPLACE INTO hold VALUES (?, ?, ?)", (hold_id, orjson.dumps(entries), now))
        self._calls += 1
        if self._calls % self.CLEANUP_EVERY == 0:
            self._cleanup(db, now)
        return Outcome(True)

    @staticmethod
    def _settle(db: sqlite3.Connection, hold_id: str, amount: int, money: int) -> bool:
        row = db.execute("DELETE FROM hold WHERE id = ? RETURNING entries", (hold_id,)).fetchone()
        if row is None:
            return False  # settled already (a journal replay after the request's own settle)
        for name, reserved, second, *unit in orjson.loads(row[0]):
            delta = (money if unit and unit[0] else amount) - reserved
            if second is None:
                db.execute("UPDATE budget SET amount = MAX(0, amount + ?) WHERE name = ?", (delta, name))
            else:
                db.execute(
                    "UPDATE bucket SET amount = MAX(0, amount + ?) WHERE name = ? AND second = ?",
                    (delta, name, second),
                )
        return True

    @staticmethod
    def _cleanup(db: sqlite3.Connection, now: float) -> None:
        """Buckets past every window (an hour, the longest `within_rate` may ask), ended periods, orphaned holds."""
        db.execute("DELETE FROM bucket WHERE second < ?", (int(now) - 3600,))
        db.execute("DELETE FROM budget WHERE expires <= ?", (now,))
        db.execute("DELETE FROM hold WHERE created < ?", (now - HOLD_LIFETIME,))

    def _db(self) -> sqlite3.Connection:
        """This thread's connection (a forked or spawned worker opens its own)."""
        db = getattr(self._local, "db", None)
        if db is None or self._local.pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                db = self._open()
            except sqlite3.DatabaseError as exc:
                if isinstance(exc, sqlite3.OperationalError):
                    raise
                log.error("limit counters file %s is unreadable (%s): starting it anew", self.path, exc)
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{self.path}{suffix}").unlink(missing_ok=True)
                db = self._open()
            self._local.db, self._local.pid = db, os.getpid()
        return db

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=LOCK_WAIT, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        # No fsync, ever: a commit is in the page cache, which survives a killed process; a power cut
        # may lose or spoil the file, which is then made anew (windows restart, budgets reload).
        db.execute("PRAGMA synchronous=OFF")
        db.executescript(_SCHEMA)
        db.execute("PRAGMA busy_timeout=0")  # from here on, waits are ours (see _begin)
        return db

    def _transaction(self, work):
        db = self._db()
        _begin(db)
        try:
            result = work(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return result


def _begin(db: sqlite3.Connection) -> None:
    """Take the write lock, retrying every ~50-2000 us. SQLite's own busy handler sleeps whole
    milliseconds, on the event loop; another worker holds the lock for tens of microseconds."""
    deadline = time.monotonic() + LOCK_WAIT
    pause = 0.00005
    while True:
        try:
            db.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.002)


async def within_rate(name: str, limit: int, window: int = 60) -> int | None:
    """Count one event on the sliding window `name`, shared by every worker like a key's requests per
    minute: None when it fits `limit` per `window` seconds (and is counted), else the seconds to wait."""
    counters, checks = store(), [Check(name, limit, 1, window=window, settles=False)]
    if counters.blocking:
        outcome = await sync_to_async(counters.reserve, thread_sensitive=False)("", checks, time.time())
    else:
        outcome = counters.reserve("", checks, time.time())
    return None if outcome.admitted else (outcome.retry_after or 1)


@functools.cache
def _store_for(cache_url: str, state_dir: str, prefix: str) -> Counters:
    if cache_url.startswith(("redis://", "rediss://", "unix://")):
        from api.admission.counters_redis import RedisCounters

        return RedisCounters(cache_url, prefix)
    return LocalCounters(Path(state_dir) / "limits.sqlite3")


def store() -> Counters:
    """The counters for the current settings (one per process)."""
    return _store_for(settings.CACHE_URL, str(settings.STATE_DIR), settings.CACHES["default"]["KEY_PREFIX"])
