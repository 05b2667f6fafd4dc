"""The live gateway as a subprocess: its environment, start-up, shutdown and what it leaves behind.

`manage.py serve` runs exactly as in production (uvicorn, DEBUG off, secrets from the environment)
on a fresh SQLite file, with provider `env` pointing at the fake upstream. Nothing is inherited from
the developer's shell or `.env`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parents[2]
CLIENT_KEY = "sk-e2e-shared-client-key"
BIG, MIDDLE, SMALL = "fake-big", "fake-middle", "fake-small"
MAX_TOKENS_LIMIT = 4096
READ_TIMEOUT = 2  # seconds of upstream silence before the gateway gives up (the stall test)
RETRY_MAX_WAIT = 3  # a longer upstream retry-after goes back to the client instead of being waited out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Gateway:
    url: str
    env: dict[str, str]
    db_path: Path
    log_path: Path
    process: subprocess.Popen

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )

    def issue_key(self, username: str, *options: str) -> str:
        """A new key for `username` (created if needed), as `manage.py issue_key` prints it."""
        return self.manage("issue_key", username, *options).stdout.strip().splitlines()[-1]

    def usage_rows(self, *, count: int = 1, timeout: float = 5.0, **where: object) -> list[dict]:
        """Usage rows matching `where` (columns of routing_usagelog, `username` or `key_prefix`), oldest first.

        The gateway writes them from a background thread, so wait up to `timeout` for `count` rows.
        """
        columns = {"username": "au.username", "key_prefix": "pk.prefix"}
        clauses = " AND ".join(f"{columns.get(k, 'u.' + k)} = ?" for k in where)
        sql = (
            "SELECT u.*, au.username, pk.prefix AS key_prefix FROM routing_usagelog u"
            " LEFT JOIN auth_user au ON au.id = u.user_id LEFT JOIN routing_proxykey pk ON pk.id = u.key_id"
            + (f" WHERE {clauses}" if clauses else "")
            + " ORDER BY u.id"
        )
        deadline = time.monotonic() + timeout
        while True:
            rows = self.query(sql, *where.values())
            if len(rows) >= count or time.monotonic() > deadline:
                return rows
            time.sleep(0.1)

    def query(self, sql: str, *params: object) -> list[dict]:
        """Rows of `sql` on the gateway's database file, read directly (WAL lets us read beside it)."""
        with contextlib.closing(sqlite3.connect(self.db_path, timeout=10)) as db:
            db.row_factory = sqlite3.Row
            return [dict(row) for row in db.execute(sql, params)]

    def provider_retries(self) -> int:
        """How often the gateway retries provider `env` after the first attempt."""
        [row] = self.query("SELECT max_retries FROM routing_provider WHERE name = 'env'")
        return row["max_retries"]

    def log_text(self, offset: int = 0) -> str:
        with self.log_path.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def log_size(self) -> int:
        return self.log_path.stat().st_size


def gateway_env(tmp: Path, upstream_url: str) -> dict[str, str]:
    """The gateway's whole environment: nothing leaks in from the developer's shell or `.env`."""
    inherited = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR")}
    return {
        **inherited,
        "HOME": str(tmp),
        "PYTHONUNBUFFERED": "1",
        "ENV_FILE": "/nonexistent",
        "DEBUG": "false",
        "SECRET_KEY": "e2e-" + "x" * 60,
        "PROXY_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "DATABASE_URL": f"sqlite:///{tmp / 'gateway.sqlite3'}",
        "STATE_DIR": str(tmp / "state"),  # journal and limit counters: never the checkout's var/
        "OPENAI_BASE_URL": upstream_url,
        "OPENAI_API_KEY": "sk-fake-upstream-key",
        "OPENAI_PROFILE": "openai",
        "BIG_MODEL": BIG,
        "MIDDLE_MODEL": MIDDLE,
        "SMALL_MODEL": SMALL,
        "MAX_TOKENS_LIMIT": str(MAX_TOKENS_LIMIT),
        "REQUEST_TIMEOUT": str(READ_TIMEOUT),
        "RETRY_MAX_WAIT": str(RETRY_MAX_WAIT),
        "AUTH_MODE": "keys",
        "ANTHROPIC_API_KEY": CLIENT_KEY,
        "USAGE_FLUSH_SECONDS": "0.2",
        "LOG_LEVEL": "INFO",
    }


class GatewayDidNotStart(RuntimeError):
    pass


def wait_healthy(gw: Gateway, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gw.process.poll() is not None:
            raise GatewayDidNotStart(f"gateway exited with {gw.process.returncode} at start-up:\n{gw.log_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{gw.url}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise GatewayDidNotStart(f"gateway not healthy after {timeout:.0f} s:\n{gw.log_text()}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def start_gateway(tmp: Path, env: dict[str, str], port: int | None = None) -> Gateway:
    """`manage.py serve` on `port` (a free loopback port by default), its output in `tmp/gateway.log`;
    healthy when returned."""
    port = port or free_port()
    log_path = tmp / "gateway.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    gw = Gateway(f"http://127.0.0.1:{port}", env, tmp / "gateway.sqlite3", log_path, process)
    try:
        wait_healthy(gw)
    except GatewayDidNotStart:
        stop(process)
        raise
    return gw


@contextlib.contextmanager
def serving(tmp: Path, env: dict[str, str]) -> Iterator[Gateway]:
    """Serve the gateway with `env` from `tmp` until the block ends, then stop it by its PID."""
    for attempt in range(3):
        try:
            gw = start_gateway(tmp, env)
            break
        except GatewayDidNotStart as exc:
            # The free port can be taken between our probe and uvicorn's bind: try another one.
            if "address already in use" not in str(exc) or attempt == 2:
                raise
    try:
        yield gw
    finally:
        stop(gw.process)


@contextlib.contextmanager
def running_gateway(tmp: Path, upstream_url: str) -> Iterator[Gateway]:
    """Serve the gateway from `tmp` (database, log, HOME) until the block ends, then stop it by its PID."""
    with serving(tmp, gateway_env(tmp, upstream_url)) as gw:
        yield gw
