"""Retention: prune_usage deletes rows older than N days and keeps the rest."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from routing.models import UsageLog
from tests.factories import make_usage

pytestmark = pytest.mark.django_db


def test_it_deletes_only_rows_older_than_the_cutoff(capsys):
    now = timezone.now()
    for n, age in enumerate((40, 31, 29, 0)):
        make_usage(request_id=f"req_{n}", created_at=now - timedelta(days=age))
    call_command("prune_usage", "--days", "30", "--batch", "1")
    assert sorted(UsageLog.objects.values_list("request_id", flat=True)) == ["req_2", "req_3"]
    assert "Deleted 2 usage rows" in capsys.readouterr().out


def test_it_refuses_a_zero_day_window():
    with pytest.raises(CommandError):
        call_command("prune_usage", "--days", "0")
