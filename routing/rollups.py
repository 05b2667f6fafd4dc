"""Daily usage rollups: kept by the usage writer as it inserts rows, rebuilt from the log on demand.

A rollup's day is the row's local date in the server's TIME_ZONE, the zone budget periods use
(routing/periods.py), so a period's usage is the sum of its days' rollups.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, F, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

KEY = (
    "day",
    "user_id",
    "key_id",
    "route_id",
    "target_id",
    "provider_id",
    "requested_model",
    "upstream_model",
    "status_class",
)
SUMS = ("requests", "errors", "unpriced", "input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")
TOKEN_SUMS = SUMS[3:]


def status_class(status: int) -> int:
    return status // 100


def _key_of(row) -> tuple:
    return (
        timezone.localdate(row.created_at),
        row.user_id or 0,
        row.key_id or 0,
        row.route_id or 0,
        getattr(row, "target_id", None) or 0,
        row.provider_id or 0,
        row.requested_model,
        row.upstream_model,
        status_class(row.status),
    )


def is_unpriced(row) -> bool:
    """A served message with no cost: its model has no price (refusals and errors cost nothing)."""
    return row.cost_usd is None and row.endpoint == "messages" and row.status < 400


UNPRICED = Q(cost_usd__isnull=True, endpoint="messages", status__lt=400)


def fold(rows: Iterable) -> dict[tuple, list]:
    """The rows' sums per rollup key: [requests, errors, unpriced, four token counts, cost or None]."""
    folded: dict[tuple, list] = {}
    for row in rows:
        sums = folded.setdefault(_key_of(row), [0, 0, 0, 0, 0, 0, 0, None])
        sums[0] += 1
        sums[1] += row.status >= 400
        sums[2] += is_unpriced(row)
        sums[3] += row.input_tokens
        sums[4] += row.output_tokens
        sums[5] += row.cache_read_tokens
        sums[6] += row.cache_creation_tokens
        if row.cost_usd is not None:
            sums[7] = (sums[7] or Decimal(0)) + Decimal(row.cost_usd)
    return folded


@functools.cache
def _upsert_statement() -> str:
    from routing.models import UsageRollup

    quote = connection.ops.quote_name
    table = quote(UsageRollup._meta.db_table)
    columns = [*KEY, *SUMS, "cost_usd"]
    added = [f"{quote(c)} = {table}.{quote(c)} + excluded.{quote(c)}" for c in SUMS]
    cost = quote("cost_usd")
    added.append(f"{cost} = COALESCE({table}.{cost} + excluded.{cost}, {table}.{cost}, excluded.{cost})")
    return "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}".format(
        table,
        ", ".join(quote(c) for c in columns),
        ", ".join(["%s"] * len(columns)),
        ", ".join(quote(c) for c in KEY),
        ", ".join(added),
    )


def add(cursor, rows: Iterable) -> None:
    """Add the rows just inserted to their rollups, in the caller's transaction. Keys in one order,
    so two writers adding to the same rollups wait for each other instead of deadlocking."""
    ops = connection.ops
    values = [
        [ops.adapt_datefield_value(key[0]), *key[1:], *sums[:7], ops.adapt_decimalfield_value(sums[7], 18, 8)]
        for key, sums in sorted(fold(rows).items())
    ]
    if values:
        cursor.executemany(_upsert_statement(), values)


def total_tokens(within: Q | None = None):
    """The four token counts summed (over the rollups `within` selects): what budgets count."""
    return functools.reduce(operator.add, [Coalesce(Sum(name, filter=within), 0) for name in TOKEN_SUMS])


TOTAL_TOKENS = total_tokens()


def used(scope: str, owner_id: int, since: date | None, *, money: bool) -> int | Decimal:
    """What a key, a user (every key) or a team (every current member) used from the local day `since`
    on (ever, when None): tokens, or USD. One indexed read over the rollups, however large the log."""
    from django.contrib.auth import get_user_model

    from routing.models import UsageRollup

    if scope == "team":
        rows = UsageRollup.objects.filter(user_id__in=get_user_model().objects.filter(groups=owner_id).values("id"))
    else:
        rows = UsageRollup.objects.filter(**{"key_id" if scope == "key" else "user_id": owner_id})
    if since is not None:
        rows = rows.filter(day__gte=since)
    if money:
        return rows.aggregate(usd=Coalesce(Sum("cost_usd"), Value(Decimal(0))))["usd"]
    return int(rows.aggregate(n=TOTAL_TOKENS)["n"])


def _grouped(usage_model, since: date | None):
    """The log's sums per rollup key, from the database (one GROUP BY)."""
    rows = usage_model.objects.all()
    if since is not None:
        start = timezone.make_aware(datetime.combine(since, datetime.min.time()))
        rows = rows.filter(created_at__gte=start)
    return (
        rows.order_by()
        .values(
            day=TruncDate("created_at"),
            user_ref=Coalesce(F("user_id"), Value(0)),
            key_ref=Coalesce(F("key_id"), Value(0)),
            route_ref=Coalesce(F("route_id"), Value(0)),
            target_ref=Coalesce(F("target_id"), Value(0)),
            provider_ref=Coalesce(F("provider_id"), Value(0)),
            requested=F("requested_model"),
            upstream=F("upstream_model"),
            klass=F("status") / 100,
        )
        .annotate(
            n=Count("id"),
            failed=Count("id", filter=Q(status__gte=400)),
            unpriced_count=Count("id", filter=UNPRICED),
            **{f"sum_{name}": Coalesce(Sum(name), 0) for name in TOKEN_SUMS},
            cost=Sum("cost_usd"),
        )
    )


def rebuild(since: date | None = None, *, usage_model=None, rollup_model=None, chunk: int = 5000) -> int:
    """Recompute the rollups of `since` (a local day) and later, or all of them, from the log; the
    number of rollup rows written. The rollup table is locked meanwhile (PostgreSQL), so the usage
    writer's additions wait and then add to the rebuilt rows: nothing is counted twice or lost.
    The models are parameters so a migration can pass its historical ones."""
    from routing.models import UsageLog, UsageRollup

    usage_model, rollup_model = usage_model or UsageLog, rollup_model or UsageRollup
    written = 0
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {connection.ops.quote_name(rollup_model._meta.db_table)} IN EXCLUSIVE MODE")
        stale = rollup_model.objects.all() if since is None else rollup_model.objects.filter(day__gte=since)
        stale.delete()
        batch = []
        for group in _grouped(usage_model, since).iterator(chunk_size=chunk):
            batch.append(_rollup_of(rollup_model, group))
            if len(batch) >= chunk:
                written += len(rollup_model.objects.bulk_create(batch))
                batch = []
        written += len(rollup_model.objects.bulk_create(batch))
    return written


def _rollup_of(rollup_model, group: dict):
    return rollup_model(
        day=group["day"],
        user_id=group["user_ref"],
        key_id=group["key_ref"],
        route_id=group["route_ref"],
        target_id=group["target_ref"],
        provider_id=group["provider_ref"],
        requested_model=group["requested"],
        upstream_model=group["upstream"],
        status_class=group["klass"],
        requests=group["n"],
        errors=group["failed"],
        unpriced=group["unpriced_count"],
        **{name: group[f"sum_{name}"] for name in TOKEN_SUMS},
        cost_usd=group["cost"],
    )
