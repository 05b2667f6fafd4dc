"""With DEBUG off a missing secret is a system check error at start-up, not a crash later."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _check(tmp_path, **env):
    environment = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "PROXY_ENCRYPTION_KEY")}
    environment.update(
        {
            "SECRETS_DIR": str(tmp_path / "secrets"),
            "ENV_FILE": str(tmp_path / "none.env"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "STATE_DIR": str(tmp_path / "state"),
            **env,
        }
    )
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


def test_missing_secrets_with_debug_off_fail_the_system_check(tmp_path):
    result = _check(tmp_path, DEBUG="false")
    assert result.returncode != 0
    assert "proxy.E001" in result.stderr and "SECRET_KEY is not set" in result.stderr
    assert "PROXY_ENCRYPTION_KEY is not set" in result.stderr
    assert not (tmp_path / "secrets").exists()


def test_with_debug_on_secrets_are_generated_once_into_a_private_file(tmp_path):
    assert _check(tmp_path, DEBUG="true").returncode == 0
    key_file = tmp_path / "secrets" / "proxy_encryption_key"
    first = key_file.read_text()
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert _check(tmp_path, DEBUG="true").returncode == 0
    assert key_file.read_text() == first


def test_a_bad_encryption_key_is_reported(tmp_path):
    result = _check(tmp_path, DEBUG="false", SECRET_KEY="x" * 50, PROXY_ENCRYPTION_KEY="not-a-key")
    assert result.returncode != 0 and "proxy.E002" in result.stderr


def test_an_unreadable_upstream_ca_bundle_is_reported(tmp_path):
    (tmp_path / "not-a-pem").write_text("hello")
    for bundle in (tmp_path / "missing.pem", tmp_path / "not-a-pem"):
        result = _check(tmp_path, DEBUG="true", UPSTREAM_CA_BUNDLE=str(bundle))
        assert result.returncode != 0 and "proxy.E006" in result.stderr, bundle


def test_an_unwritable_state_dir_fails_the_system_check(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = _check(tmp_path, DEBUG="true", STATE_DIR=str(blocker / "state"))
    assert result.returncode != 0 and "proxy.E010" in result.stderr


def test_a_shared_database_without_redis_warns_that_limits_are_per_host(tmp_path):
    result = _check(tmp_path, DEBUG="true", DATABASE_URL="postgres://nobody:x@127.0.0.1:1/none", CACHE_URL="")
    assert "proxy.W010" in result.stderr, result.stderr
    assert "proxy.W010" not in _check(tmp_path, DEBUG="true", CACHE_URL="").stderr
