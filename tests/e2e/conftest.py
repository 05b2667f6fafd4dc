"""End-to-end fixtures: a fake OpenAI upstream in this process and the real gateway in a subprocess.

The gateway runs exactly as in production (`manage.py serve`, uvicorn, DEBUG off) on a fresh SQLite
file, with provider `env` pointing at the fake. Tests talk to it over loopback with real clients and
read the usage log straight from the database file. On a failure, the gateway's log lines written
during the test and the requests the fake received are attached to the report.
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

import anthropic
import httpx
import pytest
from cryptography.fernet import Fernet

from tests.fakes.openai_upstream import FakeUpstream

REPO = Path(__file__).resolve().parents[2]
CLIENT_KEY = "sk-e2e-shared-client-key"
BIG, MIDDLE, SMALL = "fake-big", "fake-middle", "fake-small"
MAX_TOKENS_LIMIT = 4096
READ_TIMEOUT = 3  # seconds of upstream silence before the gateway gives up (the stall test)

_GATEWAY = pytest.StashKey["Gateway"]()
_FAKE = pytest.StashKey[FakeUpstream]()
_LOG_OFFSET = pytest.StashKey[int]()


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
        return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=self.env,
                              capture_output=True, text=True, timeout=60, check=True)

    def issue_key(self, username: str, *options: str) -> str:
        """A new key for `username` (created if needed), as `manage.py issue_key` prints it."""
        return self.manage("issue_key", username, *options).stdout.strip().splitlines()[-1]

    def usage_rows(self, *, count: int = 1, timeout: float = 5.0, **where: object) -> list[dict]:
        """Usage rows matching `where` (columns of routing_usagelog, or `username`), oldest first.

        The gateway writes them from a background thread, so wait up to `timeout` for `count` rows.
        """
        clauses = " AND ".join(f"{'au.username' if k == 'username' else 'u.' + k} = ?" for k in where)
        sql = ("SELECT u.*, au.username FROM routing_usagelog u LEFT JOIN auth_user au ON au.id = u.user_id"
               + (f" WHERE {clauses}" if clauses else "") + " ORDER BY u.id")
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.closing(sqlite3.connect(self.db_path, timeout=10)) as db:
                db.row_factory = sqlite3.Row
                rows = [dict(row) for row in db.execute(sql, tuple(where.values()))]
            if len(rows) >= count or time.monotonic() > deadline:
                return rows
            time.sleep(0.1)

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
        "OPENAI_BASE_URL": upstream_url,
        "OPENAI_API_KEY": "sk-fake-upstream-key",
        "OPENAI_PROFILE": "openai",
        "BIG_MODEL": BIG,
        "MIDDLE_MODEL": MIDDLE,
        "SMALL_MODEL": SMALL,
        "MAX_TOKENS_LIMIT": str(MAX_TOKENS_LIMIT),
        "REQUEST_TIMEOUT": str(READ_TIMEOUT),
        "AUTH_MODE": "keys",
        "ANTHROPIC_API_KEY": CLIENT_KEY,
        "USAGE_FLUSH_SECONDS": "0.2",
        "LOG_LEVEL": "INFO",
    }


def wait_healthy(url: str, process: subprocess.Popen, log_path: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gateway exited with {process.returncode} at start-up:\n{log_path.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    pytest.fail(f"gateway not healthy after {timeout:.0f} s:\n{log_path.read_text()}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@pytest.fixture(scope="session")
def fake_upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream().running() as fake:
        yield fake


@pytest.fixture(scope="session")
def gateway(fake_upstream, tmp_path_factory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("gateway")
    env = gateway_env(tmp, fake_upstream.base_url)
    port = free_port()
    log_path = tmp / "gateway.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    gw = Gateway(url=f"http://127.0.0.1:{port}", env=env, db_path=tmp / "gateway.sqlite3",
                 log_path=log_path, process=process)
    try:
        wait_healthy(gw.url, process, log_path)
        yield gw
    finally:
        stop(process)


@pytest.fixture(autouse=True)
def _e2e_isolation(request, fake_upstream) -> Iterator[None]:
    """A clean script and record per test; remember where the gateway log stood for the report."""
    fake_upstream.reset()
    request.node.stash[_FAKE] = fake_upstream
    if "gateway" in request.fixturenames:
        gw = request.getfixturevalue("gateway")
        request.node.stash[_GATEWAY] = gw
        request.node.stash[_LOG_OFFSET] = gw.log_size()
    yield
    fake_upstream.reset()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed:
        if (gw := item.stash.get(_GATEWAY, None)) is not None:
            report.sections.append(("gateway log", gw.log_text(item.stash.get(_LOG_OFFSET, 0))))
        if (fake := item.stash.get(_FAKE, None)) is not None:
            lines = [f"{r.method} {r.path} model={(r.body or {}).get('model')!r} "
                     f"stream={(r.body or {}).get('stream')!r}" for r in fake.requests]
            report.sections.append(("fake upstream requests", "\n".join(lines) or "(none)"))
    return report


@pytest.fixture
def client(gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=CLIENT_KEY, max_retries=0, timeout=30)


@pytest.fixture
def async_client(gateway) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=gateway.url, api_key=CLIENT_KEY, max_retries=0, timeout=30)
