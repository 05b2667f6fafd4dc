"""What the request needs (routing/needs.py), with its input counted by the tokenizer only when it matters.

The cheap bound decides whenever it is below every token threshold the routes test (the 75 KB Claude
Code body against a 60,000-token long-context route: no tokenizer runs). Otherwise the tokenizer counts
off the event loop, as count_tokens does; a body too large to count keeps the bound.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from django.conf import settings
from django.http import HttpRequest

from api.forward.local_count import count_locally
from api.translate.types import JSON
from routing.needs import RequestNeeds, read_needs
from routing.resolve import RouteInfo, token_threshold


async def request_needs(request: HttpRequest, body: JSON, routes: Sequence[RouteInfo]) -> RequestNeeds:
    size = len(request.body)
    needs = read_needs(body, request.headers, size)
    threshold = token_threshold(routes, needs.max_tokens)
    if threshold is None or needs.input_tokens < threshold or size > settings.COUNT_TOKENS_MAX_BYTES:
        return needs
    return replace(needs, input_tokens=await count_locally(body, size), counted=True)
