"""The usage writer keeps daily rollups equal to the sums over the raw rows, in the batch's own
transaction, whatever the batch holds: several users, keys, days and statuses, a key deleted
meanwhile, a request id written before. `rebuild_usage_rollups` computes the same table from the log."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command

from api.accounting.usage import UsageRecord, _insert
from routing.models import UsageRollup
from tests.factories import make_key, make_provider, make_route, make_user
from tests.rollups.sums import log_sums, rollup_table

pytestmark = pytest.mark.django_db(transaction=True)

NOON = dt.datetime(2026, 3, 14, 12, 0, tzinfo=dt.UTC)


def mixed_traffic(n: int = 300) -> list[UsageRecord]:
    """Rows over three days, two users with two keys, one provider and route, four statuses."""
    provider = make_provider()
    route = make_route(provider)
    keys = [make_key(make_user(username=name))[0] for name in ("ann", "bob")]
    keys.append(make_key(keys[0].user)[0])
    records = []
    for n_row in range(n):
        key = keys[n_row % len(keys)]
        records.append(
            UsageRecord(
                f"req_{n_row}",
                created_at=NOON + dt.timedelta(hours=7 * (n_row % 9)),
                key_id=key.id,
                user_id=key.user_id,
                route_id=route.id,
                provider_id=provider.id,
                requested_model=("claude-opus-4-8", "claude-haiku-4-5")[n_row % 2],
                upstream_model="gpt-4o",
                status=(200, 200, 429, 502)[n_row % 4],
                input_tokens=n_row,
                output_tokens=2 * n_row,
                cache_read_tokens=n_row % 7,
                cache_creation_tokens=n_row % 5,
            )
        )
    return records


def test_rollups_equal_the_sums_over_the_rows_after_mixed_batches():
    records = mixed_traffic()
    for start in range(0, len(records), 64):
        _insert(records[start : start + 64])

    table = rollup_table()
    assert table == log_sums()
    assert sum(sums[0] for sums in table.values()) == 300
    assert sum(sums[1] for sums in table.values()) == 150, "429s and 502s are errors"
    assert {key[0] for key in table} == {dt.date(2026, 3, 14), dt.date(2026, 3, 15), dt.date(2026, 3, 16)}


def test_rows_skipped_as_written_before_add_nothing_and_the_rest_of_their_batch_still_adds():
    records = mixed_traffic(40)
    _insert(records[:30])
    _insert(records[20:])  # ten written before, ten new

    assert rollup_table() == log_sums()
    assert sum(sums[0] for sums in rollup_table().values()) == 40


def test_a_row_whose_key_was_deleted_meanwhile_counts_under_no_key():
    key, _ = make_key()
    _insert([UsageRecord("req_orphan", key_id=key.id + 999, user_id=key.user_id, output_tokens=11)])

    (row,) = UsageRollup.objects.all()
    assert (row.key_id, row.user_id, row.requests, row.output_tokens) == (0, 0, 1, 11)
    assert rollup_table() == log_sums()


def test_the_day_is_the_local_date_in_the_servers_time_zone(settings):
    settings.TIME_ZONE = "Pacific/Auckland"  # UTC+13 in March: 12:00 UTC is already the next day there
    _insert([UsageRecord("req_late", created_at=NOON)])
    assert UsageRollup.objects.get().day == dt.date(2026, 3, 15)


def test_rebuilding_from_the_log_gives_the_same_table_and_since_keeps_earlier_days(settings):
    _insert(mixed_traffic())
    kept = rollup_table()
    UsageRollup.objects.filter(day__gte=dt.date(2026, 3, 15)).update(requests=0)
    UsageRollup.objects.filter(day=dt.date(2026, 3, 14)).update(errors=12345)

    call_command("rebuild_usage_rollups", "--since", "2026-03-15")
    rebuilt = rollup_table()
    assert {k: v for k, v in rebuilt.items() if k[0] > dt.date(2026, 3, 14)} == {
        k: v for k, v in kept.items() if k[0] > dt.date(2026, 3, 14)
    }
    assert all(v[1] == 12345 for k, v in rebuilt.items() if k[0] == dt.date(2026, 3, 14)), "before --since: kept"

    call_command("rebuild_usage_rollups")
    assert rollup_table() == kept == log_sums()
