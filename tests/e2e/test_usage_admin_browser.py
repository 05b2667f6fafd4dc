"""The usage admin on a seeded log, as a team admin tries it in real headless Chromium: the list (last
7 days by default), a filter, a search, the summary page and both exports (downloaded through the
list's plain GET links, keeping its filters). Screenshots in `test-artifacts/usage/`."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.e2e.test_admin_browser import (  # noqa: F401  (the browser fixture)
    REPO,
    Screens,
    browser,
    create_superuser,
    log_in,
    visit,
)

pytestmark = pytest.mark.e2e
ARTIFACTS = REPO / "test-artifacts" / "usage"
ROWS, USERS = 3000, 10
WHO = "seed-user-3"
# Rows n = 0..ROWS-1, two minutes apart back from now (about 4 days): user n % USERS, 429 when n % 3 == 0.
THEIRS = ROWS // USERS
THEIR_429 = len([n for n in range(ROWS) if n % USERS == 3 and n % 3 == 0])
SEED = f"""
from datetime import timedelta
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone
from routing.models import UsageLog
users = [User.objects.get_or_create(username=f"seed-user-{{n}}")[0] for n in range({USERS})]
now = timezone.now()
UsageLog.objects.bulk_create(
    UsageLog(request_id=f"req_seed{{n:05d}}", created_at=now - timedelta(minutes=2 * n), user=users[n % {USERS}],
             requested_model="claude-seed", provider_name="seed", upstream_model="gpt-seed",
             status=429 if n % 3 == 0 else 200, error_type="rate_limit_error" if n % 3 == 0 else "",
             input_tokens=10, output_tokens=n % 7)
    for n in range({ROWS})
)
call_command("rebuild_usage_rollups")
"""


@pytest.fixture
def usage_admin(browser, gateway):  # noqa: F811
    create_superuser(gateway)
    if not gateway.query("SELECT id FROM routing_usagelog WHERE request_id = 'req_seed00000'"):
        gateway.manage("shell", "-c", SEED)
    context = browser.new_context(base_url=gateway.url, viewport={"width": 1920, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page, Screens(page, ARTIFACTS)
    finally:
        context.close()


def follow(page, link: str) -> None:
    with page.expect_navigation():
        page.click(link)


def counted(page) -> str:
    return page.inner_text("#changelist-search, #changelist-form .paginator")


def see_list_and_filter(page, screens: Screens) -> None:
    visit(page, "/admin/routing/usagelog/")
    assert page.inner_text("#changelist-filter li.selected >> nth=0") == "Last 7 days"
    assert page.locator("#result_list tbody tr").count() == 100  # a page of rows, newest first
    screens.shoot("usage-list")
    follow(page, "#changelist-filter a:text-is('4xx client error')")
    assert "status_class=4" in page.url
    statuses = page.locator("#result_list tbody td.field-status_badge").all_inner_texts()
    assert statuses and all(s.startswith("4") for s in statuses)
    screens.shoot("usage-filter-4xx")


def search(page, screens: Screens) -> None:
    page.fill("#searchbar", WHO)
    with page.expect_navigation():
        page.press("#searchbar", "Enter")
    assert "status_class=4" in page.url and f"q={WHO}" in page.url
    assert f"{THEIR_429} results" in counted(page)
    users = page.locator("#result_list tbody td.field-user").all_inner_texts()
    assert set(users) == {WHO}
    screens.shoot("usage-search")


def download(page, link: str) -> str:
    with page.expect_download() as wanted:
        page.click(link)
    return open(wanted.value.path(), encoding="utf-8").read()


def export_both(page) -> None:
    """The exports of the filtered, searched list: the same rows in CSV and in JSON lines."""
    rows = list(csv.DictReader(io.StringIO(download(page, "text=Export CSV"))))
    assert len(rows) == THEIR_429
    assert {(r["user__username"], r["status"]) for r in rows} == {(WHO, "429")}
    lines = [json.loads(line) for line in download(page, "text=Export JSON lines").splitlines()]
    assert [r["request_id"] for r in lines] == [r["request_id"] for r in rows]


def see_summary(page, screens: Screens) -> None:
    follow(page, "text=Summary")
    assert page.url.endswith("/admin/routing/usagelog/summary/")
    row = page.locator("#usage-per-user tr", has_text=WHO).locator("td").all_inner_texts()
    assert row[:4] == [WHO, str(THEIRS), str(THEIR_429), str(10 * THEIRS)]
    screens.shoot("usage-summary")


def test_an_admin_lists_filters_searches_summarises_and_exports_a_seeded_log(usage_admin):
    page, screens = usage_admin
    with screens.on_failure():
        log_in(page, screens)
        see_list_and_filter(page, screens)
        search(page, screens)
        export_both(page)
        see_summary(page, screens)
