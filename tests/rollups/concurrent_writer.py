"""One of two writer processes of tests/rollups/test_concurrent_writers.py: from the agreed start
time, inserts its rows in small batches that all add to the same few rollups as the other's."""

from __future__ import annotations

import datetime as dt
import os
import sys
import time

import django


def main(name: str, rows: int, start_at: float) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proxy_site.settings")
    django.setup()
    from api.accounting.usage import UsageRecord, _insert

    when = dt.datetime(2026, 3, 14, 12, 0, tzinfo=dt.UTC)
    records = [
        UsageRecord(f"{name}_{n}", created_at=when, status=(200, 500)[n % 2], output_tokens=n % 10 + 1)
        for n in range(rows)
    ]
    time.sleep(max(0.0, start_at - time.time()))
    for start in range(0, rows, 5):
        _insert(records[start : start + 5])


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))
