"""Her budgets and what is left of each: her keys', her own (UserBudget) and her teams' (TeamBudget).

Only budgets that count her spending are read: her own keys, her user row, the groups she is in."""

from __future__ import annotations

from dataclasses import dataclass

from portal.policy import active_keys
from routing.spend import TeamBudget, UserBudget
from routing.spend_stats import BudgetStatus, budget_status


@dataclass(frozen=True)
class Budget:
    kind: str
    name: str
    status: BudgetStatus


def budgets_of(user) -> list[Budget]:
    """Each of her active keys (with or without a budget), then her user budget, then her teams'."""
    found = [
        Budget("key", f"{key.name or '(unnamed)'} ({key.prefix}…)", key_status(key))
        for key in active_keys(user).order_by("name", "id")
    ]
    mine = UserBudget.objects.filter(user=user).first()
    if mine is not None:
        found.append(Budget("user", "You", _status("user", user.pk, mine)))
    teams = TeamBudget.objects.filter(group__in=user.groups.all()).select_related("group").order_by("group__name")
    found += [Budget("team", team.group.name, _status("team", team.group_id, team)) for team in teams]
    return found


def key_status(key) -> BudgetStatus:
    return budget_status("key", key.pk, key.budget_usd, key.budget_tokens, key.budget_period)


def _status(scope: str, owner_id: int, budget) -> BudgetStatus:
    return budget_status(scope, owner_id, budget.usd, budget.tokens, budget.period)
