"""Retention of the raw usage log: rows older than N days deleted in bulk, batch by batch.

Only raw rows go: the daily rollups (and so budgets, summaries and "usage to date") are never touched.
`prune_usage --days N` runs it by hand; with USAGE_RETENTION_DAYS set, the usage writer's thread runs
it itself (`prune_if_due`), at most once an hour per host: the workers of one host share a stamp file
in STATE_DIR, so one of them prunes while the others skip.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

log = logging.getLogger("routing.retention")
INTERVAL = 3600
"""Seconds between two automatic prunes on one host."""
BATCH = 10_000


def prune(days: int, batch: int = BATCH) -> tuple[int, datetime]:
    """Delete every usage row created more than `days` days ago; (rows deleted, the cutoff). One DELETE
    per batch, no rows loaded (no signals reach UsageLog), so no statement holds a huge table for long."""
    from routing.models import UsageLog

    cutoff = timezone.now() - timedelta(days=days)
    old = UsageLog.objects.filter(created_at__lt=cutoff).order_by()
    deleted = 0
    while count := UsageLog.objects.filter(pk__in=old.values("pk")[:batch]).delete()[0]:
        deleted += count
    return deleted, cutoff


def prune_if_due() -> int | None:
    """Prune to USAGE_RETENTION_DAYS when it is set and this host has not pruned in the last hour; the
    rows deleted, or None when nothing ran. Never raises: retention must not stop the usage writer."""
    days = settings.USAGE_RETENTION_DAYS
    if days <= 0:
        return None
    stamp = settings.STATE_DIR / "retention.stamp"
    try:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        with open(stamp, "a+") as held:
            try:
                fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return None  # another worker of this host is pruning now
            now, last = time.time(), os.fstat(held.fileno())
            if last.st_size and now - last.st_mtime < INTERVAL:
                return None
            if not last.st_size:
                held.write("pruned")  # not empty: a prune has run, at its time of modification
                held.flush()
            os.utime(stamp, (now, now))  # before pruning: a prune that fails waits its hour too
            deleted, cutoff = prune(days)
    except (OSError, DatabaseError):
        log.exception("pruning the usage log to %d days failed; will retry in an hour", days)
        return None
    log.info("retention: deleted %d usage rows older than %s", deleted, f"{cutoff:%Y-%m-%d %H:%M} UTC")
    return deleted
