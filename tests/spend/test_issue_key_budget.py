"""`issue_key --budget-usd N --budget-period P` issues a key with a spend budget; a bad amount is refused."""

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from routing.models import ProxyKey

pytestmark = pytest.mark.django_db


def test_issue_key_sets_a_budget_in_usd_and_its_period(capsys):
    call_command("issue_key", "dana", "--budget-usd", "12.50", "--budget-period", "week")
    key = ProxyKey.objects.get(user__username="dana")
    assert (key.budget_usd, key.budget_period, key.budget_tokens) == (Decimal("12.50"), "week", None)
    assert capsys.readouterr().out.strip().startswith(key.prefix)


@pytest.mark.parametrize("amount", ["-1", "abc", "0.001", "NaN"])
def test_issue_key_refuses_an_amount_that_is_not_dollars_and_cents(amount):
    with pytest.raises(CommandError):
        call_command("issue_key", "dana", "--budget-usd", amount)
    assert not ProxyKey.objects.exists()
