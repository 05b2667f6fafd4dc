"""Sampling the gateway with py-spy during a measurement, and reading the collapsed stacks back.

py-spy is not a runtime dependency: install it into the venv (`pip install py-spy`) to use
`--profile`. It samples with `--nonblocking` (the gateway is never paused), so the profiled run's
timings move only slightly; the report says which runs were profiled.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

RATE = 250
# Frames every stack of a thread starts with (process entry, event loop, thread bootstrap): no area.
ROOTS = (
    "manage.py",
    "/management/",
    "uvicorn/main.py",
    "uvicorn/server.py",
    "uvicorn/_compat.py",
    "asyncio/runners.py",
    "threading.py",
    "concurrent/futures/thread.py",
)
# Path fragments -> an area of the hot path; first match wins.
AREAS = (
    ("api/translate/", "api.translate (translation)"),
    ("api/", "api (views, relay, auth, usage)"),
    ("routing/", "routing"),
    ("django/core/handlers/asgi", "django ASGI handler"),
    ("django/utils/deprecation", "django middleware chain"),
    ("django/middleware/", "django middleware chain"),
    ("django/contrib/", "django middleware chain"),
    ("django/core/handlers/", "django request handling"),
    ("django/http/", "django http"),
    ("django/urls/", "django url resolving"),
    ("django/db/", "django db (usage writer)"),
    ("django/", "django other"),
    ("asgiref/", "asgiref (sync_to_async, local)"),
    ("uvicorn/", "uvicorn"),
    ("httpx/", "httpx client"),
    ("httpcore/", "httpx client"),
    ("h11/", "httpx client"),
    ("anyio/", "anyio"),
    ("asyncio/", "asyncio"),
    ("logging/", "logging"),
    ("queue.py", "threads and queues"),
)
# Self time of these frames is C code they call into: name it.
C_CALLEES = {
    "Runner.run (asyncio/runners.py)": "uvloop event loop and socket I/O (C)",
    "_worker (concurrent/futures/thread.py)": "thread-pool worker: GIL hand-off and queue wake-ups (C)",
}


def pyspy() -> str:
    found = Path(sys.executable).with_name("py-spy")
    path = str(found) if found.exists() else shutil.which("py-spy")
    if not path:
        raise RuntimeError("--profile needs py-spy: .venv/bin/pip install py-spy")
    return path


def start(pid: int, seconds: float, out: Path) -> subprocess.Popen:
    command = [
        pyspy(),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, math.ceil(seconds))),
        "--rate",
        str(RATE),
        "--nonblocking",
        "--format",
        "raw",
        "--output",
        str(out),
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)


def finish(process: subprocess.Popen, timeout: float = 30.0) -> None:
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()  # our own py-spy, by its Popen handle
        process.wait(timeout=5)


def _area(frame: str) -> str | None:
    if any(root in frame for root in ROOTS):
        return None
    for fragment, area in AREAS:
        if fragment in frame:
            return area
    return "other (C extensions, stdlib)"


def _root_label(frame: str) -> str:
    if "threading.py" in frame or "concurrent/futures" in frame:
        return "threads: start, join, condition waits"
    return "process entry and event loop"


def _function(frame: str) -> str:
    """`name (path/file.py:line)` without the line, with the path cut to its last three parts."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rpartition(":")[0] or where.rstrip(")")
    return f"{name} ({'/'.join(path.split('/')[-3:])})"


def summarize(path: Path, top: int = 20) -> str:
    """Self and inclusive shares by function and by area, from py-spy's collapsed (raw) output."""
    self_fn, incl_fn, self_area, incl_area = Counter(), Counter(), Counter(), Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames, n = stack.split(";"), int(count)
        total += n
        leaf = _function(frames[-1])
        self_fn[leaf] += n
        self_area[C_CALLEES.get(leaf) or _area(frames[-1]) or _root_label(frames[-1])] += n
        for name in {_function(f) for f in frames}:
            incl_fn[name] += n
        for area in {_area(f) for f in frames} - {None}:
            incl_area[area] += n
    if not total:
        return "no samples"

    def block(title: str, counter: Counter) -> list[str]:
        return [title] + [f"{100 * n / total:6.1f}%  {name}" for name, n in counter.most_common(top)]

    lines = [f"{total} samples at {RATE} Hz (idle excluded)", ""]
    lines += [*block("by area, inclusive:", incl_area), "", *block("by area, self:", self_area), ""]
    lines += [*block("by function, self:", self_fn), "", *block("by function, inclusive:", incl_fn)]
    return "\n".join(lines)
