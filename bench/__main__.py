"""`make bench`: every scenario through the gateway and against the fake upstream alone, side by side.

    .venv/bin/python -m bench                       # all scenarios, 3 repeats x 10 s each side (~8 min)
    .venv/bin/python -m bench --quick               # a smoke run: 2 s, 1 repeat
    .venv/bin/python -m bench --scenario small_c32 --duration 20 --profile

Starts the fake upstream once and, for each scenario, a fresh gateway (`manage.py serve`, as in
production), pins them (see processes.py), writes `latest.md` and `latest.json` to bench/results/ (or --out) and stops
everything it started, by PID. Exits 1 when any request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson
import uvloop

from bench import processes, profile, report
from bench.runner import WARMUP_REQUESTS, Watched, measure, warm_up
from bench.scenarios import BY_NAME, SCENARIOS, Scenario, direct_target, gateway_target

RESULTS = Path(__file__).resolve().parent / "results"
PAUSE_BETWEEN_RUNS = 1.0  # lets the usage writer flush the last run's rows outside the next window


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 s per scenario and side, 1 repeat")
    parser.add_argument(
        "--scenario",
        action="append",
        default=[],
        help=f"run only these (repeatable or comma-separated): {', '.join(BY_NAME)}",
    )
    parser.add_argument("--duration", type=float, help="seconds per scenario and side (default 10, quick 2)")
    parser.add_argument("--repeat", type=int, help="repeats; medians are reported (default 3, quick 1)")
    parser.add_argument("--workers", type=int, default=1, help="gateway uvicorn workers (default 1)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to cores")
    parser.add_argument("--profile", action="store_true", help="py-spy the gateway during the first repeat")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for latest.md and latest.json")
    args = parser.parse_args(argv)
    names = [n.strip() for item in args.scenario for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    args.scenarios = [BY_NAME[n] for n in names] or list(SCENARIOS)
    args.duration = args.duration or (2.0 if args.quick else 10.0)
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.warmup = 0.2 if args.quick or args.duration < 4 else 0.5
    return args


def machine_facts(pinning: processes.Pinning) -> dict:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=processes.REPO
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain"], capture_output=True, text=True, cwd=processes.REPO
    ).stdout.strip()
    return {
        "machine": f"nproc {os.cpu_count()}, usable cores {sorted(os.sched_getaffinity(0))}, {model}, "
        f"Python {platform.python_version()}, Linux {platform.release()}, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at start",
        "pinning": ("taskset works: " if pinning.works else "NOT pinned: ") + pinning.reason,
        "commit": commit + (" (with uncommitted changes)" if dirty else ""),
        "when": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


async def run_scenario(
    args, scenario: Scenario, gw: tuple[int, int], fake: tuple[int, int], profiles: dict[str, str], key: str
) -> dict[str, list[dict]]:
    """Warm up, capture the gateway's upstream request, then alternate gateway and direct runs."""
    (gw_pid, gw_port), (fake_pid, fake_port) = gw, fake
    count = 2 if scenario.paced else WARMUP_REQUESTS  # paced answers take over a second each
    through = gateway_target(scenario, gw_port, key)
    await warm_up(through, count)
    upstream_body = await asyncio.to_thread(processes.fetch, fake_port, "/_bench/last")
    alone = direct_target(scenario, fake_port, upstream_body)
    await warm_up(alone, count)
    runs: dict[str, list[dict]] = {"gateway": [], "direct": []}
    for repeat in range(args.repeat):
        hooks = _profiler(scenario, gw_pid, args, profiles) if args.profile and repeat == 0 else None
        runs["gateway"].append(
            await measure(scenario, through, Watched(gw_pid, fake_pid), "gateway", args.duration, args.warmup, hooks)
        )
        await asyncio.sleep(PAUSE_BETWEEN_RUNS)
        runs["direct"].append(
            await measure(scenario, alone, Watched(fake_pid, fake_pid), "direct", args.duration, args.warmup)
        )
        await asyncio.sleep(PAUSE_BETWEEN_RUNS)
        _progress(repeat, args.repeat, scenario, runs)
    return runs


def run_all(args, pinning: processes.Pinning, tmp: Path) -> tuple[dict, dict]:
    """Every scenario against a freshly started gateway (so RSS and CPU are that scenario's alone)."""
    runs: dict[str, dict] = {}
    profiles: dict[str, str] = {}
    with processes.fake_upstream(pinning, tmp / "fake.log") as (fake, fake_port), processes.pinned_self(pinning):
        for scenario in args.scenarios:
            home = tmp / scenario.name  # a fresh SQLite file (and log) per scenario
            home.mkdir()
            with processes.gateway(pinning, home, fake_port, args.workers) as (gw, gw_port):
                key = processes.issue_key(home, fake_port) if scenario.team_key else processes.CLIENT_KEY
                if scenario.targets > 1:
                    processes.add_targets(home, fake_port, scenario.targets)
                runs[scenario.name] = uvloop.run(
                    run_scenario(args, scenario, (gw.pid, gw_port), (fake.pid, fake_port), profiles, key)
                )
    return runs, profiles


def _profiler(scenario: Scenario, pid: int, args, profiles: dict[str, str]):
    """Hooks that run py-spy over the measurement window and store its summary in `profiles`."""
    raw = args.out / f"profile-{scenario.name}.txt"
    state = {}

    def begin() -> None:
        window = args.duration - min(scenario.upstream_seconds, args.duration / 4) - args.warmup
        state["spy"] = profile.start(pid, window, raw)

    async def end() -> None:
        await asyncio.to_thread(profile.finish, state["spy"])
        profiles[scenario.name] = profile.summarize(raw) if raw.exists() else "py-spy wrote nothing"

    return begin, end


def _progress(repeat: int, total: int, scenario: Scenario, runs: dict) -> None:
    g, d = runs["gateway"][-1], runs["direct"][-1]
    print(
        f"[{repeat + 1}/{total}] {scenario.name:<22} gateway {g['rps']:>8.1f} req/s p50 {g['p50_ms'] or 0:>8.2f} ms"
        f" cpu {g['cpu_ms_per_req'] or 0:>6.3f} ms/req err {g['errors']} | direct {d['rps']:>8.1f} req/s"
        f" p50 {d['p50_ms'] or 0:>8.2f} ms err {d['errors']}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    pinning = processes.detect_pinning(not args.no_pin)
    meta = {
        **machine_facts(pinning),
        "command": "python -m bench " + shlex.join(argv or sys.argv[1:]),
        "duration": args.duration,
        "repeat": args.repeat,
        "pinned": pinning.works,
    }
    print(f"{meta['machine']}\n{meta['pinning']}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        runs, profiles = run_all(args, pinning, Path(tmp))
    summaries = [report.summarize(s, runs[s.name]) for s in args.scenarios]
    checks = report.check_targets(summaries)
    text = report.markdown(meta, summaries, checks, profiles)
    (args.out / "latest.md").write_text(text)
    document = {
        "meta": meta,
        "columns": [key for _, key in report.COLUMNS],
        "scenarios": summaries,
        "targets": checks,
        "profiles": profiles,
    }
    (args.out / "latest.json").write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    print("\n" + text)
    return 1 if any(s[side]["errors"] for s in summaries for side in ("gateway", "direct")) else 0


if __name__ == "__main__":
    sys.exit(main())
