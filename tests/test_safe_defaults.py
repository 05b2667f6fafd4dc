"""Safe defaults: `make run` (DEBUG on) and AUTH_MODE=open bind loopback unless HOST says otherwise, open
mode accepts only loopback Host names, and behind an HTTPS proxy one switch makes the admin's cookies
secure; with DEBUG off, Django's deployment checks report only what applies."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from routing.management.commands.serve import Command

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = ["localhost", "127.0.0.1", "[::1]"]
SHOWN = (
    "DEBUG",
    "HOST",
    "ALLOWED_HOSTS",
    "SECURE_PROXY_SSL_HEADER",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
)
DUMP = f"import json; from django.conf import settings as s; print(json.dumps({{n: getattr(s, n) for n in {SHOWN}}}))"


def manage(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """`manage.py ARGS` in an environment of only `env` (plus PATH), secrets of its own, no `.env`."""
    environment = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "TMPDIR")}
    environment.update(
        {
            "SECRETS_DIR": str(tmp_path / "secrets"),
            "ENV_FILE": str(tmp_path / "none.env"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            **env,
        }
    )
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


def settings_with(tmp_path, **env: str) -> dict:
    result = manage(tmp_path, "shell", "-c", DUMP, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def deployed(**env: str) -> dict[str, str]:
    return {"DEBUG": "false", "SECRET_KEY": "k" * 60, "PROXY_ENCRYPTION_KEY": Fernet.generate_key().decode(), **env}


EXAMPLE = {"ENV_FILE": str(ROOT / ".env.example")}  # what a newcomer copies to .env


@pytest.mark.parametrize("env", [pytest.param({}, id="nothing-set"), pytest.param(EXAMPLE, id="env-example")])
def test_make_run_serves_debug_on_loopback_only(tmp_path, env):
    shown = settings_with(tmp_path, **env)

    assert (shown["DEBUG"], shown["HOST"], shown["ALLOWED_HOSTS"]) == (True, "127.0.0.1", ["*"])


def test_the_example_env_leaves_the_https_switch_in_charge(tmp_path):
    """Its empty SECURE_* lines mean "follow BEHIND_HTTPS_PROXY", not false."""
    shown = settings_with(tmp_path, **deployed(**EXAMPLE, BEHIND_HTTPS_PROXY="true"))

    assert [shown[n] for n in SHOWN[4:]] == [True, True, True, 31536000]


def test_a_deployment_binds_every_interface(tmp_path):
    shown = settings_with(tmp_path, **deployed())

    assert (shown["HOST"], shown["ALLOWED_HOSTS"]) == ("0.0.0.0", ["*"])


def test_open_mode_binds_loopback_and_accepts_only_loopback_names(tmp_path):
    shown = settings_with(tmp_path, **deployed(AUTH_MODE="open"))

    assert (shown["HOST"], shown["ALLOWED_HOSTS"]) == ("127.0.0.1", LOOPBACK)


def test_an_explicit_host_wins_and_the_banner_warns(tmp_path, settings):
    assert settings_with(tmp_path, **deployed(AUTH_MODE="open", HOST="0.0.0.0"))["HOST"] == "0.0.0.0"

    settings.AUTH_MODE, settings.DEBUG = "open", True
    banner = Command().banner("0.0.0.0", 8082)

    assert "WARNING: AUTH_MODE=open on 0.0.0.0" in banner
    assert "WARNING: DEBUG is on" in banner
    assert "WARNING: AUTH_MODE=open on" not in Command().banner("127.0.0.1", 8082)


def test_behind_an_https_proxy_one_switch_secures_the_admin(tmp_path):
    plain = settings_with(tmp_path, **deployed())
    behind = settings_with(tmp_path, **deployed(BEHIND_HTTPS_PROXY="true"))

    assert [plain[n] for n in SHOWN[3:]] == [None, False, False, False, 0]
    assert [behind[n] for n in SHOWN[3:]] == [["HTTP_X_FORWARDED_PROTO", "https"], True, True, True, 31536000]


HTTPS_WARNINGS = ("security.W004", "security.W008", "security.W012", "security.W016")


def test_deployment_checks_without_an_https_proxy_name_the_switch_once(tmp_path):
    result = manage(tmp_path, "check", "--deploy", **deployed())

    assert result.returncode == 0, result.stderr
    assert "proxy.W020" in result.stderr
    assert not [w for w in HTTPS_WARNINGS if w in result.stderr], result.stderr


def test_deployment_checks_behind_an_https_proxy_are_quiet(tmp_path):
    result = manage(tmp_path, "check", "--deploy", **deployed(BEHIND_HTTPS_PROXY="true"))

    assert result.returncode == 0, result.stderr
    assert "proxy.W020" not in result.stderr + result.stdout
    assert not [w for w in HTTPS_WARNINGS if w in result.stderr + result.stdout], result.stderr
