"""`groups[].budget`, `alert_at` and `users[].budget`: set as the file says; a group or user the file
names without a budget has none (the file says what is); one it does not name keeps its own."""

from decimal import Decimal

import pytest

from routing.models import TeamBudget, UserBudget
from tests.config.conftest import EXAMPLE, apply, database_state
from tests.factories import make_user

pytestmark = pytest.mark.django_db

BUDGETS = EXAMPLE.replace(
    "  - name: team-red\n",
    "  - name: team-red\n    budget: {usd: 500, period: month}\n    alert_at: [1.0, 0.5, 0.8]\n",
).replace(
    "    staff: true\n",
    "    staff: true\n    budget: {tokens: 1000000, usd: 12.5, period: week}\n    alert_at: [0.9]\n",
)


def _budget(model, **owner) -> tuple:
    return model.objects.filter(**owner).values_list("usd", "tokens", "period", "alert_at").get()


def test_team_and_user_budgets_are_set_with_their_alert_levels(config_file, secrets_env):
    output = apply(config_file(BUDGETS))

    assert "  budget of group team-red: created" in output.splitlines()
    assert "  budget of user bob: created" in output.splitlines()
    assert _budget(TeamBudget, group__name="team-red") == (Decimal("500"), None, "month", [0.5, 0.8, 1.0])
    assert _budget(UserBudget, user__username="bob") == (Decimal("12.5"), 1000000, "week", [0.9])
    assert not UserBudget.objects.filter(user__username="alice").exists()


def test_a_second_apply_changes_nothing(config_file, secrets_env):
    path = config_file(BUDGETS)
    apply(path)
    before = database_state()

    assert apply(path).strip() == "no changes"
    assert database_state() == before


def test_a_changed_budget_is_updated_in_place(config_file, secrets_env):
    apply(config_file(BUDGETS))
    row = TeamBudget.objects.get().pk

    output = apply(config_file(BUDGETS.replace("usd: 500", "usd: 750")))

    assert output.splitlines()[1:] == ["  budget of group team-red: changed"]
    assert TeamBudget.objects.get().pk == row and TeamBudget.objects.get().usd == Decimal("750")


def test_a_named_group_or_user_without_a_budget_has_its_budget_removed(config_file, secrets_env):
    apply(config_file(BUDGETS))

    output = apply(config_file(EXAMPLE))

    assert output.splitlines()[1:] == ["  budget of group team-red: removed", "  budget of user bob: removed"]
    assert not TeamBudget.objects.exists() and not UserBudget.objects.exists()


def test_a_user_the_file_does_not_name_keeps_the_budget_the_admin_gave(config_file, secrets_env):
    carol = make_user(username="carol")
    UserBudget.objects.create(user=carol, usd=Decimal(5), alert_at=[0.5])

    apply(config_file(BUDGETS), "--prune")

    assert _budget(UserBudget, user=carol) == (Decimal("5.00"), None, "month", [0.5])
