"""Fault-test fixtures: the misbehaving upstream in this process, a live gateway with short timeouts.

On a failure the gateway's log lines written during the test, and what the fault upstream saw, are
attached to the report.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.servers import Gateway, GatewayDidNotStart
from tests.faults.fault_upstream import FaultUpstream
from tests.faults.live import SHORT, fault_gateway

_GATEWAY = pytest.StashKey[Gateway]()
_UPSTREAM = pytest.StashKey[FaultUpstream]()
_OFFSETS = pytest.StashKey[tuple[int, int]]()


@pytest.fixture(scope="session")
def fault_upstream() -> Iterator[FaultUpstream]:
    with FaultUpstream().running() as upstream:
        yield upstream


@pytest.fixture(scope="session")
def live_gateway(fault_upstream, tmp_path_factory) -> Iterator[Gateway]:
    """REQUEST_TIMEOUT 2 s, PING_INTERVAL 0.5 s, no retries on provider `env`, MAX_BODY_BYTES 64 KiB."""
    try:
        with fault_gateway(
            tmp_path_factory.mktemp("faults"), fault_upstream.base_url, SHORT, MAX_BODY_BYTES=str(64 * 1024)
        ) as gw:
            yield gw
    except GatewayDidNotStart as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(autouse=True)
def _remember_where_logs_stood(request) -> None:
    for name in ("live_gateway", "accounting_gateway", "soak_gateway"):
        if name in request.fixturenames:
            gw = request.getfixturevalue(name)
            upstream = request.getfixturevalue("fault_upstream")
            request.node.stash[_GATEWAY] = gw
            request.node.stash[_UPSTREAM] = upstream
            request.node.stash[_OFFSETS] = (gw.log_size(), len(upstream.requests))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed and (gw := item.stash.get(_GATEWAY, None)) is not None:
        log_offset, seen = item.stash.get(_OFFSETS, (0, 0))
        report.sections.append(("gateway log", gw.log_text(log_offset)[-20000:]))
        upstream = item.stash[_UPSTREAM]
        lines = [
            f"{r.tag} attempt={r.attempt} fault={r.fault} stream={r.stream} conn={r.connection.id}"
            f" client_closed={r.connection.client_closed_at is not None} completed={r.completed}"
            for r in upstream.requests[seen:][:200]
        ]
        report.sections.append(("fault upstream requests", "\n".join(lines) or "(none)"))
    return report
