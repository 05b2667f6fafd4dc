"""The benchmark machinery end to end: one small scenario, about a second per side, through a real gateway.

No timing is asserted here; speed targets live in the bench's own report (`make bench`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.report import COLUMNS

REPO = Path(__file__).resolve().parent.parent


def run_bench(out: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "bench", "--quick", "--scenario", "small_c1", "--duration", "1.5",
               "--out", str(out)]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=180)


def test_a_quick_run_reports_every_column_for_both_sides_with_no_errors(tmp_path):
    finished = run_bench(tmp_path)

    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    report = json.loads((tmp_path / "latest.json").read_text())
    assert report["columns"] == [key for _, key in COLUMNS]
    [scenario] = report["scenarios"]
    assert scenario["name"] == "small_c1"
    for side in ("gateway", "direct"):
        row = scenario[side]
        assert row["errors"] == 0, row["error_examples"]
        assert row["requests"] > 0
        assert row["p50_ms"] > 0
        assert row["p99_ms"] >= row["p50_ms"]
    assert scenario["gateway"]["cpu_ms_per_req"] > 0
    assert scenario["gateway"]["peak_rss_mb"] > 0
    markdown = (tmp_path / "latest.md").read_text()
    assert "| " + " | ".join(header for header, _ in COLUMNS) + " |" in markdown
    assert "| small_c1 | gateway | 1 |" in markdown
    assert "| small_c1 | direct | 1 |" in markdown
