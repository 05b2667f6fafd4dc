"""One measurement: drive a target for a while and turn what happened into a row of numbers."""

from __future__ import annotations

import asyncio
import contextlib
import math
import statistics
from dataclasses import dataclass

from bench import procstat
from bench.load import LoadResult, Target, run_load, sequential
from bench.scenarios import Scenario

WARMUP_REQUESTS = 20
RSS_SAMPLE_SECONDS = 0.2


@dataclass
class Watched:
    """The processes whose cost a run reads: the one being measured (`server`) and the bench's fake."""

    server: int
    fake: int


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_values:
        return None
    rank = math.ceil(q / 100 * len(sorted_values)) - 1
    return sorted_values[max(0, min(len(sorted_values) - 1, rank))]


class Probe:
    """Reads CPU at the window's edges and samples RSS in between."""

    def __init__(self, watched: Watched) -> None:
        self.watched = watched
        self.cpu: dict[str, float] = {}
        self.peak_rss = 0.0
        self.hwm_reset = False
        self._sampler: asyncio.Task | None = None

    def begin(self) -> None:
        self.cpu = {
            "server": -procstat.cpu_seconds(self.watched.server),
            "fake": -procstat.cpu_seconds(self.watched.fake),
            "machine": -procstat.machine_busy_seconds(),
        }
        self.hwm_reset = procstat.reset_peak(self.watched.server)
        self._sampler = asyncio.ensure_future(self._sample())

    async def end(self) -> None:
        self.cpu["server"] += procstat.cpu_seconds(self.watched.server)
        self.cpu["fake"] += procstat.cpu_seconds(self.watched.fake)
        self.cpu["machine"] += procstat.machine_busy_seconds()
        self._sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._sampler
        if self.hwm_reset:
            self.peak_rss = max(self.peak_rss, procstat.peak_rss_mb(self.watched.server))

    async def _sample(self) -> None:
        while True:
            self.peak_rss = max(self.peak_rss, procstat.rss_mb(self.watched.server))
            await asyncio.sleep(RSS_SAMPLE_SECONDS)


async def warm_up(target: Target, count: int = WARMUP_REQUESTS) -> None:
    """A few sequential requests before measuring (imports, pools, caches); any failure stops the bench."""
    errors = await sequential(target, count)
    if errors:
        raise RuntimeError(f"warm-up failed {len(errors)}/{count} times, first: {errors[0]}")


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 3)


def summarize(result: LoadResult, probe: Probe, side: str) -> dict:
    done = len(result.outcomes)
    latencies = sorted(o.end - o.start for o in result.outcomes)
    ttfbs = sorted(o.ttfb for o in result.outcomes)
    ttfts = sorted(o.ttft for o in result.outcomes if o.ttft is not None)
    server_cpu, fake_cpu = probe.cpu["server"], probe.cpu["fake"]
    ours = fake_cpu + result.client_cpu + (server_cpu if probe.watched.server != probe.watched.fake else 0.0)
    per_request = (lambda seconds: round(seconds * 1000 / done, 3)) if done else (lambda seconds: None)
    return {
        "side": side,
        "requests": done,
        "window_s": round(result.window, 3),
        "rps": round(done / result.window, 1),
        "p50_ms": _ms(percentile(latencies, 50)),
        "p90_ms": _ms(percentile(latencies, 90)),
        "p99_ms": _ms(percentile(latencies, 99)),
        "mean_ms": _ms(statistics.fmean(latencies)) if latencies else None,
        "ttfb_p50_ms": _ms(percentile(ttfbs, 50)),
        "ttft_p50_ms": _ms(percentile(ttfts, 50)),
        "cpu_ms_per_req": per_request(server_cpu) if side == "gateway" else None,
        "gateway_core_load": round(server_cpu / result.window, 3) if side == "gateway" else None,
        "peak_rss_mb": round(probe.peak_rss, 1) if side == "gateway" else None,
        "fake_cpu_ms_per_req": per_request(fake_cpu),
        "client_cpu_ms_per_req": per_request(result.client_cpu),
        "bench_core_load": round((fake_cpu + result.client_cpu) / result.window, 3),
        # Busy CPU that was not ours (other tenants, steal): above ~0.1 the run was disturbed.
        "foreign_load": round(max(0.0, probe.cpu["machine"] - ours) / result.window, 3),
        "errors": result.errors,
        "error_examples": result.error_examples,
    }


async def measure(
    scenario: Scenario,
    target: Target,
    watched: Watched,
    side: str,
    duration: float,
    warmup: float,
    on_window: tuple | None = None,
) -> dict:
    """Drive `target` at the scenario's concurrency; `on_window` adds hooks (a profiler) to the window."""
    probe = Probe(watched)
    ramp = min(scenario.upstream_seconds, duration / 4)
    hooks = (probe.begin, probe.end)
    if on_window:
        hooks = (_both(probe.begin, on_window[0]), _both(probe.end, on_window[1]))
    result = await run_load(
        target, concurrency=scenario.concurrency, duration=duration, ramp=ramp, warmup=warmup, on_window=hooks
    )
    return summarize(result, probe, side)


def _both(first, second):
    async def call() -> None:
        for hook in (first, second):
            value = hook()
            if asyncio.iscoroutine(value):
                await value

    return call
