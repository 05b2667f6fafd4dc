"""Helpers shared by the Responses API's request, response and stream translation.

The Responses API returns typed output items (`reasoning`, `message`, `function_call`,
`web_search_call`) and a usage in its own names. Each item becomes A blocks here, one way only,
whichever path (stream or not) the request took.

Reasoning carries over between turns without server state (`store: false`): the item's id and
`encrypted_content` travel in the thinking block's `signature` (prefixed like every proxy-made
signature, so a pass-through provider strips it), and come back as a `reasoning` input item.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

from .mapping import tool_use_block, usage_from_openai
from .types import JSON, Context, StopReason, Usage

logger = logging.getLogger(__name__)

REASONING_SIGNATURE_PREFIX = "proxy:rs:"


def reasoning_signature(item_id: Any, encrypted: Any) -> str:
    """The thinking `signature` for a reasoning item: its id and encrypted content, opaque to the client."""
    data = {
        "id": item_id if isinstance(item_id, str) else None,
        "enc": encrypted if isinstance(encrypted, str) else None,
    }
    return REASONING_SIGNATURE_PREFIX + base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def reasoning_item(block: JSON) -> JSON | None:
    """The `reasoning` input item for a thinking block this path signed; None for any other block."""
    signature = block.get("signature")
    if not isinstance(signature, str) or not signature.startswith(REASONING_SIGNATURE_PREFIX):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(signature[len(REASONING_SIGNATURE_PREFIX) :]))
    except ValueError:
        logger.warning("dropping a thinking block whose reasoning signature does not decode")
        return None
    encrypted = data.get("enc") if isinstance(data, dict) else None
    if not isinstance(encrypted, str) or not encrypted:
        return None  # nothing the upstream could resume from
    text = block.get("thinking")
    item: JSON = {"type": "reasoning", "summary": [], "encrypted_content": encrypted}
    if isinstance(data.get("id"), str):
        item["id"] = data["id"]
    if isinstance(text, str) and text:
        item["summary"] = [{"type": "summary_text", "text": text}]
    return item


def reasoning_text(item: JSON) -> str:
    """The readable reasoning of an item: its summaries, else its raw reasoning text (open models)."""
    for key in ("summary", "content"):
        parts = item.get(key)
        texts = [p.get("text") for p in parts if isinstance(p, dict)] if isinstance(parts, list) else []
        joined = "\n\n".join(t for t in texts if isinstance(t, str) and t)
        if joined:
            return joined
    return ""


def function_call_block(item: JSON, ctx: Context) -> JSON | None:
    """A tool_use block for a `function_call` item; None (logged) without a name."""
    return tool_use_block(item.get("name"), item.get("call_id"), item.get("arguments"), ctx, item)


def stop_reason(response: JSON, *, has_tool_use: bool, refused: bool) -> StopReason:
    """A `stop_reason` for a finished response: incomplete for length is `max_tokens`."""
    if refused:
        return "refusal"
    details = response.get("incomplete_details")
    reason = details.get("reason") if isinstance(details, dict) else None
    if response.get("status") == "incomplete" and reason == "content_filter":
        return "refusal"
    if response.get("status") == "incomplete":
        return "max_tokens"
    return "tool_use" if has_tool_use else "end_turn"


def usage_from_responses(usage: Any, *, input_estimate: int, output_estimate: int) -> tuple[Usage, bool]:
    """A usage for Responses `usage`, and whether a count was estimated.

    The names differ from Chat Completions but the meaning is the same (`input_tokens` includes
    `input_tokens_details.cached_tokens`), so the one chat mapping does the arithmetic.
    """
    raw: JSON = usage if isinstance(usage, dict) else {}
    as_chat = {
        "prompt_tokens": raw.get("input_tokens"),
        "completion_tokens": raw.get("output_tokens"),
        "prompt_tokens_details": raw.get("input_tokens_details"),
    }
    return usage_from_openai(as_chat, input_estimate=input_estimate, output_estimate=output_estimate)
