"""Start the test's OpenID Connect provider (settings.py beside this) on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.servers import REPO, free_port, stop

CLIENT_ID, CLIENT_SECRET = "gateway-portal", "gateway-portal-client-secret-5521"


@dataclass
class Provider:
    url: str
    env: dict[str, str]

    def seed(self, redirect_uri: str, *people: str) -> None:
        """The gateway as a client (redirecting to `redirect_uri`), and `people` ("user:email:group:password")."""
        command = [sys.executable, "-m", "tests.e2e.oidc_provider.seed", redirect_uri, CLIENT_ID, CLIENT_SECRET]
        subprocess.run([*command, *people], cwd=REPO, env=self.env, check=True, capture_output=True, timeout=60)

    def gateway_env(self) -> dict[str, str]:
        """What the gateway needs to use this provider for single sign-on."""
        return {
            "OIDC_OP_AUTHORIZATION_ENDPOINT": f"{self.url}/o/authorize/",
            "OIDC_OP_TOKEN_ENDPOINT": f"{self.url}/o/token/",
            "OIDC_OP_USER_ENDPOINT": f"{self.url}/o/userinfo/",
            "OIDC_OP_JWKS_ENDPOINT": f"{self.url}/o/.well-known/jwks.json",
            "OIDC_RP_CLIENT_ID": CLIENT_ID,
            "OIDC_RP_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_RP_SIGN_ALGO": "RS256",
        }


def rsa_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@contextlib.contextmanager
def running_provider(tmp: Path) -> Iterator[Provider]:
    """Migrate a fresh database, serve it until the block ends, then stop the process by its PID."""
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR")},
        "DJANGO_SETTINGS_MODULE": "tests.e2e.oidc_provider.settings",
        "OIDC_PROVIDER_DB": str(tmp / "provider.sqlite3"),
        "OIDC_PROVIDER_RSA_KEY": rsa_key_pem(),
        "PYTHONUNBUFFERED": "1",
    }
    django = [sys.executable, "-m", "django"]
    subprocess.run([*django, "migrate", "--noinput"], cwd=REPO, env=env, check=True, capture_output=True, timeout=120)
    port = free_port()
    with (tmp / "provider.log").open("wb") as log:
        process = subprocess.Popen(
            [*django, "runserver", "--noreload", f"127.0.0.1:{port}"], cwd=REPO, env=env, stdout=log, stderr=log
        )
    provider = Provider(f"http://127.0.0.1:{port}", env)
    try:
        wait_until_up(f"{provider.url}/o/.well-known/openid-configuration", process)
        yield provider
    finally:
        stop(process)


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the OpenID Connect provider exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the OpenID Connect provider did not answer {url} in {timeout:.0f} s")
