"""A team admin's whole round in real headless Chromium, against the live gateway and the fake upstream.

Log in, add a provider with a write-only key, route a model to it, create a user, issue the user a
key (shown once), use that key with the Anthropic SDK, find the request in the usage list and on the
summary page, then revoke the key and watch the gateway refuse it. Every page visited is kept as a
full-page screenshot in `test-artifacts/admin/NN-name.png`.

Chromium is Debian's: CHROMIUM_BIN, else `chromium` on PATH (`make test` installs it); Playwright's own
browser download is never used. Locally a missing browser or Playwright skips the test; in CI
(`CI=true`) it fails.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest
from cryptography.fernet import Fernet

from tests.e2e.servers import REPO, Gateway
from tests.fakes.openai_upstream import Text

pytestmark = pytest.mark.e2e

CHROMIUM = Path(os.environ.get("CHROMIUM_BIN") or shutil.which("chromium") or "/usr/bin/chromium")
# As root in this closed network: no sandbox, and none of Chromium's own background connections.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO / "test-artifacts" / "admin"

ADMIN_USER, ADMIN_PASSWORD = "browser-admin", "browser-admin-pass-5521"
PROVIDER, PROVIDER_KEY, MASKED_KEY = "browser-openai", "sk-browser-test-secret-7788", "sk-...7788"
PATTERN, TARGET_MODEL, CLIENT_MODEL = "*browser*", "gpt-browser", "claude-browser-1"
USER = "dana-browser"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright is not installed: `make test` installs requirements-dev.txt")
    if not os.access(CHROMIUM, os.X_OK):
        unavailable(f"Chromium is not installed at {CHROMIUM}: `apt-get install chromium` (`make test` does)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Screens:
    """Full-page screenshots, numbered in visiting order; the folder is emptied of older ones first."""

    def __init__(self, page, folder: Path) -> None:
        self.page, self.folder, self.count = page, folder, 0
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.png"):
            old.unlink()

    def shoot(self, name: str) -> None:
        self.count += 1
        self.page.screenshot(path=self.folder / f"{self.count:02d}-{name}.png", full_page=True)

    @contextlib.contextmanager
    def on_failure(self) -> Iterator[None]:
        """Shoot the page the test was on when it failed (pytest does not tell fixtures)."""
        try:
            yield
        except BaseException:
            self.shoot("failure")
            raise


@pytest.fixture
def admin(browser, gateway) -> Iterator[tuple[object, Screens]]:
    """A logged-out page on the gateway (relative URLs go to it) and its screenshot taker."""
    create_superuser(gateway)
    context = browser.new_context(base_url=gateway.url, viewport={"width": 1920, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        yield page, Screens(page, ARTIFACTS)
    finally:
        context.close()


def create_superuser(gateway: Gateway) -> None:
    if gateway.query("SELECT id FROM auth_user WHERE username = ?", ADMIN_USER):
        return
    env = {
        **gateway.env,
        "DJANGO_SUPERUSER_USERNAME": ADMIN_USER,
        "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD,
        "DJANGO_SUPERUSER_EMAIL": "admin@example.test",
    }
    command = [sys.executable, "manage.py", "createsuperuser", "--noinput"]
    subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=True)


def visit(page, path: str) -> None:
    response = page.goto(path)
    assert response is not None and response.status == 200, f"GET {path}: {response and response.status}"


def save(page, button: str = "input[name=_save]") -> None:
    """Submit the form; a form error or a server error fails with what the page says."""
    with page.expect_navigation() as navigation:
        page.click(button)
    response = navigation.value
    assert response is not None and response.status == 200, f"{page.url}: {response and response.status}"
    errors = page.locator(".errornote, .errorlist").all_inner_texts()
    assert not errors, f"{page.url}: {errors}"


def log_in(page, screens: Screens) -> None:
    visit(page, "/admin/")
    assert re.search(r"/admin/login/", page.url)
    screens.shoot("login")
    page.fill("#id_username", ADMIN_USER)
    page.fill("#id_password", ADMIN_PASSWORD)
    save(page, "input[type=submit]")
    assert page.url.endswith("/admin/")
    assert "Providers, routes, keys and usage" in page.inner_text("#content")
    screens.shoot("admin-index")


def add_provider(page, screens: Screens, upstream_url: str) -> None:
    visit(page, "/admin/routing/provider/add/")
    page.fill("#id_name", PROVIDER)
    page.select_option("#id_kind", "openai")
    page.select_option("#id_profile", "openai")
    page.fill("#id_base_url", upstream_url)
    page.fill("#id_api_key", PROVIDER_KEY)
    screens.shoot("provider-add")
    save(page)
    assert page.url.endswith("/admin/routing/provider/")
    assert f"{PROVIDER}" in page.inner_text(".messagelist")
    screens.shoot("provider-list")
    html = page.content()
    assert PROVIDER_KEY not in html
    assert MASKED_KEY in page.locator("#result_list tr", has_text=PROVIDER).inner_text()
    page.click(f"#result_list a:text-is('{PROVIDER}')")
    page.wait_for_load_state()
    screens.shoot("provider-change")
    assert PROVIDER_KEY not in page.content()
    assert page.inner_text(".field-masked_key .readonly") == MASKED_KEY
    assert page.input_value("#id_api_key") == ""


def add_route(page, screens: Screens) -> None:
    visit(page, "/admin/routing/modelroute/add/")
    page.fill("#id_pattern", PATTERN)
    page.fill("#id_priority", "1")
    page.select_option("#id_targets-0-provider", label=PROVIDER)
    page.fill("#id_targets-0-model", TARGET_MODEL)
    screens.shoot("route-add")
    save(page)
    assert page.url.endswith("/admin/routing/modelroute/")
    row = page.locator("#result_list tr", has_text=PATTERN).inner_text()
    assert PROVIDER in row and TARGET_MODEL in row
    screens.shoot("route-list")


def add_user(page, screens: Screens) -> None:
    """A gateway user who only ever uses keys: password-based login disabled."""
    visit(page, "/admin/auth/user/add/")
    page.fill("#id_username", USER)
    page.check("input[name=usable_password][value=false]")
    screens.shoot("user-add")
    save(page)
    assert re.search(r"/admin/auth/user/\d+/change/$", page.url)
    screens.shoot("user-change")


def issue_key(page, screens: Screens) -> str:
    """Issue a key for USER through the autocomplete; returns the secret shown once."""
    visit(page, "/admin/routing/proxykey/add/")
    page.click(".field-user .select2-selection")
    page.fill(".select2-container--open .select2-search__field", USER)
    page.locator(".select2-results__option", has_text=USER).click()
    page.fill("#id_name", "browser laptop")
    screens.shoot("key-add")
    save(page)
    screens.shoot("key-issued")
    secret = page.inner_text("#issued-secret").strip()
    assert re.fullmatch(r"sk-proxy-[\w-]{43}", secret)
    page.click("text=Open the key")
    page.wait_for_load_state()
    assert re.search(r"/admin/routing/proxykey/\d+/change/$", page.url)
    screens.shoot("key-change")
    assert secret not in page.content()
    assert page.inner_text(".field-prefix_display .readonly") == f"{secret[:15]}…"
    return secret


def find_usage(page, screens: Screens, key_prefix: str, day: str) -> None:
    """The request in the usage list, and on the summary page in the bar of `day` (its UTC date)."""
    visit(page, "/admin/routing/usagelog/")
    page.fill("#searchbar", USER)
    with page.expect_navigation():
        page.press("#searchbar", "Enter")
    screens.shoot("usage-search")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    cells = rows.first.locator("td, th").all_inner_texts()
    assert [USER, key_prefix, CLIENT_MODEL, PROVIDER, TARGET_MODEL] == cells[2:7]
    assert cells[8:11] == ["200", "21", "7"]

    visit(page, "/admin/routing/usagelog/summary/")
    screens.shoot("usage-summary")
    row = page.locator("#usage-per-user tr", has_text=USER).locator("td").all_inner_texts()
    assert row == [USER, "1", "0", "21", "7", "0", "28"]
    # The window ends today; the request's day, not the last bar: midnight may have passed since.
    bars = page.locator("#usage-chart rect")
    labels = [text.strip() for text in bars.locator("title").all_text_contents()]
    [index] = [i for i, text in enumerate(labels) if text.startswith(f"{day}: ")]
    bar = bars.nth(index)
    assert int(re.fullmatch(r"\d{4}-\d\d-\d\d: (\d+) tokens", labels[index])[1]) >= 28
    assert int(bar.get_attribute("height")) > 1  # days without tokens are drawn 1 px high
    assert bar.bounding_box()["height"] > 1


def revoke_key(page, screens: Screens, key_id: int) -> None:
    visit(page, "/admin/routing/proxykey/")
    page.check(f"#result_list input.action-select[value='{key_id}']")
    page.select_option("select[name=action]", "revoke")
    save(page, "button[name=index]")
    screens.shoot("key-revoked")
    assert page.inner_text(".messagelist") == "Revoked."
    assert "revoked" in page.locator("#result_list tr", has_text=USER).inner_text()


def ask(gateway: Gateway, secret: str) -> anthropic.types.Message:
    """One message for CLIENT_MODEL on a new connection, so any worker may take it."""
    with anthropic.Anthropic(base_url=gateway.url, api_key=secret, max_retries=0, timeout=30) as sdk:
        return sdk.messages.create(
            model=CLIENT_MODEL, max_tokens=64, messages=[{"role": "user", "content": "Hello from the admin test"}]
        )


def cache_seconds(gateway: Gateway) -> float:
    """How long each gateway worker may keep serving keys and routes from its cache (settings' default: 5)."""
    return float(gateway.env.get("CACHE_SECONDS") or 5.0)


def wait_until_refused(gateway: Gateway, secret: str, revoked_at: float) -> anthropic.AuthenticationError:
    """The first refusal; a worker that cached the key may accept it until its cache expires."""
    deadline = revoked_at + cache_seconds(gateway) + 2.0
    while True:
        try:
            ask(gateway, secret)
        except anthropic.AuthenticationError as exc:
            return exc
        assert time.monotonic() < deadline, "the revoked key was still accepted after the cache TTL"
        time.sleep(0.2)


def stored_key(gateway: Gateway) -> dict:
    [key] = gateway.query(
        "SELECT pk.* FROM routing_proxykey pk JOIN auth_user au ON au.id = pk.user_id WHERE au.username = ?", USER
    )
    return key


def check_setup_stored(gateway: Gateway, upstream_url: str, secret: str) -> dict:
    """The rows the admin pages made: the provider key encrypted under the gateway's key, the key hashed."""
    [provider] = gateway.query("SELECT * FROM routing_provider WHERE name = ?", PROVIDER)
    assert (provider["kind"], provider["profile"], provider["base_url"]) == ("openai", "openai", upstream_url)
    assert PROVIDER_KEY not in provider["api_key_encrypted"]
    fernet = Fernet(gateway.env["PROXY_ENCRYPTION_KEY"])
    assert fernet.decrypt(provider["api_key_encrypted"].encode()).decode() == PROVIDER_KEY
    [route] = gateway.query("SELECT * FROM routing_modelroute WHERE pattern = ?", PATTERN)
    assert (route["priority"], route["enabled"]) == (1, 1)
    [target] = gateway.query("SELECT * FROM routing_routetarget WHERE route_id = ?", route["id"])
    assert (target["provider_id"], target["model"], target["weight"]) == (provider["id"], TARGET_MODEL, 1)
    [user] = gateway.query("SELECT * FROM auth_user WHERE username = ?", USER)
    assert user["password"].startswith("!") and not user["is_staff"]  # no password login, no admin
    key = stored_key(gateway)
    assert key["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert (key["prefix"], key["name"], key["revoked_at"]) == (secret[:15], "browser laptop", None)
    return key


def check_routed_and_logged(gateway: Gateway, fake_upstream, secret: str, key_prefix: str) -> str:
    """One request routed as the admin set it up and logged; returns the UTC day of its usage row."""
    fake_upstream.script(Text("Routed by the admin.", model=TARGET_MODEL, prompt_tokens=21, completion_tokens=7))
    message = ask(gateway, secret)
    assert [b.text for b in message.content] == ["Routed by the admin."]
    [sent] = fake_upstream.chat_requests()
    assert sent.body["model"] == TARGET_MODEL
    assert sent.headers["authorization"] == f"Bearer {PROVIDER_KEY}"
    [row] = gateway.usage_rows(request_id=message._request_id)
    logged = [row[c] for c in ("username", "key_prefix", "requested_model", "provider_name", "upstream_model")]
    assert logged == [USER, key_prefix, CLIENT_MODEL, PROVIDER, TARGET_MODEL]
    assert (row["status"], row["input_tokens"], row["output_tokens"]) == (200, 21, 7)
    return str(row["created_at"])[:10]


def check_refused_after_revocation(gateway: Gateway, secret: str, revoked_at: float) -> None:
    assert stored_key(gateway)["revoked_at"] is not None
    refused = wait_until_refused(gateway, secret, revoked_at)
    assert refused.status_code == 401
    assert refused.body["error"] == {"type": "authentication_error", "message": "This API key has been revoked."}
    [row] = gateway.usage_rows(request_id=refused.request_id)
    assert (row["status"], row["error_type"]) == (401, "authentication_error")
    # Once the TTL has passed no worker accepts it: each request below opens its own connection.
    time.sleep(max(0.0, revoked_at + cache_seconds(gateway) + 0.5 - time.monotonic()))
    for _ in range(4):
        with pytest.raises(anthropic.AuthenticationError):
            ask(gateway, secret)


def test_a_key_issued_in_the_browser_routes_a_request_is_logged_and_stops_working_once_revoked(
    admin, gateway, fake_upstream
):
    page, screens = admin
    with screens.on_failure():
        log_in(page, screens)
        add_provider(page, screens, fake_upstream.base_url)
        add_route(page, screens)
        routes_saved = time.monotonic()
        add_user(page, screens)
        secret = issue_key(page, screens)
        key = check_setup_stored(gateway, fake_upstream.base_url, secret)

        # Another worker may still hold the routes it loaded before the route was saved.
        time.sleep(max(0.0, routes_saved + cache_seconds(gateway) + 0.5 - time.monotonic()))
        day = check_routed_and_logged(gateway, fake_upstream, secret, key["prefix"])
        find_usage(page, screens, key["prefix"], day)

        revoke_key(page, screens, key["id"])
        check_refused_after_revocation(gateway, secret, time.monotonic())
