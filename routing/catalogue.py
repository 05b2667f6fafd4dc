"""The bundled price catalogue (genai-prices): what a known model costs, read offline.

A provider is recognised by its base URL (api.openai.com, api.anthropic.com, openrouter.ai, ...); a
provider at another address (a local server, a private deployment) gets no catalogue price, since the
same model name there may cost anything or nothing: the admin prices it. Tiered catalogue prices
(a higher rate above 200k input tokens) are read at their base rate.
"""

from __future__ import annotations

import functools
from datetime import datetime
from decimal import Decimal

CATALOGUE_KEYS = {
    "input": "input_mtok",
    "output": "output_mtok",
    "cache_read": "cache_read_mtok",
    "cache_write": "cache_write_mtok",
}


@functools.lru_cache(maxsize=4096)
def _model_info(base_url: str, model: str):
    from genai_prices import data_snapshot

    try:
        _, info = data_snapshot.get_snapshot().find_provider_model(model, None, None, base_url)
    except LookupError:
        return None
    return info


def catalogue_rates(base_url: str, model: str, when: datetime) -> dict[str, Decimal] | None:
    """USD per million tokens for each of input, output, cache_read, cache_write (0 where the catalogue
    names no price for it), or None when the catalogue does not know this provider and model."""
    info = _model_info(base_url.rstrip("/"), model)
    if info is None:
        return None
    prices = info.get_prices(when)
    return {field: _base(getattr(prices, key, None)) for field, key in CATALOGUE_KEYS.items()}


def _base(price) -> Decimal:
    if price is None:
        return Decimal(0)
    return Decimal(getattr(price, "base", price))
