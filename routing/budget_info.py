"""The budgets a key's requests count toward, as the key cache holds them (no model instances)."""

from __future__ import annotations

from dataclasses import dataclass

from routing.prices import micros


@dataclass(frozen=True, slots=True)
class BudgetInfo:
    """One budget a key's requests count toward: the key's own, its user's, or a team's."""

    scope: str
    """key | user | team"""
    owner_id: int
    owner: str
    """The key's prefix, the username or the group's name, as messages and alerts name it."""
    period: str
    usd_micros: int | None
    tokens: int | None
    alert_at: tuple[float, ...] = ()
    email: str = ""
    """The user's address (user budgets), for alerts."""


def budgets_of(key) -> tuple[BudgetInfo, ...]:
    """The key's budgets with a limit: its own, its user's and each of its user's teams'."""
    from routing.models import TeamBudget, UserBudget

    found = []
    if key.budget_tokens or key.budget_usd is not None:
        found.append(
            BudgetInfo("key", key.id, key.prefix, key.budget_period, _micros(key.budget_usd), key.budget_tokens)
        )
    for budget in UserBudget.objects.filter(user_id=key.user_id):
        found.append(_budget_info(budget, "user", key.user_id, key.user.get_username(), key.user.email))
    for budget in TeamBudget.objects.filter(group__user=key.user_id).select_related("group"):
        found.append(_budget_info(budget, "team", budget.group_id, budget.group.name))
    return tuple(b for b in found if b.usd_micros is not None or b.tokens)


def _budget_info(budget, scope: str, owner_id: int, owner: str, email: str = "") -> BudgetInfo:
    alert_at = tuple(float(f) for f in budget.alert_at or ())
    return BudgetInfo(scope, owner_id, owner, budget.period, _micros(budget.usd), budget.tokens, alert_at, email)


def _micros(usd) -> int | None:
    return None if usd is None else micros(usd)
