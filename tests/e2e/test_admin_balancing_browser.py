"""A team admin, in real headless Chromium, gives a route a second deployment through the targets inline,
then watches that deployment's health after an outage: clients saw no error, the provider page shows
its circuit open with the failures, the last error and the cool-down, and the route page shows each
target's share of the last hour. Screenshots in `test-artifacts/balancing/NN-name.png`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import anthropic
import pytest

from tests.e2e.servers import REPO, Gateway
from tests.e2e.test_admin_browser import Screens, browser, cache_seconds, create_superuser, log_in, save, visit
from tests.fakes.openai_upstream import FakeUpstream

pytestmark = pytest.mark.e2e
__all__ = ["browser"]  # the Chromium fixture, shared with the admin's whole round

ARTIFACTS = REPO / "test-artifacts" / "balancing"
SECOND = "browser-second"
PATTERN, MODEL = "*balance*", "claude-balance-1"


@pytest.fixture
def screen(browser, gateway) -> Iterator[tuple[object, Screens]]:
    create_superuser(gateway)
    context = browser.new_context(base_url=gateway.url, viewport={"width": 1920, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        yield page, Screens(page, ARTIFACTS)
    finally:
        context.close()


def add_provider(page, screens: Screens, base_url: str) -> None:
    visit(page, "/admin/routing/provider/add/")
    page.fill("#id_name", SECOND)
    page.select_option("#id_profile", "openai")
    page.fill("#id_base_url", base_url)
    page.fill("#id_api_key", "sk-second-deployment-1234")
    save(page)
    screens.shoot("second-provider-added")


def add_route_with_one_target(page, screens: Screens) -> None:
    visit(page, "/admin/routing/modelroute/add/")
    page.fill("#id_pattern", PATTERN)
    page.fill("#id_priority", "2")
    page.select_option("#id_targets-0-provider", label="env")
    page.fill("#id_targets-0-model", "gpt-first")
    save(page)
    screens.shoot("route-with-one-target")


def add_second_target_inline(page, screens: Screens) -> None:
    page.click(f"#result_list a:text-is('{PATTERN.strip('*')}')")
    page.wait_for_load_state()
    page.click("#targets-group .add-row a")
    page.select_option("#id_targets-1-provider", label=SECOND)
    page.fill("#id_targets-1-model", "gpt-second")
    page.fill("#id_targets-1-position", "1")
    screens.shoot("route-second-target-inline")
    save(page)
    assert "gpt-second" in page.locator("#result_list tr", has_text=PATTERN).inner_text()
    screens.shoot("route-list-two-targets")


def ask(gateway: Gateway, key: str, conversation: int) -> None:
    with anthropic.Anthropic(base_url=gateway.url, api_key=key, max_retries=0, timeout=30) as sdk:
        sdk.messages.create(
            model=MODEL,
            max_tokens=32,
            metadata={"user_id": f"user_browser_account__session_{conversation}"},
            messages=[{"role": "user", "content": "hello"}],
        )


def check_targets_stored(gateway: Gateway) -> None:
    [route] = gateway.query("SELECT id FROM routing_modelroute WHERE pattern = ?", PATTERN)
    targets = gateway.query(
        "SELECT p.name, t.model FROM routing_routetarget t JOIN routing_provider p ON p.id = t.provider_id"
        " WHERE t.route_id = ? ORDER BY t.position",
        route["id"],
    )
    assert [(t["name"], t["model"]) for t in targets] == [("env", "gpt-first"), (SECOND, "gpt-second")]


def see_health_after_the_outage(page, screens: Screens) -> None:
    visit(page, "/admin/routing/provider/")
    assert "open" in page.locator("#result_list tr", has_text=SECOND).locator(".field-health_state").inner_text()
    screens.shoot("provider-list-health")
    page.click(f"#result_list a:text-is('{SECOND}')")
    page.wait_for_load_state()
    health = page.inner_text(".field-health .readonly")
    # Three open it; another worker may try once more before its next read of the shared circuits (1 s).
    assert re.match(r"open\nfailures in the last 60 s: [3-6]\n", health), health
    assert "last error: could not connect to the upstream provider at 20" in health and "cooling until: 20" in health
    screens.shoot("provider-health-open")


def test_a_second_target_added_inline_fails_over_and_its_outage_shows_on_the_provider_page(
    screen, gateway, fake_upstream
):
    page, screens = screen
    with FakeUpstream().running() as second, screens.on_failure():
        log_in(page, screens)
        add_provider(page, screens, second.base_url)
        add_route_with_one_target(page, screens)
        add_second_target_inline(page, screens)
        check_targets_stored(gateway)
        saved = time.monotonic()
    # The second deployment is now offline. Once every worker has the new route, clients see no error.
    with screens.on_failure():
        key = gateway.issue_key("balance-user")
        time.sleep(max(0.0, saved + cache_seconds(gateway) + 0.5 - time.monotonic()))
        for conversation in range(30):
            ask(gateway, key, conversation)
        assert len(fake_upstream.chat_requests(model="gpt-first")) == 30
        see_health_after_the_outage(page, screens)
        visit(page, "/admin/routing/modelroute/")
        page.click(f"#result_list a:text-is('{PATTERN.strip('*')}')")
        page.wait_for_load_state()
        shares = page.locator("#targets-group tr.has_original .field-share_last_hour").all_inner_texts()
        assert shares == ["100% (30 of 30)", "0% (0 of 30)"]
        screens.shoot("route-target-shares")
