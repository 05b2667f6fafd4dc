"""The admin on a large usage log: seed PostgreSQL with N rows, then time each page, the export, the
API summary and a cold budget read, next to the raw-log query the same page ran before rollups.

    make bench-usage [BENCH_ROWS=10000000]     (PostgreSQL from scripts/ci_services.sh)
    DATABASE_URL=postgres://... .venv/bin/python -m bench.usage_scale --rows 2000000

Seeds rows whose request ids start with `bench_` in one INSERT ... SELECT generate_series, runs
`rebuild_usage_rollups`, measures, and deletes its rows again (rollups rebuilt) unless --keep.
Bounded: --rows is capped at 10 million. PostgreSQL only (the rows are made by SQL).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Callable

import django

ROW_CAP = 10_000_000
DAYS = 90
USERS = 200

SEED_SQL = """
INSERT INTO routing_usagelog (created_at, request_id, key_id, user_id, user_agent, endpoint, requested_model,
    provider_id, provider_name, upstream_model, stream, status, error_type, error_message, input_tokens,
    output_tokens, cache_read_tokens, cache_creation_tokens, estimated, latency_ms, attempts, request_body,
    response_body, cost_estimated)
SELECT now() - (n * %(spacing)s) * interval '1 second', 'bench_' || n, keys[1 + n %% %(users)s],
    users[1 + n %% %(users)s], 'claude-cli/2.0', 'messages',
    (ARRAY['claude-opus-4-8', 'claude-sonnet-4-5', 'claude-haiku-4-5'])[1 + n %% 3], %(provider)s, 'bench',
    'gpt-4o', n %% 2 = 0, CASE WHEN n %% 50 = 0 THEN 429 WHEN n %% 97 = 0 THEN 502 ELSE 200 END, '', '',
    n %% 5000, n %% 700, n %% 20000, 0, false, 300 + n %% 3000, 1, '', '', false
FROM generate_series(1, %(rows)s) AS n,
    (SELECT array_agg(id ORDER BY id) AS keys, array_agg(user_id ORDER BY id) AS users
     FROM routing_proxykey WHERE name = 'bench') AS k
"""


def timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def seed(rows: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from routing import keys
    from routing.models import Provider, ProxyKey

    provider, _ = Provider.objects.get_or_create(name="bench", defaults={"base_url": "http://bench.invalid/v1"})
    for n in range(USERS):
        user, _ = get_user_model().objects.get_or_create(username=f"bench{n:03d}")
        if not ProxyKey.objects.filter(user=user, name="bench").exists():
            new = keys.make_key()
            ProxyKey.objects.create(user=user, name="bench", prefix=new.prefix, secret_hash=new.digest)
    with connection.cursor() as cursor:
        spacing = DAYS * 86400 / rows  # seconds between rows: the newest now, the oldest DAYS ago
        cursor.execute(SEED_SQL, {"rows": rows, "spacing": spacing, "users": USERS, "provider": provider.pk})
        cursor.execute("ANALYZE routing_usagelog")


def pages(client, key_id: int, username: str) -> dict[str, Callable[[], object]]:
    """Each page as an admin opens it (the body read to its end; the export to its first chunk)."""

    def get(url: str) -> Callable[[], object]:
        def fetch():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            return response.content if not response.streaming else next(iter(response.streaming_content))

        return fetch

    base = "/admin/routing/usagelog/"
    return {
        "usage list (last 7 days, the default)": get(base),
        "usage list, any time (estimated count)": get(base + "?period=any"),
        "usage list, 4xx filter": get(base + "?status_class=4"),
        "search request id": get(base + "?q=bench_12345"),
        "search username": get(base + f"?q={username}"),
        "summary 30 days": get(base + "summary/?days=30"),
        "summary 90 days": get(base + "summary/?days=90"),
        "key page": get(f"/admin/routing/proxykey/{key_id}/change/"),
        "API summary by user": get("/api/v1/usage/summary/?group_by=user"),
        "CSV export, first chunk": get(base + "export.csv"),
        "JSON lines export, first chunk": get(base + "export.jsonl"),
    }


def before(key_id: int, username: str) -> dict[str, Callable[[], object]]:
    """The raw-log queries those pages ran before rollups (the changelist's DISTINCT filter choices,
    its LIKE search, the summary's and the budget's sums over the log)."""
    from datetime import timedelta

    from django.db.models import Count, Q, Sum
    from django.utils import timezone

    from routing.models import UsageLog

    log = UsageLog.objects.order_by()
    like = Q(request_id__icontains=username) | Q(requested_model__icontains=username)
    like |= Q(upstream_model__icontains=username) | Q(user__username__icontains=username)
    return {
        "usage list filter choices (3 DISTINCT)": lambda: [
            list(log.values_list(f, flat=True).distinct()) for f in ("status", "provider_name", "requested_model")
        ],
        "search username (LIKE)": lambda: list(log.filter(like | Q(key__prefix__icontains=username))[:100]),
        "summary 30 days": lambda: list(
            log.filter(created_at__gte=timezone.now() - timedelta(days=30))
            .values("user__username")
            .annotate(n=Count("id"), t=Sum("input_tokens"))
        ),
        "budget cold read (total)": lambda: log.filter(key_id=key_id).aggregate(t=Sum("input_tokens")),
    }


def cold_budget_reads(key_ids: list[int]) -> list[float]:
    """Seconds each of many keys' cold budget reads took when all start at once, as the API path runs
    them (limits._seed_budgets: sync_to_async in the default thread pool)."""
    from asgiref.sync import sync_to_async

    from routing.periods import period_of
    from routing.spend_stats import used_in_period

    async def one(key_id: int) -> float:
        start = time.perf_counter()
        await sync_to_async(used_in_period, thread_sensitive=False)("key", key_id, period_of("month"), False)
        return time.perf_counter() - start

    async def together() -> list[float]:
        return sorted(await asyncio.gather(*(one(k) for k in key_ids)))

    return asyncio.run(together())


def run(rows: int, keep: bool) -> None:
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from routing.models import ProxyKey, UsageLog
    from routing.periods import period_of
    from routing.spend_stats import used_in_period

    if connection.vendor != "postgresql":
        raise SystemExit("bench.usage_scale seeds with PostgreSQL's generate_series: set DATABASE_URL")
    call_command("migrate", verbosity=0)
    print(f"seeding {rows} rows: {timed(lambda: seed(rows)):.1f} s")
    print(f"rebuild_usage_rollups: {timed(lambda: call_command('rebuild_usage_rollups')):.1f} s")
    key = ProxyKey.objects.filter(name="bench").first()
    client = Client()
    client.force_login(get_admin())
    print(f"\n| page ({rows} rows) | cold s | warm s |\n|---|---|---|")
    for name, call in pages(client, key.pk, key.user.username).items():
        print(f"| {name} | {timed(call):.3f} | {timed(call):.3f} |")
    cold = timed(lambda: used_in_period("key", key.pk, period_of("total"), False))
    print(f"| budget cold read (rollups) | {cold:.4f} | |")
    waits = cold_budget_reads(list(ProxyKey.objects.filter(name="bench").values_list("pk", flat=True)))
    print(f"| {len(waits)} cold budget reads at once: p50 / max | {waits[len(waits) // 2]:.3f} | {waits[-1]:.3f} |")
    print("\n| before: the raw-log query | s |\n|---|---|")
    for name, call in before(key.pk, key.user.username).items():
        print(f"| {name} | {timed(call):.3f} |")
    if not keep:
        deleted = timed(lambda: UsageLog.objects.filter(request_id__startswith="bench_").delete())
        call_command("rebuild_usage_rollups")
        print(f"\nremoved the bench rows: {deleted:.1f} s")


def get_admin():
    from django.contrib.auth import get_user_model

    admin, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    return admin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the seeded rows")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proxy_site.settings")
    django.setup()
    run(min(args.rows, ROW_CAP), args.keep)


if __name__ == "__main__":
    main()
