"""Her spend in USD beside her tokens, and her budgets (keys', her own, her teams') with what is left;
never another user's spend or budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Group

from routing.spend import TeamBudget, UserBudget
from tests.factories import make_key, make_usage
from tests.portal.conftest import person

pytestmark = pytest.mark.django_db
NOW = datetime(2031, 3, 15, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def team(alice):
    group = Group.objects.create(name="platform")
    alice.groups.add(group)
    TeamBudget.objects.create(group=group, usd=Decimal("50"), period="month")
    return group


@pytest.fixture
def spending(alice, team):
    """Alice spends $1.25 with her laptop key (sonnet, yesterday) and $0.50 with her ci key (haiku, 3
    days ago); a teammate spends $10 (the team's budget counts it); a stranger spends $7.77."""
    laptop, _ = make_key(alice, name="laptop", budget_usd=Decimal("2.00"), budget_period="day")
    ci, _ = make_key(alice, name="ci", budget_tokens=1000, budget_period="month")
    mate = person("bob")
    mate.groups.add(team)
    stranger = person("mallory")
    secret_key, _ = make_key(stranger, name="mallory-secret-key", budget_usd=Decimal("99.00"))
    UserBudget.objects.create(user=stranger, usd=Decimal("123.45"), period="week")
    for n, (key, user, model, tokens, cost, age) in enumerate(
        [
            (laptop, alice, "sonnet", 100, "1.25", 0),
            (ci, alice, "haiku", 20, "0.50", 3),
            (make_key(mate)[0], mate, "sonnet", 5, "10.00", 1),
            (secret_key, stranger, "opus", 9, "7.77", 1),
        ]
    ):
        make_usage(
            request_id=f"r{n}",
            key=key,
            user=user,
            requested_model=model,
            input_tokens=tokens,
            cost_usd=Decimal(cost),
            created_at=NOW - timedelta(days=age),
        )
    return laptop, ci


def row_of(html: str, table: str, first_cell: str) -> list[str]:
    """The cells of the row of table `table` whose first cell starts with `first_cell`."""
    body = html[html.index(f'<table id="{table}">') :]
    body = body[: body.index("</table>")]
    for row in body.split("<tr")[2:]:
        cells = [c.split("</td>")[0].strip() for c in row.split("<td>")[1:]]
        if cells and cells[0].startswith(first_cell):
            return cells
    raise AssertionError(f"no row {first_cell!r} in {table}")


def test_her_usage_page_shows_spend_per_key_model_day_and_in_total(alice_client, spending):
    html = alice_client.get("/portal/usage/").content.decode()

    assert "$1.75 spent in the last 30 days." in html
    assert row_of(html, "usage-per-key", "laptop")[-1] == "1.25"
    assert row_of(html, "usage-per-key", "ci")[-1] == "0.50"
    assert row_of(html, "usage-per-model", "sonnet")[-1] == "1.25"
    assert row_of(html, "usage-per-day", "2031-03-12") == ["2031-03-12", "1", "20", "0.50"]


def test_the_spend_follows_the_key_filter(alice_client, spending):
    _, ci = spending

    html = alice_client.get(f"/portal/usage/?key={ci.pk}").content.decode()

    assert "$0.50 spent in the last 30 days." in html


def test_her_budgets_show_what_is_left_and_when_it_resets(alice_client, alice, spending):
    UserBudget.objects.create(user=alice, usd=Decimal("5.00"), tokens=500, period="week")

    html = alice_client.get("/portal/usage/").content.decode()

    laptop = row_of(html, "budgets", "Key: laptop")
    assert laptop[1:] == ["day", "$1.25", "$0.75 of $2.00", "100", "no limit", "2031-03-16 00:00"]
    ci = row_of(html, "budgets", "Key: ci")
    assert ci[1:] == ["month", "$0.50", "no limit", "20", "980 of 1000", "2031-04-01 00:00"]
    # 2031-03-15 is a Saturday: the week began on Monday the 10th, so both of her requests count.
    mine = ["week", "$1.75", "$3.25 of $5.00", "120", "380 of 500", "2031-03-17 00:00"]
    assert row_of(html, "budgets", "User: You")[1:] == mine
    assert row_of(html, "budgets", "Team: platform")[1:4] == ["month", "$11.75", "$38.25 of $50.00"]


def test_another_users_spend_and_budgets_never_appear(alice_client, spending):
    html = alice_client.get("/portal/usage/?days=90").content.decode()

    for stranger_only in ("7.77", "mallory", "99.00", "123.45", "opus", "10.00"):
        assert stranger_only not in html
    assert "$1.75 spent in the last 90 days." in html


def test_another_users_key_cannot_be_chosen_to_see_its_spend(alice_client, spending):
    from routing.models import ProxyKey

    theirs = ProxyKey.objects.get(name="mallory-secret-key")

    html = alice_client.get(f"/portal/usage/?key={theirs.pk}").content.decode()

    assert "7.77" not in html
    assert "$1.75 spent in the last 30 days." in html  # an invalid filter shows her own, unfiltered
