"""The processes a bench run starts (the gateway and the fake upstream), pinned to cores, stopped by PID.

The gateway gets core 0 to itself; the fake upstream and this process (the load generator) share
core 1, so neither side steals the other's CPU. Pinning uses `taskset` when it works and at
least two cores are available; otherwise everything floats and the report says so.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parent.parent
CLIENT_KEY = "bench-key"
GATEWAY_CORE, BENCH_CORE = 0, 1


@dataclass(frozen=True)
class Pinning:
    works: bool
    reason: str

    def prefix(self, core: int) -> list[str]:
        return ["taskset", "-c", str(core)] if self.works else []


def detect_pinning(enabled: bool = True) -> Pinning:
    if not enabled:
        return Pinning(False, "disabled by --no-pin")
    cores = os.sched_getaffinity(0)
    if not {GATEWAY_CORE, BENCH_CORE} <= cores:
        return Pinning(False, f"cores {GATEWAY_CORE} and {BENCH_CORE} are not both available (have {sorted(cores)})")
    if shutil.which("taskset") is None:
        return Pinning(False, "taskset is not installed")
    check = subprocess.run(["taskset", "-c", str(GATEWAY_CORE), "true"], capture_output=True, timeout=10)
    if check.returncode != 0:
        return Pinning(False, f"taskset failed: {check.stderr.decode().strip()}")
    return Pinning(True, f"gateway on core {GATEWAY_CORE}; fake upstream and load generator on core {BENCH_CORE}")


@contextlib.contextmanager
def pinned_self(pinning: Pinning) -> Iterator[None]:
    """Run the load generator on the bench core, then restore this process's affinity."""
    before = os.sched_getaffinity(0)
    if pinning.works:
        os.sched_setaffinity(0, {BENCH_CORE})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(process: subprocess.Popen, grace: float = 20.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds: only this process, by its PID."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@contextlib.contextmanager
def fake_upstream(pinning: Pinning, log_path: Path) -> Iterator[tuple[subprocess.Popen, int]]:
    """The fake upstream on a free port; yields its process and port."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*pinning.prefix(BENCH_CORE), sys.executable, "-m", "bench.fake_upstream", "--port", "0"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )
    try:
        line = process.stdout.readline().decode()  # `listening on PORT`, printed once bound
        if not line.startswith("listening on "):
            raise RuntimeError(f"fake upstream did not start: {line!r}; see {log_path}")
        yield process, int(line.split()[-1])
    finally:
        stop(process, grace=5)


def gateway_env(tmp: Path, upstream_port: int) -> dict[str, str]:
    """The gateway's whole environment; nothing leaks in from the shell or `.env`."""
    inherited = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR")}
    return {
        **inherited,
        "HOME": str(tmp),
        "ENV_FILE": "/nonexistent",
        "DEBUG": "false",
        "SECRET_KEY": "bench-" + "s" * 50,
        "PROXY_ENCRYPTION_KEY": _fernet_key(tmp),
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
        "STATE_DIR": str(tmp / "state"),
        "OPENAI_BASE_URL": f"http://127.0.0.1:{upstream_port}/v1",
        "OPENAI_API_KEY": "x",
        "BIG_MODEL": "gpt-4o",
        "SMALL_MODEL": "gpt-4o-mini",
        "ANTHROPIC_API_KEY": CLIENT_KEY,
        "LOG_LEVEL": "WARNING",
        "PING_INTERVAL": "10",
    }


def _fernet_key(tmp: Path) -> str:
    """One key per bench folder: the gateway and `issue_key` must decrypt the same provider rows."""
    path = tmp / "fernet.key"
    if not path.exists():
        path.write_bytes(Fernet.generate_key())
    return path.read_text()


def issue_key(tmp: Path, upstream_port: int) -> str:
    """A proxy key with requests, tokens and budget limits set (too high to bite), so requests take
    the team path: key lookup by hash, rate and budget checks. Returns the secret."""
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "issue_key",
            "bench-user",
            "--models",
            "claude-*",
            "--rpm",
            "100000000",
            "--tpm",
            "100000000000",
            "--budget",
            "1000000000000000",
        ],
        cwd=REPO,
        env=gateway_env(tmp, upstream_port),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


ADD_TARGETS = """
from routing.models import Provider, RouteTarget
env = Provider.objects.get(name="env")
for n in range(2, {count} + 1):
    provider = Provider(name=f"bench-{{n}}", base_url=env.base_url, profile=env.profile)
    provider.api_key = "x"
    provider.save()
    for target in RouteTarget.objects.filter(provider=env):
        RouteTarget.objects.create(route=target.route, provider=provider, model=target.model, position=n)
"""


def add_targets(tmp: Path, upstream_port: int, count: int) -> None:
    """Give every route `count` targets, weighted alike (other providers on the same fake upstream), and
    wait for the gateway's route cache (CACHE_SECONDS, 5 s) to load them."""
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", ADD_TARGETS.format(count=count)],
        cwd=REPO, env=gateway_env(tmp, upstream_port), capture_output=True, text=True, timeout=120, check=True,
    )
    time.sleep(6)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def gateway(
    pinning: Pinning, tmp: Path, upstream_port: int, workers: int = 1
) -> Iterator[tuple[subprocess.Popen, int]]:
    """`manage.py serve` exactly as in production, on a fresh SQLite file; yields its process and port."""
    port = free_port()
    log_path = tmp / "gateway.log"
    command = [
        *pinning.prefix(GATEWAY_CORE),
        sys.executable,
        "manage.py",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=gateway_env(tmp, upstream_port),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + 90
        while not _healthy(f"http://127.0.0.1:{port}"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gateway did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        yield process, port
    finally:
        stop(process)


def fetch(port: int, path: str) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return response.read()
