"""What a request needs, read once per request from its body and headers: what route conditions test.

Pure (the standard library and `api.translate`, which is pure too). The input token estimate starts as
`input_bound` (bytes / 3: no tokenizer, a few microseconds, errs high); the admission step replaces it by
the tokenizer's count only when that bound reaches a threshold some route tests
(`routing.resolve.token_threshold`), so most requests never run the tokenizer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from api.translate.tokens import BYTES_PER_TOKEN, input_bound

MEDIA_BLOCKS = frozenset({"image", "document"})
THINKING_ON = frozenset({"enabled", "adaptive"})
"""`thinking.type` values that ask for extended thinking (`adaptive` lets the model decide how much)."""


@dataclass(frozen=True, slots=True)
class RequestNeeds:
    input_tokens: int = 0
    """Estimated input tokens: the tokenizer's count when `counted`, else a cheap upper bound."""
    counted: bool = False
    max_tokens: int = 0
    thinking: bool = False
    has_images: bool = False
    tools: tuple[str, ...] = ()
    """Every tool's name and type, lowercased (`web_search`, `web_search_20250305`, `bash`)."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """The request's headers; lookups by lowercased name (Django's headers ignore case too)."""


def read_needs(body: Mapping[str, Any], headers: Mapping[str, str], body_size: int) -> RequestNeeds:
    """The needs of a validated Messages body of `body_size` bytes, with the cheap token bound."""
    thinking = body.get("thinking")
    messages = body.get("messages")
    has_images = isinstance(messages, list) and any(
        isinstance(m, dict) and _has_media(m.get("content")) for m in messages
    )
    return RequestNeeds(
        # Without media blocks `input_bound` is exactly this division: its walk is needed only with them.
        input_tokens=input_bound(body, body_size) if has_images else body_size // BYTES_PER_TOKEN,
        max_tokens=int(body.get("max_tokens") or 0),
        thinking=isinstance(thinking, dict) and thinking.get("type") in THINKING_ON,
        has_images=has_images,
        tools=_tool_names(body.get("tools")),
        headers=headers,
    )


def _has_media(content: Any) -> bool:
    """An image or document block in `content`, or inside a tool result's content."""
    if not isinstance(content, list):
        return False
    for block in content:
        if isinstance(block, dict):
            if block.get("type") in MEDIA_BLOCKS:
                return True
            inner = block.get("content")
            if isinstance(inner, list) and _has_media(inner):
                return True
    return False


def _tool_names(tools: Any) -> tuple[str, ...]:
    if not isinstance(tools, list):
        return ()
    values = [v for t in tools if isinstance(t, dict) for v in (t.get("name"), t.get("type"))]
    return tuple(v.lower() for v in values if isinstance(v, str))
