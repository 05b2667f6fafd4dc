"""Debian's HAProxy in front of gateway replicas, for a test: its config, process and server states.

HAProxy listens on 127.0.0.1 only, balances each request round-robin over the replicas, checks each
one with `GET /health` every 300 ms (two failures take it out, two successes bring it back), and names
the replica that answered in an `x-served-by` header. A connection refused by a dead replica is
redispatched to another one; a request that was in flight when its replica died is not retried (a POST
to /v1/messages is not idempotent), so its client sees HAProxy's 502 or 503.
"""

from __future__ import annotations

import contextlib
import csv
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.servers import free_port, stop

SERVED_BY = "x-served-by"
CHECK_INTERVAL_MS = 300
FALL = RISE = 2

CONFIG = """\
global
    maxconn 512
    stats socket {socket} mode 600 level user

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 2
    option redispatch 1

frontend gateway
    bind 127.0.0.1:{port}
    default_backend replicas
    http-response set-header {served_by} %[srv_name]

backend replicas
    balance roundrobin
    option httpchk GET /health
    http-check expect status 200
    default-server inter {inter}ms fall {fall} rise {rise}
{servers}
"""


@dataclass
class Balancer:
    port: int
    socket_path: Path
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def server_states(self) -> dict[str, str]:
        """Replica name -> HAProxy's view of it ("UP", "DOWN", "UP 1/2", ...), from the stats socket."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(self.socket_path))
            sock.sendall(b"show stat\n")
            raw = b"".join(iter(lambda: sock.recv(65536), b""))
        rows = csv.DictReader(raw.decode().lstrip("# ").splitlines())
        return {r["svname"]: r["status"] for r in rows if r["pxname"] == "replicas" and r["type"] == "2"}

    def wait_for_states(self, wanted: dict[str, str], timeout: float = 10.0) -> float:
        """Seconds until HAProxy shows every replica in `wanted` in that state; fails after `timeout`."""
        started = time.monotonic()
        while (states := self.server_states()) and any(states[name] != want for name, want in wanted.items()):
            if time.monotonic() - started > timeout:
                raise AssertionError(f"after {timeout} s HAProxy shows {states}, wanted {wanted}")
            time.sleep(0.05)
        return time.monotonic() - started


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")
    if found is None:
        pytest.fail("HAProxy is missing: run `bash scripts/install_haproxy.sh` (make test-setup does)", pytrace=False)
    return found


@contextlib.contextmanager
def balancing(tmp: Path, replicas: dict[str, int]) -> Iterator[Balancer]:
    """HAProxy in front of `replicas` (name -> loopback port) until the block ends, every one UP first."""
    binary = haproxy_binary()
    port, socket_path, config = free_port(), tmp / "haproxy.sock", tmp / "haproxy.cfg"
    servers = "\n".join(f"    server {name} 127.0.0.1:{p} check" for name, p in replicas.items())
    config.write_text(
        CONFIG.format(
            socket=socket_path,
            port=port,
            served_by=SERVED_BY,
            inter=CHECK_INTERVAL_MS,
            fall=FALL,
            rise=RISE,
            servers=servers,
        )
    )
    checked = subprocess.run([binary, "-c", "-f", str(config)], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    log = (tmp / "haproxy.log").open("wb")
    # -db: stay in the foreground (ended by its PID); -W would fork a master we did not start.
    process = subprocess.Popen([binary, "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        balancer = Balancer(port, socket_path, process)
        deadline = time.monotonic() + 10
        while not socket_path.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        assert process.poll() is None, (tmp / "haproxy.log").read_text()
        balancer.wait_for_states(dict.fromkeys(replicas, "UP"))
        yield balancer
    finally:
        stop(process)
        log.close()
