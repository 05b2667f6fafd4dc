"""The usage log keeps only indexes its queries use (migration 0011): every insert of the usage writer
pays for each one."""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def indexes() -> dict[str, list[str]]:
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, "routing_usagelog")
    return {name: info["columns"] for name, info in found.items() if info["index"] and not info["unique"]}


def test_the_redundant_key_user_and_like_indexes_are_gone():
    kept = indexes()
    assert ["key_id"] not in kept.values() and ["user_id"] not in kept.values()
    assert not [name for name in kept if name.endswith("_like")]


def test_the_indexes_the_list_filters_and_retention_use_stay():
    kept = indexes()
    assert kept["usage_time"] == ["created_at"]
    assert kept["usage_key_time"] == ["key_id", "created_at"]
    assert kept["usage_user_time"] == ["user_id", "created_at"]
    assert kept["usage_model_time"] == ["requested_model", "created_at"]
    assert kept["usage_status_time"] == ["status", "created_at"]
    assert {("provider_id",), ("route_id",), ("target_id",)} <= {tuple(c) for c in kept.values()}, "SET NULL on delete"
