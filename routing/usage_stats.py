"""Usage aggregates for the admin's summary page and a key's remaining budget."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from routing.models import ProxyKey, RouteTarget, UsageLog
from routing.periods import period_of

TOTAL_TOKENS = (
    Coalesce(Sum("input_tokens"), 0)
    + Coalesce(Sum("output_tokens"), 0)
    + Coalesce(Sum("cache_read_tokens"), 0)
    + Coalesce(Sum("cache_creation_tokens"), 0)
)
TOTALS = {
    "requests": Count("id"),
    "errors": Count("id", filter=Q(status__gte=400)),
    # Named apart from the model's fields: an annotation may not shadow the column it sums.
    "input": Coalesce(Sum("input_tokens"), 0),
    "output": Coalesce(Sum("output_tokens"), 0),
    "cache_read": Coalesce(Sum("cache_read_tokens"), 0),
    "cache_write": Coalesce(Sum("cache_creation_tokens"), 0),
    "tokens": TOTAL_TOKENS,
}


def since(days: int) -> QuerySet[UsageLog]:
    return UsageLog.objects.filter(created_at__gte=timezone.now() - timedelta(days=days))


def per_user(rows: QuerySet[UsageLog]) -> list[dict]:
    return list(rows.values("user__username").annotate(**TOTALS).order_by("-tokens"))


def per_day(rows: QuerySet[UsageLog], days: int) -> list[dict]:
    """One entry per calendar day of the window, zeros included, oldest first."""
    found = {r["day"]: r for r in rows.annotate(day=TruncDate("created_at")).values("day").annotate(**TOTALS)}
    today = timezone.localdate()
    empty = dict.fromkeys(TOTALS, 0)
    return [{"day": d, **found.get(d, empty)} for d in (today - timedelta(days=n) for n in range(days - 1, -1, -1))]


def totals(rows: QuerySet[UsageLog]) -> dict:
    return rows.aggregate(**TOTALS)


@dataclass(frozen=True)
class KeyUsage:
    tokens_to_date: int
    requests_to_date: int
    period_tokens: int
    remaining: int | None


def key_usage(key: ProxyKey) -> KeyUsage:
    everything = UsageLog.objects.filter(key=key).aggregate(tokens=TOTAL_TOKENS, requests=Count("id"))
    start = period_of(key.budget_period).start
    period = (
        everything["tokens"]
        if start is None
        else (UsageLog.objects.filter(key=key, created_at__gte=start).aggregate(tokens=TOTAL_TOKENS)["tokens"])
    )
    remaining = None if key.budget_tokens is None else max(key.budget_tokens - period, 0)
    return KeyUsage(everything["tokens"], everything["requests"], period, remaining)


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
