"""A thousand priced rows through the usage writer: each keeps its cost exactly, and the log's sum (what
budgets and summaries read) equals the sum of the rows' costs to the micro-dollar."""

import random
from decimal import Decimal

import pytest
from django.db.models import Sum

from api.accounting.costs import price_record
from api.accounting.usage import UsageRecord, writer
from routing.models import Price, UsageLog
from routing.prices import load_price_table
from tests.factories import make_provider

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_sum_over_a_thousand_rows_equals_the_sum_of_their_costs():
    provider = make_provider(base_url="http://10.0.0.5/v1")
    Price.objects.create(
        provider=provider, model="m", input="0.15", output="0.6", cache_read="0.075", cache_write="0.1875"
    )
    table = load_price_table()
    draw = random.Random(14)
    records = []
    for n in range(1000):
        record = UsageRecord(f"req_{n}", provider_id=provider.id, upstream_model="m")
        record.set_tokens(
            {
                "input_tokens": draw.randrange(0, 200_000),
                "output_tokens": draw.randrange(0, 8_000),
                "cache_read_input_tokens": draw.randrange(0, 50_000),
                "cache_creation_input_tokens": draw.randrange(0, 9_999),
            },
            estimated=False,
        )
        price_record(record, table)
        records.append(record)
        writer.record(record)
    assert writer.flush(30.0)

    stored = dict(UsageLog.objects.values_list("request_id", "cost_usd"))
    assert stored == {r.request_id: r.cost_usd for r in records}
    expected = sum(r.cost_usd for r in records)
    assert expected > Decimal(10)  # a sum with many micro-dollar fractions, not a round figure
    assert UsageLog.objects.aggregate(total=Sum("cost_usd"))["total"] == expected
