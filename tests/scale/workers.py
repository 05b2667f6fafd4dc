"""Which uvicorn worker served a connection, read from /proc (Linux) without touching the gateway.

`manage.py serve --workers N` forks nothing itself: uvicorn's supervisor spawns N child processes that
share the listening socket. A worker is a child of the serve process holding that socket; the worker
that served a connection is the one holding the server side of it (the socket whose local port is
the gateway's and whose remote port is the client's).
"""

from __future__ import annotations

import http.client
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

LISTEN = "0A"  # TCP state in /proc/net/tcp


def _tcp_table() -> list[tuple[int, int, str, str]]:
    """(local port, remote port, state, inode) of every IPv4 TCP socket in this network namespace."""
    rows = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
        rows.append((int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16), state, inode))
    return rows


def _socket_inodes(pid: int) -> set[str]:
    found = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        names = os.listdir(fd_dir)
    except (FileNotFoundError, PermissionError):
        return found
    for name in names:
        try:
            target = os.readlink(fd_dir / name)
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(target[8:-1])
    return found


def children(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name (2nd field) is in parentheses and may hold spaces: split after the last ')'.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            kids.append(int(entry))
    return sorted(kids)


def worker_pids(serve_pid: int, port: int) -> list[int]:
    """The children of the serve process that hold the listening socket on `port`."""
    listening = {inode for local, _, state, inode in _tcp_table() if local == port and state == LISTEN}
    return [pid for pid in children(serve_pid) if _socket_inodes(pid) & listening]


def serving_pid(port: int, client_port: int, pids: list[int]) -> int | None:
    """Which of `pids` holds the server side of the connection from `client_port` to `port`."""
    inodes = {inode for local, remote, _, inode in _tcp_table() if local == port and remote == client_port}
    for pid in pids:
        if _socket_inodes(pid) & inodes:
            return pid
    return None


@dataclass
class Reply:
    status: int
    body: dict
    text: str
    request_id: str
    worker: int | None
    at: float = field(default_factory=time.monotonic)

    @property
    def error_type(self) -> str | None:
        return (self.body.get("error") or {}).get("type") if isinstance(self.body, dict) else None


class Connection:
    """One keep-alive HTTP/1.1 connection to the gateway, and the worker that served its last request."""

    def __init__(self, port: int, workers: list[int], timeout: float = 30.0) -> None:
        self.port = port
        self.workers = workers
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.worker: int | None = None

    def request(self, method: str, path: str, body: dict | None = None, headers: dict | None = None) -> Reply:
        payload = json.dumps(body).encode() if body is not None else None
        sent = {"content-type": "application/json", **(headers or {})} if payload else dict(headers or {})
        try:
            response, client_port = self._send(method, path, payload, sent)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            # The server closed the idle keep-alive connection before it read the request: a new one.
            self.http.close()
            response, client_port = self._send(method, path, payload, sent)
        # The answer has started on this connection, which the serving worker holds until it is done.
        self.worker = serving_pid(self.port, client_port, self.workers)
        text = response.read().decode(errors="replace")
        try:
            parsed = json.loads(text) if text and not text.startswith(("event:", "data:")) else {}
        except ValueError:
            parsed = {}
        return Reply(response.status, parsed, text, response.getheader("request-id") or "", self.worker)

    def _send(self, method, path, payload, headers) -> tuple[http.client.HTTPResponse, int]:
        self.http.request(method, path, body=payload, headers=headers)
        client_port = self.http.sock.getsockname()[1]
        return self.http.getresponse(), client_port

    def close(self) -> None:
        self.http.close()


def connections_per_worker(port: int, workers: list[int], per_worker: int, *, timeout: float = 30.0):
    """Fresh connections until each worker serves `per_worker` of them (others are closed)."""
    pinned: dict[int, list[Connection]] = {pid: [] for pid in workers}
    deadline = time.monotonic() + timeout
    opened = 0
    while any(len(conns) < per_worker for conns in pinned.values()):
        if time.monotonic() > deadline:
            counts = {pid: len(conns) for pid, conns in pinned.items()}
            raise AssertionError(f"after {opened} connections the workers serve {counts}, wanted {per_worker} each")
        conn = Connection(port, workers)
        opened += 1
        conn.request("GET", "/health")
        if conn.worker in pinned and len(pinned[conn.worker]) < per_worker:
            pinned[conn.worker].append(conn)
        else:
            conn.close()
    return pinned
