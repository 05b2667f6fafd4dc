"""Spend in money for the admin and the management API: who and what spent how much, per day, and what
is left of each budget. Costs are summed from the usage rows' `cost_usd` (unpriced rows add nothing and
are counted apart), from the daily rollups."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from routing import rollups
from routing.models import Provider, RouteTarget, UsageRollup
from routing.periods import Period, period_of
from routing.prices import MICRO, load_price_table
from routing.snapshot import usable_connection

ZERO = Decimal(0)
SPEND = {
    "cost": Coalesce(Sum("cost_usd"), ZERO),
    "requests": Coalesce(Sum("requests"), 0),
    "unpriced": Coalesce(Sum("unpriced"), 0),
}
"""Over daily rollups (routing/rollups.py), like every summary: never over the raw log."""
GROUPINGS = ("user", "team", "model", "provider")


def spend_by(rows: QuerySet[UsageRollup], grouping: str) -> list[dict]:
    """Cost, requests and unpriced requests per user, team, model or provider, dearest first (a user in
    two teams counts in each; a team counts its current members)."""
    field = {"user": "user_id", "team": "user_id", "model": "upstream_model", "provider": "provider_id"}[grouping]
    found = list(rows.order_by().values(field).annotate(**SPEND))
    if grouping == "team":
        found = _per_team(found)
    elif grouping in ("user", "provider"):
        model = get_user_model() if grouping == "user" else Provider
        names = dict(model.objects.filter(pk__in=[r[field] for r in found]).values_list("pk", _NAME[grouping]))
        found = [{**r, field: names.get(r[field], "")} for r in found]
    found.sort(key=lambda r: (-r["cost"], str(r[field])))
    return [{"name": r[field], **{k: r[k] for k in SPEND}} for r in found]


_NAME = {"user": "username", "provider": "name"}


def _per_team(per_user: list[dict]) -> list[dict]:
    teams: dict[str, dict] = {}
    members = get_user_model().groups.through.objects.filter(user_id__in=[r["user_id"] for r in per_user])
    team_of: dict[int, list[str]] = {}
    for user_id, team in members.values_list("user_id", "group__name"):
        team_of.setdefault(user_id, []).append(team)
    for row in per_user:
        for team in team_of.get(row["user_id"], [""]):
            sums = teams.setdefault(team, {"user_id": team, **dict.fromkeys(SPEND, 0)})
            for k in SPEND:
                sums[k] += row[k]
    return list(teams.values())


def spend_per_day(rows: QuerySet[UsageRollup], days: int) -> list[tuple[date, Decimal]]:
    """The cost of each calendar day of the window (the server's zone), zeros included, oldest first."""
    found = dict(rows.order_by().values("day").annotate(cost=SPEND["cost"]).values_list("day", "cost"))
    today = timezone.localdate()
    return [(d, Decimal(found.get(d, ZERO))) for d in (today - timedelta(days=n) for n in range(days - 1, -1, -1))]


@usable_connection
def used_in_period(scope: str, owner_id: int, period: Period, money: bool) -> int:
    """What a budget has used in `period` (tokens, or micro-dollars of cost), from the daily rollups:
    periods start at local midnight, so a period is whole rollup days."""
    since = None if period.start is None else timezone.localdate(period.start)
    spent = rollups.used(scope, owner_id, since, money=money)
    return int(Decimal(spent) / MICRO) if money else int(spent)


@dataclass(frozen=True)
class BudgetStatus:
    spent_usd: Decimal
    spent_tokens: int
    usd: Decimal | None
    tokens: int | None
    period: Period

    @property
    def left_usd(self) -> Decimal | None:
        return None if self.usd is None else max(self.usd - self.spent_usd, ZERO)

    @property
    def left_tokens(self) -> int | None:
        return None if self.tokens is None else max(self.tokens - self.spent_tokens, 0)

    def __str__(self) -> str:
        per = "in total" if self.period.start is None else f"this {self.period.kind}"
        parts = []
        if self.usd is not None:
            parts.append(f"${self.left_usd:.2f} of ${self.usd:.2f} left {per} (${self.spent_usd:.2f} spent)")
        if self.tokens is not None:
            parts.append(f"{self.left_tokens} of {self.tokens} tokens left {per}")
        return "; ".join(parts) or f"${self.spent_usd:.2f} spent {per}, no budget set"


def budget_status(scope: str, owner_id: int, usd: Decimal | None, tokens: int | None, period_kind: str) -> BudgetStatus:
    period = period_of(period_kind)
    spent = Decimal(used_in_period(scope, owner_id, period, True)) * MICRO
    return BudgetStatus(spent, used_in_period(scope, owner_id, period, False), usd, tokens, period)


def unpriced_targets() -> list[RouteTarget]:
    """Route targets whose model has no price today (neither the admin's nor the catalogue's)."""
    table = load_price_table()
    targets = RouteTarget.objects.select_related("provider", "route").order_by("provider__name", "model")
    return [t for t in targets if not table.is_priced(t.provider_id, t.model)]
