"""Usage aggregates for the admin's summary page and a key's remaining budget."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from routing.models import ProxyKey, RouteTarget, UsageLog, UsageRollup
from routing.periods import period_of
from routing.rollups import TOTAL_TOKENS, total_tokens

TOTALS = {
    "requests": Coalesce(Sum("requests"), 0),
    "errors": Coalesce(Sum("errors"), 0),
    # Named apart from the model's fields: an annotation may not shadow the column it sums.
    "input": Coalesce(Sum("input_tokens"), 0),
    "output": Coalesce(Sum("output_tokens"), 0),
    "cache_read": Coalesce(Sum("cache_read_tokens"), 0),
    "cache_write": Coalesce(Sum("cache_creation_tokens"), 0),
    "tokens": TOTAL_TOKENS,
}
"""Aggregates over daily rollups (routing/rollups.py), never over the raw log."""


def window_days(asked: str | None, default: int = 30) -> int:
    """The summary pages' `?days=`: 1 to 366, the default when absent or not a number."""
    try:
        return min(max(int(asked if asked is not None else default), 1), 366)
    except ValueError:
        return default


def since(days: int) -> QuerySet[UsageRollup]:
    """The rollups of the last `days` local days, today included."""
    return UsageRollup.objects.filter(day__gte=timezone.localdate() - timedelta(days=days - 1))


def per_user(rows: QuerySet[UsageRollup]) -> list[dict]:
    """Totals per user, busiest first, each with `user__username` (empty: no user, or deleted)."""
    found = list(rows.order_by().values("user_id").annotate(**TOTALS).order_by("-tokens", "user_id"))
    names = dict(get_user_model().objects.filter(pk__in=[r["user_id"] for r in found]).values_list("pk", "username"))
    return [{**r, "user__username": names.get(r["user_id"], "")} for r in found]


def per_day(rows: QuerySet[UsageRollup], days: int, sums: dict = TOTALS) -> list[dict]:
    """One entry per calendar day of the window, zeros included, oldest first."""
    found = {r["day"]: r for r in rows.order_by().values("day").annotate(**sums)}
    today = timezone.localdate()
    empty = dict.fromkeys(sums, 0)
    return [{"day": d, **found.get(d, empty)} for d in (today - timedelta(days=n) for n in range(days - 1, -1, -1))]


def totals(rows: QuerySet[UsageRollup], sums: dict = TOTALS) -> dict:
    return rows.aggregate(**sums)


@dataclass(frozen=True)
class KeyUsage:
    tokens_to_date: int
    requests_to_date: int
    period_tokens: int
    remaining: int | None


def key_usage(key: ProxyKey) -> KeyUsage:
    """From the key's rollups: what pruning the log leaves untouched, in one indexed read."""
    start = period_of(key.budget_period).start
    first = None if start is None else timezone.localdate(start)
    in_period = Q() if first is None else Q(day__gte=first)
    found = UsageRollup.objects.filter(key_id=key.pk).aggregate(
        tokens=TOTAL_TOKENS,
        requests=Coalesce(Sum("requests"), 0),
        period=total_tokens(in_period),
    )
    remaining = None if key.budget_tokens is None else max(key.budget_tokens - found["period"], 0)
    return KeyUsage(found["tokens"], found["requests"], found["period"], remaining)


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    width: int
    height: int
    label: str
    value: int


def bars(points: list[tuple[date, int]], *, width: int = 720, height: int = 160) -> list[Bar]:
    """Geometry of a server-rendered SVG bar chart; the template draws it (no front-end build)."""
    if not points:
        return []
    peak = max(v for _, v in points) or 1
    slot = width // len(points)
    return [
        Bar(
            x=i * slot + 1,
            y=height - max(1, round(v / peak * (height - 2))) if v else height - 1,
            width=max(slot - 2, 1),
            height=max(1, round(v / peak * (height - 2))) if v else 1,
            label=d.isoformat(),
            value=v,
        )
        for i, (d, v) in enumerate(points)
    ]


def target_share(target: RouteTarget, *, hours: int = 1) -> str:
    """The target's share of its route's requests in the last `hours`, as the route page shows it."""
    rows = UsageLog.objects.filter(route_id=target.route_id, created_at__gte=timezone.now() - timedelta(hours=hours))
    counts = rows.aggregate(every=Count("id"), mine=Count("id", filter=Q(target_id=target.pk)))
    if not counts["every"]:
        return "no requests"
    return f"{100 * counts['mine'] / counts['every']:.0f}% ({counts['mine']} of {counts['every']})"
