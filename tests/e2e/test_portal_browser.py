"""A developer's self-service round in real headless Chromium, signed in through a real OpenID Connect
provider (django-oauth-toolkit in its own process, tests/e2e/oidc_provider/).

Erin signs in with her company account and lands in the group her `groups` claim names, whose portal
policy allows one key with a budget of at most 1000 tokens. Over-budget keys are refused by the form
(the browser) and by the server; she creates a key, sees the secret once with the setup line, calls the
gateway with it and finds the request in her usage. The policy's one key is enforced on the page and on
the server. Frank, in another team, can neither see nor revoke her key, even through its URLs. Erin
revokes it; both changes are in the audit log with her address. Screenshots go to test-artifacts/portal/.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator

import anthropic
import pytest

from tests.e2e.oidc_provider.server import running_provider
from tests.e2e.servers import BIG, REPO, Gateway, gateway_env, serving
from tests.e2e.test_admin_browser import Screens, browser  # noqa: F401  (the module's Chromium fixture)
from tests.fakes.openai_upstream import Text

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ARTIFACTS = REPO / "test-artifacts" / "portal"
ERIN = ("erin", "erin@example.test", "team-alpha", "erin-company-pass-4471")
FRANK = ("frank", "frank@example.test", "team-beta", "frank-company-pass-8812")
POLICY = (
    "from django.contrib.auth.models import Group; from portal.models import PortalPolicy; "
    "PortalPolicy.objects.create(group=Group.objects.create(name='team-alpha'), max_keys=1, "
    "default_budget_tokens=500, max_budget_tokens=1000)"
)


@pytest.fixture(scope="module")
def sso_gateway(fake_upstream, tmp_path_factory) -> Iterator[Gateway]:
    """The gateway with single sign-on through a provider that knows Erin and Frank."""
    tmp = tmp_path_factory.mktemp("portal")
    with running_provider(tmp) as provider:
        env = {
            **gateway_env(tmp, fake_upstream.base_url),
            **provider.gateway_env(),
            "OIDC_GROUPS_CLAIM": "groups",
            "OIDC_ALLOWED_EMAIL_DOMAINS": "example.test",
        }
        with serving(tmp, env) as gw:
            provider.seed(f"{gw.url}/oidc/callback/", *(":".join(p) for p in (ERIN, FRANK)))
            gw.manage("shell", "-c", POLICY)
            yield gw


@pytest.fixture
def pages(browser, sso_gateway):  # noqa: F811
    """A fresh browser context (its own cookies) per person, all screenshots into one folder."""
    contexts = []
    folder = {"screens": None}

    def open_page():
        context = browser.new_context(base_url=sso_gateway.url, viewport={"width": 1280, "height": 900})
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=sso_gateway.url)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        if folder["screens"] is None:
            folder["screens"] = Screens(page, ARTIFACTS)
        return page

    yield open_page, folder
    for context in contexts:
        context.close()


def sign_in_with_sso(page, screens: Screens, person: tuple[str, str, str, str]) -> None:
    username, email, _, password = person
    page.goto("/portal/")
    assert page.url.endswith("/portal/login/?next=/portal/")
    screens.page = page
    screens.shoot(f"{username}-portal-login")
    page.click("#sso-login")
    page.wait_for_url(re.compile(r"/accounts/login/"))
    screens.shoot(f"{username}-provider-login")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#provider-sign-in")
    page.wait_for_url(re.compile(r"127.0.0.1:\d+/portal/$"))
    assert page.inner_text("#signed-in-as") == email
    screens.shoot(f"{username}-portal-home")


def post_new_key(page, **fields: str):
    """POST the key form as a script would, skipping the browser's checks, with the page's CSRF token."""
    page.goto("/portal/")
    token = page.locator("input[name=csrfmiddlewaretoken]").first.input_value()
    return page.request.post("/portal/keys/new/", form={"csrfmiddlewaretoken": token, **fields})


def erins_keys(gw: Gateway) -> list[dict]:
    sql = (
        "SELECT k.* FROM routing_proxykey k JOIN auth_user u ON u.id = k.user_id WHERE u.username = 'erin@example.test'"
    )
    return gw.query(sql)


def create_key_within_policy(page, screens: Screens, gw: Gateway) -> str:
    page.goto("/portal/keys/new/")
    assert page.input_value("#id_budget_tokens") == "500"  # the policy's default
    page.fill("#id_name", "erin laptop")
    page.fill("#id_budget_tokens", "5000")
    page.click("#key-form button[type=submit]")  # the browser refuses: the field's max is the policy's 1000
    assert page.locator("#id_budget_tokens").evaluate("e => e.validity.rangeOverflow") is True
    assert page.url.endswith("/portal/keys/new/") and erins_keys(gw) == []
    screens.shoot("erin-form-refuses-budget")

    refused = post_new_key(page, name="scripted", budget_tokens="5000")
    assert refused.status == 200 and "At most 1000 under your policy." in refused.text()
    assert erins_keys(gw) == []

    page.goto("/portal/keys/new/")
    page.fill("#id_name", "erin laptop")
    page.fill("#id_budget_tokens", "800")
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("#issued-secret")
    screens.shoot("erin-key-issued")
    secret = page.inner_text("#issued-secret").strip()
    assert re.fullmatch(r"sk-proxy-[\w-]{43}", secret)
    assert page.inner_text("#setup-line") == f"ANTHROPIC_BASE_URL={gw.url} ANTHROPIC_API_KEY={secret} claude"
    page.click("button[data-copy=setup-line]")
    assert page.evaluate("navigator.clipboard.readText()") == page.inner_text("#setup-line")
    [key] = erins_keys(gw)
    assert (key["name"], key["budget_tokens"], key["prefix"]) == ("erin laptop", 800, secret[:15])
    page.goto("/portal/")
    assert secret not in page.content()  # shown once
    return secret


def use_key_and_see_usage(page, screens: Screens, gw: Gateway, fake_upstream, secret: str) -> None:
    fake_upstream.script(Text("Hello Erin.", prompt_tokens=30, completion_tokens=12))
    with anthropic.Anthropic(base_url=gw.url, api_key=secret, max_retries=0, timeout=30) as sdk:
        message = sdk.messages.create(
            model="claude-portal-1", max_tokens=64, messages=[{"role": "user", "content": "Hi"}]
        )
    assert [b.text for b in message.content] == ["Hello Erin."]
    [row] = gw.usage_rows(request_id=message._request_id)
    assert (row["username"], row["input_tokens"], row["output_tokens"]) == ("erin@example.test", 30, 12)
    page.goto("/portal/usage/")
    screens.shoot("erin-usage")
    assert page.inner_text("#usage-totals").startswith("1 requests (0 errors), 42 tokens")
    assert "claude-portal-1" in page.inner_text("#usage-per-model")
    page.goto("/portal/")
    assert "758 of 800 (month)" in page.inner_text("#keys")


def check_max_keys(page, screens: Screens, gw: Gateway) -> None:
    page.goto("/portal/")
    assert "1 active keys, the most your policy allows" in page.inner_text("#create-refused")
    assert page.locator("#new-key").count() == 0
    screens.shoot("erin-max-keys")
    refused = post_new_key(page, name="second", budget_tokens="100")
    assert refused.status == 403
    assert len(erins_keys(gw)) == 1


def check_frank_cannot_touch(page, screens: Screens, gw: Gateway, key_id: int) -> None:
    sign_in_with_sso(page, screens, FRANK)
    [frank] = gw.query(
        "SELECT g.name FROM auth_user u JOIN auth_user_groups ug ON ug.user_id = u.id "
        "JOIN auth_group g ON g.id = ug.group_id WHERE u.username = 'frank@example.test'"
    )
    assert frank["name"] == "team-beta"
    assert "erin laptop" not in page.inner_text("#keys")
    response = page.goto(f"/portal/keys/{key_id}/")
    assert response.status == 404
    screens.shoot("frank-404-on-erins-key")
    token = page.context.cookies()
    csrf = next(c["value"] for c in token if c["name"] == "csrftoken")
    revoke = page.request.post(f"/portal/keys/{key_id}/revoke/", headers={"X-CSRFToken": csrf}, max_redirects=0)
    assert revoke.status == 404
    usage = page.request.get(f"/portal/usage/?key={key_id}")
    assert "42 tokens" not in usage.text()
    assert erins_keys(gw)[0]["revoked_at"] is None


def test_a_developer_signs_in_through_sso_gets_a_key_within_policy_uses_it_and_others_cannot_touch_it(
    pages, sso_gateway, fake_upstream
):
    open_page, folder = pages
    erin = open_page()
    screens = folder["screens"]
    with screens.on_failure():
        sign_in_with_sso(erin, screens, ERIN)
        groups = sso_gateway.query(
            "SELECT g.name FROM auth_user u JOIN auth_user_groups ug ON ug.user_id = u.id "
            "JOIN auth_group g ON g.id = ug.group_id WHERE u.username = 'erin@example.test'"
        )
        assert groups == [{"name": "team-alpha"}]
        secret = create_key_within_policy(erin, screens, sso_gateway)
        use_key_and_see_usage(erin, screens, sso_gateway, fake_upstream, secret)
        check_max_keys(erin, screens, sso_gateway)
        [key] = erins_keys(sso_gateway)
        check_frank_cannot_touch(open_page(), screens, sso_gateway, key["id"])

        screens.page = erin
        erin.goto("/portal/")
        erin.once("dialog", lambda dialog: dialog.accept())
        erin.click(f"#key-{key['id']} button")
        erin.wait_for_selector(f"#key-{key['id']}.revoked")
        screens.shoot("erin-key-revoked")
        assert erins_keys(sso_gateway)[0]["revoked_at"] is not None
        audit = sso_gateway.query("SELECT change_message FROM django_admin_log WHERE object_id = ?", str(key["id"]))
        assert [a["change_message"] for a in audit] == [
            "Issued in the portal from 127.0.0.1.",
            "Revoked in the portal from 127.0.0.1.",
        ]


def test_the_setup_line_the_portal_shows_pasted_as_is_makes_claude_code_answer(
    pages,
    sso_gateway,
    fake_upstream,
    claude_bin,
    tmp_path,
):
    """Frank's team has no policy: he creates a key, pastes the line into a shell and asks one question."""
    open_page, folder = pages
    frank = open_page()
    screens = folder["screens"]
    with screens.on_failure():
        sign_in_with_sso(frank, screens, FRANK)
        frank.goto("/portal/keys/new/")
        frank.fill("#id_name", "frank terminal")
        frank.click("#key-form button[type=submit]")
        line = frank.inner_text("#setup-line")
        screens.shoot("frank-key-issued")
    fake_upstream.script(Text("Answered through the portal's key.", model=BIG))
    (tmp_path / "home").mkdir()
    env = {
        "PATH": f"{claude_bin.parent}:{os.environ['PATH']}",
        "HOME": str(tmp_path / "home"),
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    result = subprocess.run(
        ["bash", "-c", f"{line} -p 'Who answers?'"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert "Answered through the portal's key." in result.stdout
    rows = sso_gateway.usage_rows(username="frank@example.test", upstream_model=BIG)
    assert [(r["key_prefix"], r["status"]) for r in rows][:1] == [(line.split("ANTHROPIC_API_KEY=")[1][:15], 200)]
