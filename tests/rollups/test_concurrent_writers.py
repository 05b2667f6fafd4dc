"""Two worker processes write usage at once, adding to the same rollup rows: no increment is lost
(PostgreSQL: the upsert adds under the row's lock; SQLite: writers take turns)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
ROWS = 400
TOTALS = "SELECT (SELECT SUM(requests) FROM routing_usagerollup), (SELECT SUM(errors) FROM routing_usagerollup),"
TOTALS += " (SELECT SUM(output_tokens) FROM routing_usagerollup), (SELECT COUNT(*) FROM routing_usagelog),"
TOTALS += " (SELECT SUM(output_tokens) FROM routing_usagelog)"


def database_for_workers(tmp_path: Path) -> tuple[str, callable]:
    """A database both processes can open, and how to read the totals from it: this test's own on
    PostgreSQL; on SQLite (in memory under tests) a migrated file."""
    if connection.vendor == "postgresql":
        db = connection.settings_dict
        url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"

        def read() -> tuple:
            with connection.cursor() as cursor:
                cursor.execute(TOTALS)
                return tuple(int(v) for v in cursor.fetchone())

        return url, read
    path = tmp_path / "gateway.sqlite3"
    url = f"sqlite:///{path}"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=worker_env(url), check=True, timeout=120
    )
    return url, lambda: tuple(int(v) for v in sqlite3.connect(path).execute(TOTALS).fetchone())


def worker_env(url: str) -> dict:
    return {**os.environ, "DATABASE_URL": url, "STATE_DIR": str(settings.STATE_DIR)}


def test_two_processes_adding_to_the_same_rollups_lose_no_increment(tmp_path):
    url, read_totals = database_for_workers(tmp_path)
    start_at = str(time.time() + 3.0)  # both past Django's start-up, then at once
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.rollups.concurrent_writer", name, str(ROWS), start_at],
            cwd=ROOT,
            env=worker_env(url),
        )
        for name in ("one", "two")
    ]
    assert [w.wait(timeout=120) for w in workers] == [0, 0]

    requests, errors, rollup_tokens, rows, row_tokens = read_totals()
    assert rows == requests == 2 * ROWS
    assert errors == ROWS
    assert rollup_tokens == row_tokens == 2 * sum(n % 10 + 1 for n in range(ROWS))
