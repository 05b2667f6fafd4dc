"""Where spend shows: the management API's usage rows and summaries (each caller sees only their own),
the admin's spend page per user, team, model and provider with a per-day chart and what is left of each
team budget, key pages, the usage list and its CSV, and warnings about models without a price."""

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.test import Client

from routing.models import Price, TeamBudget
from tests.factories import make_key, make_provider, make_route, make_usage, make_user

pytestmark = pytest.mark.django_db
NOW = datetime(2027, 3, 20, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def spend():
    """alice and bob in team-red ($10 a month), carol alone; rows on two days with known costs."""
    team = Group.objects.create(name="team-red")
    TeamBudget.objects.create(group=team, usd=Decimal("10.00"), period="month")
    people = {name: make_user(username=name, is_staff=False) for name in ("alice", "bob", "carol")}
    for name in ("alice", "bob"):
        people[name].groups.add(team)
    rows = [
        ("alice", "openai-main", "gpt-4o", Decimal("1.250000"), 0),
        ("alice", "openai-main", "gpt-4o", Decimal("0.000001"), 1),
        ("bob", "claude", "claude-x", Decimal("2.500000"), 0),
        ("carol", "claude", "claude-x", Decimal("4.000000"), 0),
        ("carol", "claude", "claude-x", None, 0),  # unpriced
    ]
    providers = {name: make_provider(name=name) for name in ("openai-main", "claude")}
    for n, (name, provider, model, cost, days_ago) in enumerate(rows):
        key = people[name].proxy_keys.first() or make_key(people[name])[0]
        make_usage(
            request_id=f"req_{n}",
            user=people[name],
            key=key,
            provider=providers[provider],
            provider_name=provider,
            upstream_model=model,
            requested_model=model,
            cost_usd=cost,
            created_at=NOW - timedelta(days=days_ago),
        )
    return people


@pytest.fixture
def staff_client(client):
    client.force_login(make_user(username="root", is_staff=True, is_superuser=True))
    return client


def _text(response) -> str:
    return " ".join(response.content.decode().split())


def _table(html: str, table_id: str) -> str:
    start = html.index(f'id="{table_id}"')
    return html[start : html.index("</table>", start)]


def test_the_spend_page_sums_per_user_team_model_and_provider_and_shows_team_budgets(spend, staff_client):
    page = staff_client.get("/admin/routing/price/spend/?days=7")
    html = _text(page)
    assert page.status_code == 200
    assert '<span id="spend-total">$7.75</span>' in html
    per_user = _table(html, "spend-per-user")
    assert "<td>carol</td><td>$4.000000</td><td>2</td><td>1</td>" in per_user
    assert "<td>alice</td><td>$1.250001</td><td>2</td><td>0</td>" in per_user
    assert "<td>team-red</td><td>$3.750001</td><td>3</td><td>0</td>" in _table(html, "spend-per-team")
    assert "<td>claude-x</td><td>$6.500000</td><td>3</td><td>1</td>" in _table(html, "spend-per-model")
    assert "<td>openai-main</td><td>$1.250001</td>" in _table(html, "spend-per-provider")
    budgets = _table(html, "spend-team-budgets")
    assert "<td>team-red</td><td>month</td><td>$3.75</td> <td>$10.00</td> <td>$6.25</td>" in budgets
    assert html.count("<rect ") == 7


def test_the_spend_page_is_for_those_who_may_read_usage(spend):
    client = Client()
    client.force_login(make_user(username="clerk", is_staff=True))
    assert client.get("/admin/routing/price/spend/").status_code == 403


def test_the_usage_list_and_its_csv_carry_the_cost(spend, staff_client):
    listing = _text(staff_client.get("/admin/routing/usagelog/"))
    assert "4.000000" in listing and "unpriced" in listing
    response = staff_client.get("/admin/routing/usagelog/export.csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    costs = {r["request_id"]: r["cost_usd"] for r in rows}
    assert costs == {"req_0": "1.250000", "req_1": "0.000001", "req_2": "2.500000", "req_3": "4.000000", "req_4": ""}


def test_a_key_page_shows_its_spend_and_what_is_left(spend, staff_client):
    key, _ = make_key(spend["bob"], budget_usd=Decimal("5.00"), budget_period="month")
    make_usage(request_id="req_key", user=spend["bob"], key=key, cost_usd=Decimal("1.10"))
    page = _text(staff_client.get(f"/admin/routing/proxykey/{key.pk}/change/"))
    assert "$3.90 of $5.00 left this month ($1.10 spent)" in page


def test_the_management_api_carries_costs_and_each_user_sees_only_their_own(spend, staff_client):
    rows = staff_client.get("/api/v1/usage/").json()["results"]
    assert {r["request_id"]: r["cost_usd"] for r in rows}["req_3"] == "4.000000"
    summary = staff_client.get("/api/v1/usage/summary/?group_by=user").json()
    assert {r["username"]: r["cost_usd"] for r in summary["results"]} == {
        "alice": "1.250001",
        "bob": "2.500000",
        "carol": "4.000000",
    }
    assert summary["totals"]["cost_usd"] == "7.750001"
    own = Client()
    own.force_login(spend["carol"])
    mine = own.get("/api/v1/usage/summary/?group_by=user").json()
    assert [r["username"] for r in mine["results"]] == ["carol"] and mine["totals"]["cost_usd"] == "4.000000"


def test_unpriced_route_targets_are_named_on_the_prices_page_and_their_route(staff_client):
    provider = make_provider(base_url="http://10.0.0.5/v1")
    route = make_route(provider, pattern="*llama*", target_model="my-llama")
    priced = make_route(provider, pattern="*mini*", target_model="mini")
    Price.objects.create(provider=provider, model="mini", input="0.1", output="0.2")
    prices = _text(staff_client.get("/admin/routing/price/"))
    warning = "Route targets without a price (their requests have no cost): openai-main/my-llama</li>"
    assert warning in prices
    assert "No price for openai-main/my-llama" in _text(
        staff_client.get(f"/admin/routing/modelroute/{route.pk}/change/")
    )
    assert "No price for" not in _text(staff_client.get(f"/admin/routing/modelroute/{priced.pk}/change/"))


def test_a_team_budgets_page_shows_its_spend_and_what_is_left(spend, staff_client):
    budget = TeamBudget.objects.get()
    page = _text(staff_client.get(f"/admin/routing/teambudget/{budget.pk}/change/"))
    assert "$6.25 of $10.00 left this month ($3.75 spent)" in page
    listing = _text(staff_client.get("/admin/routing/teambudget/"))
    assert "$6.25 of $10.00 left this month" in listing
