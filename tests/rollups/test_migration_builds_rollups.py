"""The migration that introduces rollups builds them for the rows already in the log."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.apps import apps

from routing.models import UsageLog, UsageRollup
from tests.rollups.sums import log_sums, rollup_table

pytestmark = pytest.mark.django_db

migration = importlib.import_module("routing.migrations.0010_rollups_usage_rollup")


def test_the_data_migration_rolls_up_the_existing_log():
    when = dt.datetime(2026, 3, 14, 12, 0, tzinfo=dt.UTC)
    UsageLog.objects.bulk_create(
        UsageLog(
            request_id=f"req_{n}", created_at=when - dt.timedelta(days=n % 3), status=(200, 502)[n % 2], output_tokens=n
        )
        for n in range(30)
    )
    assert not UsageRollup.objects.exists()

    migration.build_rollups(apps, None)

    assert rollup_table() == log_sums() and len(rollup_table()) == 6
