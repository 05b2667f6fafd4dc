"""Context windows from the price catalogue (`genai-prices`), for targets whose admin set none."""

from __future__ import annotations

import functools
import logging

log = logging.getLogger("routing.windows")


@functools.lru_cache(maxsize=1024)
def catalogue_window(base_url: str, model: str) -> int | None:
    """The model's context window as the catalogue knows it: the provider found from its API address
    first (OpenRouter's `deepseek/deepseek-chat`), else by the model name alone; None when unknown."""
    from genai_prices import data_snapshot

    catalogue = data_snapshot.get_snapshot()
    for url in (base_url, None):
        try:
            _, info = catalogue.find_provider_model(model, None, None, url)
        except LookupError:
            continue
        if info.context_window:
            return int(info.context_window)
    return None


def target_window(stated: int | None, provider, model: str) -> int | None:
    """What the admin stated, else the catalogue's window, except on pass-through providers: there the
    window depends on the client's beta headers (Claude's 1M context), and the upstream itself answers
    "prompt is too long", which Claude Code handles."""
    if stated or provider.kind == "anthropic":
        return stated
    return catalogue_window(provider.base_url, model)
