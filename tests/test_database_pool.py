"""On PostgreSQL each worker borrows connections from a pool (cold cache misses on the API path skip the
connection set-up); DATABASE_POOL_SIZE=0 or a `conn_max_age` in DATABASE_URL turns it off."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATABASE_URL = os.environ.get("DATABASE_URL", "")
pytestmark = pytest.mark.skipif(
    not DATABASE_URL.startswith("postgres"), reason="the pool is PostgreSQL's: this runs in the PostgreSQL pass"
)
SHOW = "from django.db import connection; print(connection.settings_dict['OPTIONS'].get('pool'))"


def pool_setting(**env: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SHOW],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def test_postgresql_connections_come_from_a_pool_of_the_configured_size():
    assert pool_setting(DATABASE_POOL_SIZE="7") == "{'min_size': 1, 'max_size': 7}"


def test_the_pool_is_off_at_size_zero_and_with_persistent_connections():
    assert pool_setting(DATABASE_POOL_SIZE="0") == "None"
    separator = "&" if "?" in DATABASE_URL else "?"
    assert pool_setting(DATABASE_URL=f"{DATABASE_URL}{separator}conn_max_age=60") == "None"
