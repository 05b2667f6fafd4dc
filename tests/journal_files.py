"""Reading the usage journal's files, and writing a dead process's journal by hand in the documented
format (api/accounting/journal.py). The `journal_dir` fixture (tests/conftest.py) gives each test a
fresh one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson

WHEN = dt.datetime(2026, 3, 14, 15, 9, 26, 535000, tzinfo=dt.UTC)


def journal_lines(folder: Path) -> list[dict]:
    """Every line of every segment in `folder`, oldest segment first."""
    return [orjson.loads(raw) for path in sorted(folder.glob("*.jnl")) for raw in path.read_bytes().splitlines()]


def lines_of(folder: Path, request_id: str) -> list[dict]:
    return [line for line in journal_lines(folder) if line["id"] == request_id]


def record(request_id: str, **fields) -> dict:
    """A usage record as the journal stores it (the JSON of `UsageRecord`)."""
    base = {
        "request_id": request_id,
        "created_at": WHEN.isoformat(),
        "endpoint": "messages",
        "requested_model": "claude-opus-4-8",
        "provider_name": "openai-main",
        "upstream_model": "gpt-4o",
        "stream": True,
        "status": 200,
    }
    return {**base, **fields}


def dead_journal(folder: Path, owner: str, *segments: list[dict], torn: bytes = b"") -> list[Path]:
    """The files a process named `owner` left when it died: its (unheld) lock and its segments, the
    last one ending in `torn` (a write cut short)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{owner}.lock").touch()
    paths = []
    for number, lines in enumerate(segments, start=1):
        path = folder / f"{owner}.{number:06d}.jnl"
        data = b"".join(orjson.dumps(line) + b"\n" for line in lines)
        path.write_bytes(data + (torn if number == len(segments) else b""))
        paths.append(path)
    return paths
