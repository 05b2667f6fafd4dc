"""Spend in money for the admin and the management API: who and what spent how much, per day, and what
is left of each budget. Costs are summed from the usage rows' `cost_usd` (unpriced rows add nothing and
are counted apart)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from routing.models import RouteTarget, UsageLog
from routing.periods import Period, period_of
from routing.prices import MICRO, load_price_table
from routing.snapshot import usable_connection

ZERO = Decimal(0)
SPEND = {
    "cost": Coalesce(Sum("cost_usd"), ZERO),
    "requests": Count("id"),
    "unpriced": Count("id", filter=Q(cost_usd__isnull=True, endpoint="messages", status__lt=400)),
}
GROUPINGS = {
    "user": "user__username",
    "team": "user__groups__name",
    "model": "upstream_model",
    "provider": "provider_name",
}


def spend_by(rows: QuerySet[UsageLog], grouping: str) -> list[dict]:
    """Cost, requests and unpriced requests per user, team, model or provider, dearest first (a user in
    two teams counts in each)."""
    field = GROUPINGS[grouping]
    found = rows.values(field).annotate(**SPEND).order_by("-cost", field)
    return [{"name": r[field], **{k: r[k] for k in SPEND}} for r in found]


def spend_per_day(rows: QuerySet[UsageLog], days: int) -> list[tuple[date, Decimal]]:
    """The cost of each calendar day of the window (the server's zone), zeros included, oldest first."""
    found = dict(
        rows.annotate(day=TruncDate("created_at")).values("day").annotate(cost=SPEND["cost"]).values_list("day", "cost")
    )
    today = timezone.localdate()
    return [(d, Decimal(found.get(d, ZERO))) for d in (today - timedelta(days=n) for n in range(days - 1, -1, -1))]


def owner_rows(scope: str, owner_id: int) -> QuerySet[UsageLog]:
    """The rows a budget counts: a key's, a user's (every key), a team's (every current member's)."""
    if scope == "key":
        return UsageLog.objects.filter(key_id=owner_id)
    if scope == "user":
        return UsageLog.objects.filter(user_id=owner_id)
    return UsageLog.objects.filter(user__groups=owner_id)


@usable_connection
def used_in_period(scope: str, owner_id: int, period: Period, money: bool) -> int:
    """What the usage log says a budget has used in `period`: tokens, or micro-dollars of cost."""
    rows = owner_rows(scope, owner_id)
    if period.start is not None:
        rows = rows.filter(created_at__gte=period.start)
    if money:
        return int(Decimal(rows.aggregate(usd=SPEND["cost"])["usd"]) / MICRO)
    total = rows.aggregate(
        n=Coalesce(Sum("input_tokens"), 0)
        + Coalesce(Sum("output_tokens"), 0)
        + Coalesce(Sum("cache_read_tokens"), 0)
        + Coalesce(Sum("cache_creation_tokens"), 0)
    )
    return int(total["n"])


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
