"""The functions apply_config calls: a price from a date (older dated prices kept), a user's or team's
budget created or replaced, with the admin's validation."""

from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError

from routing.models import Price, TeamBudget, UserBudget
from routing.spend_setup import clear_budget, set_budget, set_price
from tests.factories import make_provider, make_user

pytestmark = pytest.mark.django_db


def test_set_price_updates_the_same_day_and_keeps_older_days():
    provider = make_provider()
    set_price(provider, "gpt-5", date(2027, 1, 1), input=Decimal("1.25"), output=Decimal("10"))
    set_price(provider, "gpt-5", date(2027, 6, 1), input=Decimal("1"))
    set_price(provider, "gpt-5", date(2027, 6, 1), input=Decimal("2"), cache_read=Decimal("0.2"))
    rows = list(Price.objects.order_by("effective_from").values_list("effective_from", "input", "output", "cache_read"))
    assert rows == [
        (date(2027, 1, 1), Decimal("1.25"), Decimal("10"), None),
        (date(2027, 6, 1), Decimal("2"), None, Decimal("0.2")),
    ]


def test_set_price_refuses_a_negative_rate_and_unknown_fields():
    provider = make_provider()
    with pytest.raises(ValidationError):
        set_price(provider, "gpt-5", input=Decimal("-1"))
    with pytest.raises(ValueError, match="unknown price fields: inptu"):
        set_price(provider, "gpt-5", inptu=Decimal("1"))
    assert not Price.objects.exists()


def test_set_budget_creates_and_replaces_a_users_and_a_teams_budget():
    alice, team = make_user(), Group.objects.create(name="team-red")
    set_budget(alice, usd=Decimal("50"), period="month", alert_at=[0.8, 0.5])
    set_budget(alice, tokens=1000, period="week")
    set_budget(team, usd=Decimal("500"), alert_at=[0.5, 0.8, 1.0])
    assert UserBudget.objects.values_list("usd", "tokens", "period", "alert_at").get() == (None, 1000, "week", [])
    assert TeamBudget.objects.values_list("usd", "period", "alert_at").get() == (
        Decimal("500"),
        "month",
        [0.5, 0.8, 1.0],
    )
    with pytest.raises(ValidationError):
        set_budget(team, usd=Decimal("5"), alert_at=[1.5])
    clear_budget(alice)
    assert not UserBudget.objects.exists() and TeamBudget.objects.get().usd == Decimal("500")
