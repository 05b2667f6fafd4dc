"""Structural checks of Dockerfile, .dockerignore and docker-compose.yml.

No Docker engine runs in CI, so nothing here builds or starts a container: these tests read the files
and check what a broken deployment would get wrong (start-up order, secrets, root, health). The one
thing executed is the image's HEALTHCHECK command itself, against a local stand-in for /health.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    lines = [line for line in dockerfile.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    found = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), " ".join(rest.split())))
    return found


@pytest.fixture(scope="module")
def stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's stages, each a list of instructions starting with its FROM."""
    result: list[list[tuple[str, str]]] = []
    for instruction in instructions((REPO / "Dockerfile").read_text()):
        if instruction[0] == "FROM":
            result.append([])
        assert result, f"{instruction} before the first FROM"
        result[-1].append(instruction)
    return result


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def args_of(stage, word: str) -> list[str]:
    return [rest for instruction, rest in stage if instruction == word]


def test_the_image_is_built_in_two_stages_from_python_3_11_slim(stages):
    assert len(stages) >= 2
    builder, runtime = stages[0], stages[-1]
    assert re.fullmatch(r"python:3\.11-slim\S* AS builder", builder[0][1], re.IGNORECASE), builder[0]
    assert runtime[0][1].lower().startswith("python:3.11-slim")
    assert any("pip wheel" in run for run in args_of(builder, "RUN"))
    assert any(copy.startswith("--from=builder") for copy in args_of(runtime, "COPY"))
    assert not any("pip wheel" in run for run in args_of(runtime, "RUN")), "wheels are built in the builder only"


def test_the_runtime_stage_runs_as_a_non_root_user(stages):
    runtime = stages[-1]
    users = args_of(runtime, "USER")
    assert users, "no USER in the runtime stage: it would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    # Everything after the last USER runs unprivileged; the serving command comes after it.
    last_user = max(i for i, (word, _) in enumerate(runtime) if word == "USER")
    assert any(word == "CMD" for word, _ in runtime[last_user:])


def test_static_files_are_collected_at_build_and_serve_skips_it(stages):
    runtime = stages[-1]
    assert any("manage.py collectstatic" in run and "--noinput" in run for run in args_of(runtime, "RUN"))
    [cmd] = args_of(runtime, "CMD")
    assert json.loads(cmd) == ["python", "manage.py", "serve", "--no-collectstatic"]


def test_production_defaults_and_the_port(stages):
    runtime = stages[-1]
    env = " ".join(args_of(runtime, "ENV"))
    assert re.search(r"\bDEBUG=false\b", env)
    assert re.search(r"\bPORT=8082\b", env)
    assert "8082" in " ".join(args_of(runtime, "EXPOSE"))


def healthcheck_command(stages) -> list[str]:
    [health] = args_of(stages[-1], "HEALTHCHECK")
    options, _, command = health.partition("CMD ")
    assert "--interval=" in options and "--timeout=" in options
    return json.loads(command)


def test_the_healthcheck_asks_health_with_python_alone(stages):
    command = healthcheck_command(stages)
    assert command[:2] == ["python", "-c"], "slim images have no curl"
    assert "urllib.request" in command[2] and "/health" in command[2]


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):
        self.send_response(self.status if self.path == "/health" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def health_server(status: int):
    handler = type("Handler", (_Health,), {"status": status})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_the_healthcheck_command_passes_on_200_and_fails_otherwise(stages, status, healthy):
    command = healthcheck_command(stages)
    with health_server(status) as port:
        env = {"PATH": os.environ.get("PATH", ""), "PORT": str(port)}
        done = subprocess.run([sys.executable, *command[1:]], env=env, capture_output=True, timeout=30)
    assert (done.returncode == 0) is healthy, done.stderr.decode()[-2000:]


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_image():
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()}
    for entry in (".env", ".secrets/", ".git", ".venv/", "*.sqlite3"):
        assert entry in ignored, entry


def test_the_proxy_starts_only_once_postgres_and_redis_are_healthy(compose):
    services = compose["services"]
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    for name in ("postgres", "redis"):
        assert services["proxy"]["depends_on"][name] == {"condition": "service_healthy"}
        test = services[name]["healthcheck"]["test"]
        assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, test
    assert any("pg_isready" in part for part in services["postgres"]["healthcheck"]["test"])
    assert "ping" in services["redis"]["healthcheck"]["test"]


def test_the_proxy_is_configured_from_env_with_the_secrets_required(compose):
    proxy = compose["services"]["proxy"]
    env_files = proxy["env_file"] if isinstance(proxy["env_file"], list) else [proxy["env_file"]]
    assert ".env" in [f if isinstance(f, str) else f["path"] for f in env_files]
    environment = proxy["environment"]
    for secret in ("SECRET_KEY", "PROXY_ENCRYPTION_KEY"):
        # ${NAME:?message}: compose refuses to start when it is unset or empty.
        assert re.fullmatch(r"\$\{" + secret + r":\?[^}]+\}", environment[secret]), environment[secret]
    assert environment["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in environment["DATABASE_URL"]
    assert environment["CACHE_URL"].startswith("redis://redis:6379")
    assert str(environment["DEBUG"]).lower() == "false"
    assert any(str(port).endswith(":8082") for port in proxy["ports"])


def test_postgres_keeps_its_data_in_a_named_volume(compose):
    mounts = compose["services"]["postgres"]["volumes"]
    named = [m.split(":")[0] for m in mounts if m.split(":")[1] == "/var/lib/postgresql/data"]
    assert named and named[0] in compose["volumes"], mounts
