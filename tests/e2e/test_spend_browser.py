"""Spend in real headless Chromium, against the live gateway and the fake upstream: the admin sets a
price, a request made with a team member's key shows its cost in the usage list, and the spend page
shows the team's spend and what is left of its budget. Screenshots in `test-artifacts/spend/`."""

from __future__ import annotations

import time

import anthropic
import pytest

from tests.e2e.servers import SMALL, Gateway
from tests.e2e.test_admin_browser import (  # noqa: F401  (the browser fixture)
    REPO,
    Screens,
    browser,
    cache_seconds,
    create_superuser,
    log_in,
    save,
    visit,
)
from tests.fakes.openai_upstream import Text

pytestmark = pytest.mark.e2e
ARTIFACTS = REPO / "test-artifacts" / "spend"
MEMBER, TEAM, CLIENT_MODEL = "erin-spend", "team-spend", "claude-haiku-spend"
SETUP = f"""
from decimal import Decimal
from django.contrib.auth.models import Group, User
from routing.models import TeamBudget
team = Group.objects.create(name={TEAM!r})
TeamBudget.objects.create(group=team, usd=Decimal("10.00"), period="month")
User.objects.get(username={MEMBER!r}).groups.add(team)
"""


@pytest.fixture
def spend_admin(browser, gateway):  # noqa: F811
    create_superuser(gateway)
    context = browser.new_context(base_url=gateway.url, viewport={"width": 1920, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        yield page, Screens(page, ARTIFACTS)
    finally:
        context.close()


def set_price(page, screens: Screens) -> None:
    """$20,000 / $100,000 per million input / output tokens on the env provider's small model."""
    visit(page, "/admin/routing/price/add/")
    page.select_option("#id_provider", label="env")
    page.fill("#id_model", SMALL)
    page.fill("#id_input", "20000")
    page.fill("#id_output", "100000")
    screens.shoot("price-add")
    save(page)
    assert page.url.endswith("/admin/routing/price/")
    row = page.locator("#result_list tr", has_text=SMALL).locator("td, th").all_inner_texts()
    assert row[1:7] == ["env", SMALL, "20000.000000", "100000.000000", "-", "-"]
    warning = page.locator(".messagelist .warning").inner_text()
    assert "env/fake-middle" in warning and f"env/{SMALL}" not in warning
    screens.shoot("price-list")


def request_and_see_cost(page, screens: Screens, gateway: Gateway, fake_upstream, secret: str) -> None:
    fake_upstream.script(Text("Priced.", model=SMALL, prompt_tokens=21, completion_tokens=7))
    message = ask_model(gateway, secret)
    [row] = gateway.usage_rows(request_id=message._request_id)
    assert row["cost_usd"] is not None and float(row["cost_usd"]) == pytest.approx(1.12)  # 21 x 0.02 + 7 x 0.1
    visit(page, "/admin/routing/usagelog/")
    page.fill("#searchbar", MEMBER)
    with page.expect_navigation():
        page.press("#searchbar", "Enter")
    screens.shoot("usage-with-cost")
    cells = page.locator("#result_list tbody tr").first.locator("td, th").all_inner_texts()
    assert "1.120000" in cells


def ask_model(gateway: Gateway, secret: str) -> anthropic.types.Message:
    with anthropic.Anthropic(base_url=gateway.url, api_key=secret, max_retries=0, timeout=30) as sdk:
        return sdk.messages.create(model=CLIENT_MODEL, max_tokens=16, messages=[{"role": "user", "content": "hi"}])


def see_team_spend(page, screens: Screens) -> None:
    visit(page, "/admin/routing/price/spend/?days=7")
    screens.shoot("spend-summary")
    row = page.locator("#spend-team-budgets tr", has_text=TEAM).locator("td").all_inner_texts()
    assert row == [TEAM, "month", "$1.12", "$10.00", "$8.88"]
    per_user = page.locator("#spend-per-user tr", has_text=MEMBER).locator("td").all_inner_texts()
    assert per_user[:2] == [MEMBER, "$1.120000"]


def test_a_price_set_in_the_browser_costs_a_request_and_the_team_sees_its_budget(spend_admin, gateway, fake_upstream):
    page, screens = spend_admin
    secret = gateway.issue_key(MEMBER)
    gateway.manage("shell", "-c", SETUP)
    with screens.on_failure():
        log_in(page, screens)
        set_price(page, screens)
        time.sleep(cache_seconds(gateway) + 0.5)  # every worker drops its cached prices and keys
        request_and_see_cost(page, screens, gateway, fake_upstream, secret)
        see_team_spend(page, screens)
