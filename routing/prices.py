"""The price in force for a provider's model at a moment, and what a request's tokens cost at it.

`PriceTable` is built from every `Price` row and the providers' base URLs in one load (cached and
dropped on change like the routes: snapshot.prices); pricing a row then touches no database. Costs
are Decimals rounded to the micro-dollar, the unit budgets count in.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from routing.catalogue import catalogue_rates

RATE_FIELDS = ("input", "output", "cache_read", "cache_write")
MICRO = Decimal("0.000001")
MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per million tokens of each kind."""

    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal

    def cost(self, input_tokens: int, output_tokens: int, cache_read: int = 0, cache_write: int = 0) -> Decimal:
        """USD, to the micro-dollar (half up)."""
        total = (
            input_tokens * self.input
            + output_tokens * self.output
            + cache_read * self.cache_read
            + cache_write * self.cache_write
        )
        return (total / MILLION).quantize(MICRO, rounding=ROUND_HALF_UP)


def micros(usd: Decimal) -> int:
    """Whole micro-dollars (the shared counters hold integers), rounded up: never under-counts spend."""
    return int((usd / MICRO).to_integral_value(rounding="ROUND_CEILING"))


Dated = tuple[date, dict[str, Decimal | None]]


class PriceTable:
    def __init__(self, rows: dict[tuple[int, str], list[Dated]], base_urls: dict[int, str]) -> None:
        self._rows = {k: sorted(v, key=lambda d: d[0], reverse=True) for k, v in rows.items()}
        self._base_urls = base_urls

    def rates(self, provider_id: int | None, model: str, when: datetime | None = None) -> Rates | None:
        """The rates in force at `when` (the admin's latest price from that local date or before, each
        empty field from the catalogue, else 0), or None when neither prices this model: unpriced."""
        if provider_id is None or not model:
            return None
        when = when or timezone.now()
        day = timezone.localdate(when)
        own = next((fields for since, fields in self._rows.get((provider_id, model), ()) if since <= day), None)
        catalogue = catalogue_rates(self._base_urls.get(provider_id, ""), model, when)
        if own is None and catalogue is None:
            return None
        values = {f: _first(own and own.get(f), catalogue and catalogue.get(f)) for f in RATE_FIELDS}
        return Rates(**values)

    def is_priced(self, provider_id: int, model: str) -> bool:
        return self.rates(provider_id, model) is not None


def _first(*values: Decimal | None) -> Decimal:
    return next((v for v in values if v is not None), Decimal(0))


def load_price_table() -> PriceTable:
    """Every price row and provider address, in three queries; the catalogue is looked up here for
    every route target (off the event loop), so pricing a request never waits on it."""
    from routing.models import Price, Provider, RouteTarget

    rows: dict[tuple[int, str], list[Dated]] = defaultdict(list)
    for price in Price.objects.all():
        rows[(price.provider_id, price.model)].append(
            (price.effective_from, {f: getattr(price, f) for f in RATE_FIELDS})
        )
    base_urls = dict(Provider.objects.values_list("id", "base_url"))
    for provider_id, model in RouteTarget.objects.values_list("provider_id", "model").distinct():
        catalogue_rates(base_urls.get(provider_id, ""), model, timezone.now())
    return PriceTable(dict(rows), base_urls)
