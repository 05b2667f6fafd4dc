"""The usage log, off the hot path: requests enqueue a record, one thread writes them in batches.

Every request that reached the gateway leaves exactly one record. A failed write is retried (the
batch stays queued) and logged; only a full queue drops rows, loudly, and counts them. Each row is
also in the journal (journal.py) from before its response ends until its batch commits, so a crash
of the process (or a dropped row) loses nothing: the next start replays it (recovery.py). The same
thread applies the retention (routing/retention.py) after a batch.
"""

from __future__ import annotations

import functools
import logging
import operator
import queue
import threading
import time
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import DatabaseError, IntegrityError, close_old_connections, connection, transaction
from django.utils import timezone

from api.accounting import metrics
from api.accounting.journal import journal
from routing import retention, rollups

log = logging.getLogger("api.accounting.usage")


@dataclass(slots=True)
class UsageRecord:
    request_id: str
    created_at: datetime = field(default_factory=timezone.now)
    endpoint: str = "messages"
    key_id: int | None = None
    user_id: int | None = None
    client_ip: str | None = None
    user_agent: str = ""
    requested_model: str = ""
    route_id: int | None = None
    target_id: int | None = None
    provider_id: int | None = None
    provider_name: str = ""
    upstream_model: str = ""
    stream: bool = False
    status: int = 200
    error_type: str = ""
    error_message: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    estimated: bool = False
    latency_ms: int = 0
    ttft_ms: int | None = None
    attempts: int = 0
    cost_usd: Decimal | None = None
    """None: unpriced (api/accounting/costs.py)."""
    cost_estimated: bool = False
    request_body: str = ""
    response_body: str = ""

    @property
    def total_tokens(self) -> int:
        """What a key's tokens per minute and budget count: input, output and both cache counts."""
        return self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_creation_tokens

    @classmethod
    def from_journal(cls, rec: dict) -> UsageRecord:
        """A record from its JSON form in the journal (unknown keys ignored, the time parsed back)."""
        values = {name: rec[name] for name in _FIELD_NAMES if name in rec}
        values["created_at"] = datetime.fromisoformat(values["created_at"])
        if values.get("cost_usd") is not None:
            values["cost_usd"] = Decimal(values["cost_usd"])
        return cls(**values)

    def set_tokens(self, usage: dict, *, estimated: bool) -> None:
        """Token counts from an Anthropic-shaped `usage` (as the Messages API reports it)."""
        self.input_tokens = int(usage.get("input_tokens") or 0)
        self.output_tokens = int(usage.get("output_tokens") or 0)
        self.cache_read_tokens = int(usage.get("cache_read_input_tokens") or 0)
        self.cache_creation_tokens = int(usage.get("cache_creation_input_tokens") or 0)
        self.estimated = estimated


_FIELD_NAMES = tuple(f.name for f in fields(UsageRecord))
_values = operator.attrgetter(*_FIELD_NAMES)


class UsageWriter:
    """A bounded queue and one daemon thread that flushes it every second or `batch` rows."""

    def __init__(self) -> None:
        self._queue: queue.Queue[UsageRecord] = queue.Queue(maxsize=settings.USAGE_QUEUE_MAX)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._hurry = threading.Event()  # set by flush(): write what is queued without waiting for more
        self.dropped = 0
        self.written = 0
        self.failed_writes = 0

    def record(self, rec: UsageRecord) -> None:
        self._ensure_started()
        with self._lock:
            self._pending += 1
        try:
            self._queue.put_nowait(rec)
        except queue.Full:
            with self._lock:
                self._pending -= 1
                self.dropped += 1
            metrics.USAGE_DROPPED.inc()
            log.error(
                "usage queue full (%d rows): dropped the row of request %s", settings.USAGE_QUEUE_MAX, rec.request_id
            )

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued row is written; False if that took longer than `timeout`."""
        deadline = time.monotonic() + timeout
        self._hurry.set()
        with self._idle:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        self._hurry.clear()
        return True

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    def _ensure_started(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="usage-writer", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        batch: list[UsageRecord] = []
        while True:
            taken = self._take(settings.USAGE_BATCH_SIZE - len(batch))
            batch.extend(taken)
            if not batch:
                continue
            if self._write(batch):
                journal.committed(r.request_id for r in batch)
                retention.prune_if_due()  # USAGE_RETENTION_DAYS, at most hourly per host; mostly a file stat
                with self._idle:
                    self._pending -= len(batch)
                    self._idle.notify_all()
                batch = []
                if self._queue.empty():
                    connection.close()  # idle: hold no database session (Django reconnects per batch anyway)
            else:
                time.sleep(min(5.0, settings.USAGE_FLUSH_SECONDS * 2))

    def _take(self, limit: int) -> list[UsageRecord]:
        """Rows for the next batch: wait up to the flush interval for the first, then take what is there."""
        try:
            first = self._queue.get(timeout=settings.USAGE_FLUSH_SECONDS)
        except queue.Empty:
            return []
        # Let a batch gather without waking on every row (each wake-up costs the request path the GIL),
        # unless flush() is waiting or the batch is already full.
        if self._queue.qsize() < limit:
            self._hurry.wait(settings.USAGE_FLUSH_SECONDS)
        rows = [first]
        while len(rows) < limit:
            try:
                rows.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return rows

    def _write(self, batch: list[UsageRecord]) -> bool:
        close_old_connections()
        try:
            _insert(batch)
        except DatabaseError:  # the database is down or locked: keep the batch and retry
            self.failed_writes += 1
            metrics.USAGE_WRITE_FAILURES.inc()
            log.exception("writing %d usage rows failed; will retry", len(batch))
            connection.close()
            return False
        self.written += len(batch)
        return True


@functools.cache
def _insert_statement() -> tuple[str, tuple]:
    """The batch INSERT and, per column, the conversion the database needs (datetimes, IPs) or None.

    A row whose request id is already there is skipped (`ON CONFLICT DO NOTHING`, SQLite and PostgreSQL
    alike): replaying a journal after a crash may offer rows that were committed just before it."""
    from routing.models import UsageLog

    quote = connection.ops.quote_name
    columns = [UsageLog._meta.get_field(name) for name in _FIELD_NAMES]
    sql = "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT DO NOTHING".format(
        quote(UsageLog._meta.db_table), ", ".join(quote(f.column) for f in columns), ", ".join(["%s"] * len(columns))
    )
    return sql, tuple(None if f.get_internal_type() in _PLAIN_TYPES else f.get_db_prep_save for f in columns)


_PLAIN_TYPES = frozenset(
    {"CharField", "TextField", "BooleanField", "PositiveIntegerField", "PositiveSmallIntegerField", "ForeignKey"}
)


class _SomeSkipped(Exception):
    """The batch held a request id already written: roll it back and insert row by row."""


def _insert(batch: list[UsageRecord]) -> None:
    """One `executemany` per batch (the ORM's `bulk_create` cost ~50 us of the gateway's core per row
    in model instances and SQL compiling), and the rows' daily rollups added in the same transaction.
    Only rows really inserted are added: when the insert skipped some (a journal replay), or a row
    names a key, user or route deleted meanwhile, the batch is written row by row instead, an orphan
    losing its links."""
    sql, converters = _insert_statement()

    def row(record: UsageRecord) -> list:
        values = zip(_values(record), converters, strict=True)
        return [v if convert is None else convert(v, connection) for v, convert in values]

    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, [row(r) for r in batch])
            if cursor.rowcount != len(batch):
                raise _SomeSkipped
            rollups.add(cursor, batch)
    except (IntegrityError, _SomeSkipped):
        for record in batch:
            try:
                _insert_one(sql, row(record), record)
            except IntegrityError:
                orphan = replace(record, key_id=None, user_id=None, route_id=None, target_id=None, provider_id=None)
                _insert_one(sql, row(orphan), orphan)
    _touch_keys(batch)


def _insert_one(sql: str, values: list, record: UsageRecord) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, values)
        if cursor.rowcount == 1:  # 0: the request id was written before
            rollups.add(cursor, [record])


_KEY_TOUCH_SECONDS = 60.0
_key_touched: dict[int, float] = {}


def _touch_keys(batch: list[UsageRecord]) -> None:
    """`last_used_at`, at most once a minute per key, written with the usage rows."""
    from routing.models import ProxyKey

    now = time.monotonic()
    due = {
        r.key_id: r.created_at
        for r in batch
        if r.key_id is not None and now - _key_touched.get(r.key_id, -_KEY_TOUCH_SECONDS) >= _KEY_TOUCH_SECONDS
    }
    for key_id, when in due.items():
        ProxyKey.objects.filter(pk=key_id).update(last_used_at=when)
        _key_touched[key_id] = now


writer = UsageWriter()
