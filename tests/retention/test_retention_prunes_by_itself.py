"""USAGE_RETENTION_DAYS: the usage writer deletes raw rows older than the setting by itself, at most
once an hour per host (the host's workers share a stamp file), leaving the rollups as they were."""

from __future__ import annotations

import datetime as dt
import fcntl

import pytest
import time_machine

from api.accounting.usage import UsageRecord, writer
from routing import retention
from routing.models import UsageLog
from tests.factories import make_usage
from tests.rollups.sums import rollup_table

NOW = dt.datetime(2026, 3, 20, 12, 0, tzinfo=dt.UTC)
AGES = {
    "req_40d": dt.timedelta(days=40),
    "req_30d1s": dt.timedelta(days=30, seconds=1),
    "req_29d": dt.timedelta(days=29),
}


@pytest.fixture
def setup(settings, tmp_path):
    settings.USAGE_RETENTION_DAYS = 30
    settings.STATE_DIR = tmp_path
    with time_machine.travel(NOW, tick=False) as clock:
        for request_id, age in AGES.items():
            make_usage(request_id=request_id, created_at=NOW - age, input_tokens=5)
        yield clock


def kept() -> list[str]:
    return sorted(UsageLog.objects.values_list("request_id", flat=True))


@pytest.mark.django_db
def test_it_deletes_rows_older_than_the_setting_and_leaves_the_rollups(setup):
    before = rollup_table()
    assert retention.prune_if_due() == 2
    assert kept() == ["req_29d"]
    assert rollup_table() == before


@pytest.mark.django_db
def test_with_retention_off_it_deletes_nothing(setup, settings):
    settings.USAGE_RETENTION_DAYS = 0
    assert retention.prune_if_due() is None
    assert kept() == sorted(AGES)


@pytest.mark.django_db
def test_it_runs_at_most_once_an_hour_on_a_host(setup):
    clock = setup
    assert retention.prune_if_due() == 2
    make_usage(request_id="req_late", created_at=NOW - dt.timedelta(days=31))

    clock.shift(dt.timedelta(minutes=59))
    assert retention.prune_if_due() is None
    assert "req_late" in kept()

    clock.shift(dt.timedelta(minutes=2))
    assert retention.prune_if_due() == 1
    assert kept() == ["req_29d"]


@pytest.mark.django_db
def test_a_worker_finding_another_one_pruning_skips(setup, tmp_path):
    with open(tmp_path / "retention.stamp", "a+") as other:
        fcntl.flock(other, fcntl.LOCK_EX)
        assert retention.prune_if_due() is None
    assert len(kept()) == 3


@pytest.mark.django_db(transaction=True)
def test_the_usage_writer_applies_it_after_a_batch(setup):
    writer.record(UsageRecord(request_id="req_now", created_at=NOW))
    assert writer.flush(10.0)
    assert kept() == ["req_29d", "req_now"]
