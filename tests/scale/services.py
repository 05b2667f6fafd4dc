"""Where the CI services are (`scripts/ci_services.sh` writes `.cache/ci-services.env`), and a private
PostgreSQL database and Redis database index for one test module.

Locally, services that are not up skip the tests that need them, with the reason; in CI (`CI=true`)
they fail them, as the Claude Code tests do without the CLI.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
ENV_FILE = Path(os.environ.get("CI_SERVICES_ENV") or REPO / ".cache/ci-services.env")
# The scale tests' own Redis database index. Rate-limit counters there are named by key id: each
# test module numbers its keys from a random start (`number_keys_from_random`), so runs never share one.
REDIS_DB = 15


@dataclass(frozen=True)
class Services:
    database_url: str  # the role's own database: used to create and drop private ones
    cache_url: str


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str):
    reason += " (start them with `bash scripts/ci_services.sh`)"
    if in_ci():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            values[name.strip()] = value.strip().strip("'\"")
    return values


def services() -> Services:
    """The services from the env file, checked to answer; skips (locally) or fails (CI) otherwise."""
    if not ENV_FILE.is_file():
        unavailable(f"PostgreSQL and Redis are not set up: {ENV_FILE} is missing")
    values = read_env_file(ENV_FILE)
    found = Services(values.get("DATABASE_URL", ""), values.get("CACHE_URL", ""))
    if not found.database_url.startswith(("postgres://", "postgresql://")):
        unavailable(f"{ENV_FILE} names no PostgreSQL DATABASE_URL")
    if not found.cache_url.startswith("redis://"):
        unavailable(f"{ENV_FILE} names no Redis CACHE_URL")
    import psycopg
    import redis

    try:
        with psycopg.connect(found.database_url, connect_timeout=3) as db:
            db.execute("SELECT 1")
    except psycopg.Error as exc:
        unavailable(f"PostgreSQL from {ENV_FILE} does not answer: {exc}".strip())
    try:
        redis.Redis.from_url(found.cache_url, socket_connect_timeout=3, socket_timeout=3).ping()
    except redis.RedisError as exc:
        unavailable(f"Redis from {ENV_FILE} does not answer: {exc}")
    return found


def with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=path))


@contextlib.contextmanager
def private_database(found: Services, prefix: str = "gateway_scale") -> Iterator[str]:
    """A new, empty PostgreSQL database for one test module (its URL); dropped afterwards."""
    import psycopg
    from psycopg import sql

    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(found.database_url, autocommit=True, connect_timeout=5) as db:
        db.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_path(found.database_url, "/" + name)
    finally:
        with psycopg.connect(found.database_url, autocommit=True, connect_timeout=5) as db:
            db.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def private_cache(found: Services) -> str:
    """The CACHE_URL of the scale tests' Redis database index."""
    return with_path(found.cache_url, f"/{REDIS_DB}")


def number_keys_from_random(database_url: str) -> int:
    """Start the proxy key ids of a migrated database at a random number (returned)."""
    import psycopg

    start = secrets.randbelow(2**40) + 1_000_000
    with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as db:
        db.execute("SELECT setval(pg_get_serial_sequence('routing_proxykey', 'id'), %s)", (start,))
    return start
