"""End-to-end fixtures: the fake OpenAI upstream in this process, the real gateway in a subprocess.

Tests talk to the gateway over loopback with real clients and read the usage log straight from its
database file. On a failure, the gateway's log lines written during the test and the requests the
fake received are attached to the report.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anthropic
import pytest

from tests.e2e.servers import CLIENT_KEY, REPO, Gateway, GatewayDidNotStart, running_gateway
from tests.fakes.openai_upstream import FakeUpstream

_GATEWAY = pytest.StashKey[Gateway]()
_FAKE = pytest.StashKey[FakeUpstream]()
_LOG_OFFSET = pytest.StashKey[int]()


@pytest.fixture(scope="session")
def fake_upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream().running() as fake:
        yield fake


@pytest.fixture(scope="session")
def gateway(fake_upstream, tmp_path_factory) -> Iterator[Gateway]:
    try:
        with running_gateway(tmp_path_factory.mktemp("gateway"), fake_upstream.base_url) as gw:
            yield gw
    except GatewayDidNotStart as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(autouse=True)
def _e2e_isolation(request, fake_upstream) -> Iterator[None]:
    """A clean script and record per test; remember where the gateway log stood for the report."""
    fake_upstream.reset()
    request.node.stash[_FAKE] = fake_upstream
    if "gateway" in request.fixturenames:
        gw = request.getfixturevalue("gateway")
        request.node.stash[_GATEWAY] = gw
        request.node.stash[_LOG_OFFSET] = gw.log_size()
    yield
    fake_upstream.reset()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed:
        if (gw := item.stash.get(_GATEWAY, None)) is not None:
            report.sections.append(("gateway log", gw.log_text(item.stash.get(_LOG_OFFSET, 0))))
        if (fake := item.stash.get(_FAKE, None)) is not None:
            lines = [
                f"{r.method} {r.path} model={(r.body or {}).get('model')!r} stream={(r.body or {}).get('stream')!r}"
                for r in fake.requests
            ]
            report.sections.append(("fake upstream requests", "\n".join(lines) or "(none)"))
    return report


@pytest.fixture
def client(gateway) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=gateway.url, api_key=CLIENT_KEY, max_retries=0, timeout=30) as sdk:
        yield sdk


@pytest.fixture
async def async_client(gateway) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(base_url=gateway.url, api_key=CLIENT_KEY, max_retries=0, timeout=30) as sdk:
        yield sdk


CLAUDE_BIN = Path(os.environ.get("CLAUDE_BIN") or REPO / ".cache/claude-code/node_modules/.bin/claude")


@pytest.fixture(scope="session")
def claude_bin() -> Path:
    if not os.access(CLAUDE_BIN, os.X_OK):
        reason = f"Claude Code is not installed at {CLAUDE_BIN}: run `bash scripts/install_claude_code.sh`"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason)
        pytest.skip(reason)
    return CLAUDE_BIN


@pytest.fixture
def workdir(tmp_path) -> Path:
    (tmp_path / "home").mkdir()
    (tmp_path / "work").mkdir()
    return tmp_path / "work"


@pytest.fixture
def claude(claude_bin, gateway, workdir):
    """Run `claude -p PROMPT [ARGS]` in `workdir` against the gateway, with a throwaway HOME."""

    def run(prompt: str, *args: str, key: str = CLIENT_KEY) -> subprocess.CompletedProcess:
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(workdir.parent / "home"),
            "ANTHROPIC_BASE_URL": gateway.url,
            "ANTHROPIC_API_KEY": key,
            "DISABLE_TELEMETRY": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        }
        result = subprocess.run(
            [str(claude_bin), "-p", prompt, *args],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 0, f"claude exited {result.returncode}\n{result.stdout}\n{result.stderr}"
        return result

    return run
