"""A usage log spread over four months, read through the admin with the clock stopped."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from tests.factories import make_key, make_staff, make_usage

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)
AGES_DAYS = {"req_h2": 2 / 24, "req_d3": 3, "req_d10": 10, "req_d40": 40, "req_d120": 120}
"""Each row's request id and age in days."""


@pytest.fixture
def aged_log(db):
    """Rows of each age in AGES_DAYS (every other one a 429), for user alice; the clock stays at NOW."""
    key, _ = make_key()
    with time_machine.travel(NOW, tick=False):
        for n, (request_id, days) in enumerate(AGES_DAYS.items()):
            make_usage(
                request_id=request_id,
                created_at=NOW - dt.timedelta(days=days),
                key=key,
                user=key.user,
                status=(200, 429)[n % 2],
                requested_model="claude-=cmd",
                input_tokens=n,
                cost_usd="0.001500",
            )
        yield key


@pytest.fixture
def admin_client(client, aged_log):
    client.force_login(make_staff("root", is_superuser=True))
    return client
