"""count_tokens answered here when the provider has no such endpoint: bounded, and off the event loop.

Counting is CPU work (about 0.07 s per MB of text): a large body counted on the event loop stalls
every stream of the worker. Bodies past COUNT_TOKENS_MAX_BYTES are refused, the others are counted
by a small pool of threads (the tokenizer releases the GIL), so at most two counts run per worker.
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings

from api.http.errors import GatewayError, request_too_large
from api.translate.tokens import count_tokens
from api.translate.types import JSON


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="count-tokens")


async def count_locally(body: JSON, size: int) -> int:
    """The estimated input tokens of `body` (`size` bytes as posted)."""
    if size > settings.COUNT_TOKENS_MAX_BYTES:
        raise GatewayError(request_too_large(settings.COUNT_TOKENS_MAX_BYTES))
    return await asyncio.get_running_loop().run_in_executor(_pool(), count_tokens, body)
