"""Medians over repeats, the overhead against the upstream alone, the targets, and the Markdown table."""

from __future__ import annotations

import operator
import statistics

# (header, key): the main table; `side` is "gateway" (through the proxy) or "direct" (the fake alone).
COLUMNS = (
    ("scenario", "scenario"),
    ("side", "side"),
    ("conc", "concurrency"),
    ("req/s", "rps"),
    ("p50 ms", "p50_ms"),
    ("p90 ms", "p90_ms"),
    ("p99 ms", "p99_ms"),
    ("TTFB p50 ms", "ttfb_p50_ms"),
    ("TTFT p50 ms", "ttft_p50_ms"),
    ("CPU ms/req", "cpu_ms_per_req"),
    ("peak RSS MB", "peak_rss_mb"),
    ("errors", "errors"),
    ("added p50 ms", "added_p50_ms"),
    ("throughput ratio", "tput_ratio"),
)
HARNESS_COLUMNS = (
    ("scenario", "scenario"),
    ("side", "side"),
    ("gateway core load", "gateway_core_load"),
    ("bench core load", "bench_core_load"),
    ("fake CPU ms/req", "fake_cpu_ms_per_req"),
    ("client CPU ms/req", "client_cpu_ms_per_req"),
    ("foreign load", "foreign_load"),
    ("requests counted", "requests"),
)
# (scenario, key, comparison, limit): the speed targets, checked only here, never in tests.
TARGETS = (
    ("small_c32", "cpu_ms_per_req", "<=", 1.0),
    ("small_c32", "rps", ">=", 950),
    ("small_c1", "added_p50_ms", "<=", 1.0),
    ("claude_code_c8", "cpu_ms_per_req", "<=", 3.0),
    ("stream20_c32", "cpu_ms_per_req", "<=", 2.0),
    ("stream20_c32", "peak_rss_mb", "<=", 150),
    ("paced_c32", "tput_ratio", ">=", 0.97),
    ("paced_c512", "tput_ratio", ">=", 0.97),
    ("paced_c512", "errors", "<=", 0),
)
_COMPARE = {"<=": operator.le, ">=": operator.ge}


def median_row(runs: list[dict]) -> dict:
    """The median of every numeric field over the repeats; errors are summed, never averaged away."""
    row: dict = {"side": runs[0]["side"], "repeats": len(runs)}
    for key, value in runs[0].items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            values = [r[key] for r in runs if r.get(key) is not None]
            row[key] = round(statistics.median(values), 3) if values else None
        elif value is None:
            row[key] = None
    row["errors"] = sum(r["errors"] for r in runs)
    row["error_examples"] = [e for r in runs for e in r["error_examples"]][:5]
    return row


def summarize(scenario, runs: dict[str, list[dict]]) -> dict:
    gateway, direct = median_row(runs["gateway"]), median_row(runs["direct"])
    added = None
    if gateway["p50_ms"] is not None and direct["p50_ms"] is not None:
        added = round(gateway["p50_ms"] - direct["p50_ms"], 3)
    # Only paced upstreams leave the gateway's throughput comparable to the fake's; unpaced, the fake
    # answers in microseconds and the ratio would say nothing.
    ratio = round(gateway["rps"] / direct["rps"], 3) if scenario.paced and direct["rps"] else None
    for row in (gateway, direct):
        row.update(scenario=scenario.name, concurrency=scenario.concurrency)
    gateway.update(added_p50_ms=added, tput_ratio=ratio)
    return {
        "name": scenario.name,
        "about": scenario.about,
        "concurrency": scenario.concurrency,
        "gateway": gateway,
        "direct": direct,
        "runs": runs,
    }


def check_targets(summaries: list[dict]) -> list[dict]:
    by_name = {s["name"]: s["gateway"] for s in summaries}
    checks = []
    for name, key, comparison, limit in TARGETS:
        if name not in by_name:
            continue
        value = by_name[name].get(key)
        passed = value is not None and _COMPARE[comparison](value, limit)
        checks.append(
            {"scenario": name, "metric": key, "target": f"{comparison} {limit}", "value": value, "ok": passed}
        )
    return checks


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def table(columns, rows: list[dict]) -> str:
    lines = ["| " + " | ".join(h for h, _ in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(key)) for _, key in columns) + " |" for row in rows]
    return "\n".join(lines)


def markdown(meta: dict, summaries: list[dict], checks: list[dict], profiles: dict[str, str]) -> str:
    rows = [row for s in summaries for row in (s["gateway"], s["direct"])]
    parts = [
        "# anthropic-gateway benchmark",
        "",
        f"- command: `{meta['command']}`",
        f"- when: {meta['when']}; commit {meta['commit']}",
        f"- machine: {meta['machine']}",
        f"- pinning: {meta['pinning']}",
        f"- runs: {meta['repeat']} repeat(s) x {meta['duration']} s per scenario and side; medians shown;"
        " errors summed over repeats",
        "",
        "`gateway` goes through the proxy, `direct` sends the proxy's own upstream request straight to the fake"
        " upstream (the limit). Each scenario gets a freshly started gateway. CPU ms/req and peak RSS are the"
        " gateway process's (all threads, all workers;"
        " RSS is the largest worker's). Latencies are client-side, from sending the request to the last byte;"
        " TTFT is the first body bytes holding a `delta`. Added p50 = gateway p50 - direct p50; the throughput"
        " ratio (gateway req/s / direct req/s) is shown for paced streams only.",
        "",
        table(COLUMNS, rows),
        "",
        "## Targets",
        "",
        table(
            (("scenario", "scenario"), ("metric", "metric"), ("target", "target"), ("value", "value"), ("ok", "ok")),
            checks,
        ),
        "",
        "## Harness check (the bench must not be the bottleneck)",
        "",
        "Loads are CPU seconds per wall second over the window (1.0 is a whole core). Foreign load is busy CPU"
        " on the machine that none of the bench's processes used (other tenants, hypervisor steal): above ~0.1"
        " the run was disturbed and its throughput and latency are suspect; CPU ms/req holds up better.",
        "",
        table(HARNESS_COLUMNS, rows),
    ]
    failures = [(r["scenario"], r["side"], e) for r in rows for e in r.get("error_examples", [])]
    if failures:
        parts += ["", "## Errors", ""] + [f"- {name} ({side}): {error}" for name, side, error in failures]
    for name, text in profiles.items():
        parts += ["", f"## Profile: {name}", "", "```", text.rstrip(), "```"]
    return "\n".join(parts) + "\n"
