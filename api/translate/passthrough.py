"""Body rewrites for Anthropic-compatible upstreams (protocol.md section 8).

The body is forwarded as the client sent it, except what a real Anthropic API would reject:
thinking blocks signed by this proxy, tool ids minted by OpenAI-side upstreams, empty text
blocks, more than four `cache_control` markers, and a max_tokens above the route's cap.
"""

from __future__ import annotations

import re

from .ids import is_proxy_signature
from .types import JSON

_SAFE_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
_UNSAFE_CHARS = re.compile(r"[^a-zA-Z0-9_-]")
MAX_CACHE_CONTROL = 4


def _safe_id(value: object) -> object:
    if isinstance(value, str) and not _SAFE_ID.match(value):
        return _UNSAFE_CHARS.sub("_", value) or "toolu_"
    return value


def _clean_block(block: JSON) -> JSON | None:
    kind = block.get("type")
    if kind == "thinking" and is_proxy_signature(block.get("signature")):
        return None
    if kind == "text" and not str(block.get("text", "")).strip():
        return None
    if kind == "tool_use" and "id" in block:
        return {**block, "id": _safe_id(block["id"])}
    if kind == "tool_result" and "tool_use_id" in block:
        return {**block, "tool_use_id": _safe_id(block["tool_use_id"])}
    return block


def _limit_cache_control(messages: list[JSON], system: object) -> None:
    """Keep the last four cache_control markers (the ones nearest the end cache the most)."""
    blocks = [b for b in system if isinstance(b, dict)] if isinstance(system, list) else []
    for message in messages:
        if isinstance(message.get("content"), list):
            blocks.extend(b for b in message["content"] if isinstance(b, dict))
    marked = [b for b in blocks if "cache_control" in b]
    for block in marked[: max(0, len(marked) - MAX_CACHE_CONTROL)]:
        del block["cache_control"]


def prepare_body(body: JSON, *, target_model: str, max_tokens_cap: int | None) -> JSON:
    """A new top-level body; message lists are rebuilt only where a block changes."""
    out = dict(body)
    out["model"] = target_model
    if max_tokens_cap and isinstance(out.get("max_tokens"), int) and out["max_tokens"] > max_tokens_cap:
        out["max_tokens"] = max_tokens_cap
    messages = []
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, list):
            blocks = [c for c in (_clean_block(b) if isinstance(b, dict) else b for b in content) if c is not None]
            # Blocks are shallow-copied before `_limit_cache_control` may delete a marker.
            message = {**message, "content": [dict(b) if isinstance(b, dict) else b for b in blocks]}
        messages.append(message)
    out["messages"] = messages
    if isinstance(out.get("system"), list):
        out["system"] = [dict(b) if isinstance(b, dict) else b for b in out["system"]]
    _limit_cache_control(messages, out.get("system"))
    return out
