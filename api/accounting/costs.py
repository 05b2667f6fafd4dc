"""A request's cost: its row's tokens at the price in force when it started (routing/prices.py).

Only the Messages endpoint is priced (count_tokens calls cost nothing upstream). Unpriced rows keep
`cost_usd = None`, never a zero; estimated tokens make an estimated cost.
"""

from __future__ import annotations

from django.http import HttpResponse

from api.accounting.usage import UsageRecord
from routing.prices import PriceTable, micros

PRICED_ENDPOINTS = frozenset({"messages"})
COST_HEADER = "x-gateway-cost-usd"


def price_record(record: UsageRecord, table: PriceTable | None) -> None:
    """Set the record's `cost_usd` and `cost_estimated` from its tokens (None when unpriced)."""
    rates = None
    if table is not None and record.endpoint in PRICED_ENDPOINTS:
        rates = table.rates(record.provider_id, record.upstream_model, record.created_at)
    if rates is None:
        record.cost_usd, record.cost_estimated = None, False
        return
    record.cost_usd = rates.cost(
        record.input_tokens, record.output_tokens, record.cache_read_tokens, record.cache_creation_tokens
    )
    record.cost_estimated = record.estimated


def add_cost_header(response: HttpResponse, record: UsageRecord) -> None:
    """Tell the client what its (non-streamed) request cost; no header when unpriced."""
    if record.cost_usd is not None:
        response[COST_HEADER] = str(record.cost_usd)


def spent_micros(record: UsageRecord) -> int:
    """What a row counts toward USD budgets: its cost in micro-dollars (0 when unpriced)."""
    return 0 if record.cost_usd is None else micros(record.cost_usd)
