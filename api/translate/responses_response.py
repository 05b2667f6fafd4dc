"""Non-streaming translation: a Responses API `response` object -> an A `message`.

Output items map in order, with the helpers the stream uses: reasoning -> thinking (signed with its
encrypted content), message text -> text blocks (URL citations as A web search citations), refusals ->
text with `stop_reason: refusal`, function calls -> tool_use, web search calls -> `server_tool_use`
and `web_search_tool_result`.
"""

from __future__ import annotations

import json
from typing import Any

from . import ids, web_search
from .mapping import UpstreamFormatError, estimate_tokens
from .responses_mapping import (
    function_call_block,
    reasoning_signature,
    reasoning_text,
    stop_reason,
    usage_from_responses,
)
from .types import JSON, AnthropicMessage, Context


def to_anthropic_message(response: Any, ctx: Context) -> AnthropicMessage:
    """The A message for a Responses `response`; `UpstreamFormatError` for failures and non-responses."""
    if not isinstance(response, dict) or not isinstance(response.get("output"), list):
        if isinstance(response, dict) and response.get("error"):
            raise UpstreamFormatError("the response is an error", upstream_error=response["error"])
        raise UpstreamFormatError("the response has no output")
    if response.get("status") == "failed":
        raise UpstreamFormatError("the response failed", upstream_error=response.get("error") or {"message": "failed"})
    content: list[JSON] = []
    refused = False
    hidden = ""
    for item in response["output"]:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "reasoning" and not ctx.thinking:
            hidden += reasoning_text(item)  # not shown, still paid for
        refused = _add_item(item, ctx, content) or refused
    web_search.title_results(content)
    has_tool = any(block["type"] == "tool_use" for block in content)
    usage, _ = usage_from_responses(
        response.get("usage"),
        input_estimate=ctx.input_tokens_estimate,
        output_estimate=estimate_tokens(hidden + json.dumps(content)),
    )
    return {
        "id": ids.new_message_id(),
        "type": "message",
        "role": "assistant",
        "model": ctx.requested_model,
        "content": content,
        "stop_reason": stop_reason(response, has_tool_use=has_tool, refused=refused),
        "stop_sequence": None,
        "usage": usage,
    }


def _add_item(item: JSON, ctx: Context, content: list[JSON]) -> bool:
    """Append the blocks for one output item; True when it was a refusal."""
    kind = item.get("type")
    if kind == "reasoning" and ctx.thinking:
        signature = reasoning_signature(item.get("id"), item.get("encrypted_content"))
        content.append({"type": "thinking", "thinking": reasoning_text(item), "signature": signature})
    elif kind == "function_call" and (block := function_call_block(item, ctx)) is not None:
        content.append(block)
    elif kind == "web_search_call":
        action = item.get("action")
        use = web_search.server_tool_use(web_search.query_of(action), ctx.web_search or "web_search")
        failed = item.get("status") == "failed"
        hits = web_search.hits_from_sources(action)
        result = web_search.error_block(use["id"]) if failed else web_search.result_block(use["id"], hits)
        content += [use, result]
    elif kind == "message":
        return _add_message(item, content)
    return False


def _add_message(item: JSON, content: list[JSON]) -> bool:
    refused = False
    parts = item.get("content")
    for part in parts if isinstance(parts, list) else ():
        if not isinstance(part, dict):
            continue
        text = part.get("text") if part.get("type") == "output_text" else part.get("refusal")
        if not isinstance(text, str) or not text:
            continue
        refused = refused or part.get("type") == "refusal"
        block: JSON = {"type": "text", "text": text}
        annotations = part.get("annotations")
        citations = [web_search.citation(a, text) for a in annotations] if isinstance(annotations, list) else []
        if any(citations):
            block["citations"] = [c for c in citations if c is not None]
        content.append(block)
    return refused
