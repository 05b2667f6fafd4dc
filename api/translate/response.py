"""Non-streaming response translation: O `chat.completion` -> A `message` (protocol.md §4)."""

from __future__ import annotations

import json
import logging
from typing import Any

from . import ids, web_search
from .mapping import (
    UpstreamFormatError,
    content_text,
    content_thinking,
    estimate_tokens,
    find_usage,
    inband_error,
    matched_stop_sequence,
    reasoning_text,
    stop_reason,
    tool_use_block,
    usage_from_openai,
)
from .types import JSON, AnthropicMessage, Context

logger = logging.getLogger(__name__)


def to_anthropic_message(completion: Any, ctx: Context) -> AnthropicMessage:
    """The A message for an O completion; raises `UpstreamFormatError` when there is no choice.

    Only `choices[0]` is read (the proxy never asks for n > 1). Blocks come in A's order:
    thinking, text, refusal text, tool_use.
    """
    message, choice = _first_message(completion)
    content: list[JSON] = []
    reasoning = reasoning_text(message) + content_thinking(message.get("content"))
    if ctx.thinking and reasoning:
        content.append({"type": "thinking", "thinking": reasoning, "signature": ids.thinking_signature(reasoning)})
    text = content_text(message.get("content"))
    search, citations = _search(message, text, ctx)
    content += search
    if text:
        content.append({"type": "text", "text": text, **({"citations": citations} if citations else {})})
    refusal = message.get("refusal")
    refused = isinstance(refusal, str) and bool(refusal)
    if refused:
        content.append({"type": "text", "text": refusal})
    tools = [_tool_use(call, ctx) for call in _tool_calls(message)]
    content.extend(tool for tool in tools if tool is not None)

    stop_sequence = matched_stop_sequence(choice, ctx.stop_sequences)
    reason = stop_reason(
        choice.get("finish_reason"),
        has_tool_use=any(block["type"] == "tool_use" for block in content),
        stop_sequence=stop_sequence,
        refusal=refused,
    )
    usage, _ = usage_from_openai(
        find_usage(completion),
        input_estimate=ctx.input_tokens_estimate,
        output_estimate=estimate_tokens(reasoning + _output_text(content)),
    )
    return {
        "id": ids.new_message_id(),
        "type": "message",
        "role": "assistant",
        "model": ctx.requested_model,
        "content": content,
        "stop_reason": reason,
        "stop_sequence": stop_sequence if reason == "stop_sequence" else None,
        "usage": usage,
    }


def _search(message: JSON, text: str, ctx: Context) -> tuple[list[JSON], list[JSON]]:
    """The search blocks and text citations for the `annotations` of an upstream that searched."""
    if not ctx.search_upstream or ctx.web_search is None:
        return [], []
    return web_search.chat_search(message.get("annotations"), text, ctx.web_search, ctx.search_query)


def _first_message(completion: Any) -> tuple[JSON, JSON]:
    """`choices[0].message` and `choices[0]`, or `UpstreamFormatError` (the caller answers 502)."""
    if not isinstance(completion, dict):
        raise UpstreamFormatError("the completion is not a JSON object")
    body_error = inband_error(completion)
    if body_error is not None:
        raise UpstreamFormatError("the completion is an error", upstream_error=body_error)
    choices = completion.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise UpstreamFormatError("the completion has no choices")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise UpstreamFormatError("the first choice has no message")
    return message, choices[0]


def _tool_calls(message: JSON) -> list[JSON]:
    """`tool_calls` entries plus a legacy `function_call`, each as ``{id?, function: {...}}``."""
    calls = message.get("tool_calls")
    found = [c for c in calls if isinstance(c, dict)] if isinstance(calls, list) else []
    legacy = message.get("function_call")
    if isinstance(legacy, dict):
        found.append({"function": legacy})
    return found


def _tool_use(call: JSON, ctx: Context) -> JSON | None:
    function = call.get("function")
    function = function if isinstance(function, dict) else {}
    return tool_use_block(function.get("name"), call.get("id"), function.get("arguments"), ctx, call)


def _output_text(content: list[JSON]) -> str:
    """Text and tool inputs, for an output-token estimate when the upstream sent no usage.

    Thinking is left out: the caller adds the reasoning, which costs tokens even when dropped.
    """
    parts = []
    for block in content:
        if block["type"] == "tool_use":
            parts.append(json.dumps(block["input"]))
        elif block["type"] == "text":
            parts.append(block["text"])
    return "".join(parts)
