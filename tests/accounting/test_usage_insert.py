"""The batch insert under replay: a request id already written is skipped (request ids are unique),
and a row naming a key deleted meanwhile is still written, without the link."""

from __future__ import annotations

import pytest
from django.db import IntegrityError

from api.accounting.usage import UsageRecord, _insert
from routing.models import UsageLog
from tests.factories import make_key

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_request_id_already_written_is_skipped_without_failing_the_batch():
    _insert([UsageRecord("req_1", status=200, output_tokens=5)])
    _insert([UsageRecord("req_1", status=500, output_tokens=99), UsageRecord("req_2", status=429)])

    assert list(UsageLog.objects.order_by("request_id").values_list("request_id", "status", "output_tokens")) == [
        ("req_1", 200, 5),
        ("req_2", 429, 0),
    ]


def test_a_row_naming_a_deleted_key_loses_the_link_while_a_duplicate_beside_it_is_skipped():
    key, _ = make_key()
    _insert([UsageRecord("req_dup", key_id=key.id, user_id=key.user_id)])
    gone = key.id + 1000

    _insert(
        [
            UsageRecord("req_dup", key_id=key.id, status=500),
            UsageRecord("req_orphan", key_id=gone, user_id=key.user_id),
            UsageRecord("req_fine", key_id=key.id, user_id=key.user_id),
        ]
    )

    rows = {r.request_id: (r.key_id, r.user_id, r.status) for r in UsageLog.objects.all()}
    assert rows == {
        "req_dup": (key.id, key.user_id, 200),
        "req_orphan": (None, None, 200),
        "req_fine": (key.id, key.user_id, 200),
    }


def test_the_database_refuses_a_second_row_with_the_same_request_id():
    UsageLog.objects.create(request_id="req_1")
    with pytest.raises(IntegrityError):
        UsageLog.objects.create(request_id="req_1")
