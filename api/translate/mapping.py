"""Mapping helpers shared by the non-streaming and the streaming response paths (protocol.md §4-§6).

`response.to_anthropic_message` and `stream.StreamTranslator` both call these, so a stop reason,
a usage figure or a tool input is computed one way only, whichever path the request took.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from . import ids
from .errors import STATUS_FOR_TYPE, ApiError, bad_upstream_response, from_upstream
from .types import JSON, Context, ErrorType, StopReason, Usage

logger = logging.getLogger(__name__)

_TOOL_FINISH = frozenset({"tool_calls", "function_call"})


class UpstreamFormatError(Exception):
    """The upstream answered 2xx with something that is not a usable completion.

    The caller answers with `to_api_error()`: a 502 `api_error`, or the mapped error when the
    body was an in-band `{"error": ...}` (some providers send those with status 200).
    """

    def __init__(self, message: str, upstream_error: Any = None) -> None:
        super().__init__(message)
        self.upstream_error = upstream_error

    def to_api_error(self) -> ApiError:
        if self.upstream_error is not None:
            return upstream_api_error(None, self.upstream_error)
        return bad_upstream_response(str(self))


def stop_reason(
    finish_reason: str | None,
    *,
    has_tool_use: bool,
    stop_sequence: str | None = None,
    refusal: bool = False,
) -> StopReason:
    """A `stop_reason` for an O `finish_reason` (§4.3).

    `stop` with tool blocks is `tool_use` because Gemini ends tool turns with `stop`; a refusal
    (O `refusal` text) wins over everything, as A reports it.
    """
    if refusal:
        return "refusal"
    reason = finish_reason.lower() if isinstance(finish_reason, str) else None
    if reason in _TOOL_FINISH or reason == "stop":
        if has_tool_use:
            return "tool_use"
        return "stop_sequence" if reason == "stop" and stop_sequence else "end_turn"
    if reason == "length":
        return "max_tokens"
    if reason == "content_filter":
        return "refusal"
    return "end_turn"


def matched_stop_sequence(choice: JSON, stop_sequences: list[str]) -> str | None:
    """The stop sequence vLLM reports in its non-standard `choices[].stop_reason`, if it is one of ours."""
    matched = choice.get("stop_reason")
    return matched if isinstance(matched, str) and matched in stop_sequences else None


def find_usage(obj: JSON) -> JSON | None:
    """The O usage object wherever a known provider puts it, or None when there is none.

    Top-level `usage` (OpenAI and most); `x_groq.usage` (Groq's final chunk); `choices[0].usage`
    (Moonshot's final chunk). Reading them all avoids falling back to an estimate.
    """
    groq = obj.get("x_groq")
    choices = obj.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
    for usage in (obj.get("usage"), groq.get("usage") if isinstance(groq, dict) else None, choice.get("usage")):
        if isinstance(usage, dict):
            return usage
    return None


def inband_error(obj: JSON) -> Any:
    """An error object sent with status 200: `{"error": {...}}`, or vLLM's bare `{"object": "error", ...}`."""
    if obj.get("error"):
        return obj["error"]
    return obj if obj.get("object") == "error" else None


def usage_from_openai(usage: Any, *, input_estimate: int, output_estimate: int) -> tuple[Usage, bool]:
    """A usage for O `usage`, and whether any count had to be estimated (§4.4).

    O `prompt_tokens` includes cached tokens while A `input_tokens` excludes them, hence the
    subtraction. Both cache fields are always present: Claude Code reads them as "caching works".
    """
    raw: JSON = usage if isinstance(usage, dict) else {}
    details = raw.get("prompt_tokens_details")
    details = details if isinstance(details, dict) else {}
    prompt, completion = _count(raw.get("prompt_tokens")), _count(raw.get("completion_tokens"))
    read = _first_count(
        details.get("cached_tokens"),  # OpenAI, Azure, OpenRouter, Groq, Gemini, vLLM
        raw.get("prompt_cache_hit_tokens"),  # DeepSeek
        raw.get("cached_tokens"),  # Moonshot
    )
    creation = _count(details.get("cache_write_tokens")) or 0
    result: Usage = {
        "input_tokens": input_estimate if prompt is None else max(prompt - read - creation, 0),
        "output_tokens": output_estimate if completion is None else completion,
        "cache_creation_input_tokens": creation,
        "cache_read_input_tokens": read,
    }
    return result, prompt is None or completion is None


def _first_count(*values: Any) -> int:
    """The first valid token count among `values`, else 0."""
    return next((count for count in map(_count, values) if count is not None), 0)


def _count(value: Any) -> int | None:
    """A token count, or None for null, negative or non-numeric values (upstreams send all three)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return int(value)


def parse_tool_arguments(raw: Any) -> JSON:
    """A tool_use `input` for O `function.arguments`: always a JSON object, never an exception.

    A requires an object; O sends a string that may be empty, not an object, or not JSON at all.
    """
    if isinstance(raw, dict):  # a few servers send the object itself
        return raw
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        logger.warning("tool arguments are not valid JSON; using {}: %.200r", raw)
        return {}
    return value if isinstance(value, dict) else {"value": value}


def tool_use_block(name: Any, call_id: Any, arguments: Any, ctx: Context, call: JSON) -> JSON | None:
    """A tool_use block for an upstream call (Chat Completions or Responses), or None (logged) for a call
    without a name: A cannot express one."""
    if not isinstance(name, str) or not name:
        logger.warning("dropping an upstream tool call without a name: %.200r", call)
        return None
    return {
        "type": "tool_use",
        "id": ids.client_tool_id(call_id if isinstance(call_id, str) else None),
        "name": ctx.original_tool_name(name),
        "input": parse_tool_arguments(arguments),
    }


def reasoning_text(obj: JSON) -> str:
    """Reasoning from a message or delta: DeepSeek/llama.cpp `reasoning_content`, vLLM/Ollama `reasoning`."""
    for key in ("reasoning_content", "reasoning"):
        value = obj.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def content_text(content: Any) -> str:
    """The text of O `content`: a string, or a list of parts of which only text parts count."""
    if isinstance(content, str):
        return content
    return _text_parts(content)


def content_thinking(content: Any) -> str:
    """Thinking inside O `content` parts: Mistral's `{"type": "thinking", "thinking": [text parts]}`."""
    if not isinstance(content, list):
        return ""
    out = []
    for part in content:
        if isinstance(part, dict) and part.get("type") == "thinking":
            inner = part.get("thinking")
            out.append(inner if isinstance(inner, str) else _text_parts(inner))
    return "".join(out)


def _text_parts(parts: Any) -> str:
    if not isinstance(parts, list):
        return ""
    texts = (p.get("text") for p in parts if isinstance(p, dict) and p.get("type") == "text")
    return "".join(t for t in texts if isinstance(t, str))


def estimate_tokens(text: str) -> int:
    """A cheap token estimate (~4 chars a token) for output the upstream did not count.

    `tokens.count_text` is exact-ish but too slow for the stream hot path.
    """
    return tokens_for_chars(len(text))


def tokens_for_chars(chars: int) -> int:
    """`estimate_tokens` for a character count; at least 1 for any non-empty text."""
    return (chars + 3) // 4 if chars > 0 else 0


def upstream_api_error(status: int | None, body_error: Any) -> ApiError:
    """The client-facing error for an upstream error object, with or without an HTTP status.

    In-band errors (`data: {"error": {...}}` mid-stream, or an error body sent with 200) have no
    status of their own: it is inferred from the body, then `errors.from_upstream` applies the
    one §6 mapping (context length wording, quota, overload, message cleaning).
    """
    if status is None or not 400 <= status < 600:
        status = _status_from_error(body_error)
    return from_upstream(status, json.dumps({"error": body_error}, default=str), {})


def error_type_for_upstream(status: int | None, body_error: Any) -> ErrorType:
    """The A `error.type` for an upstream error (§6)."""
    return upstream_api_error(status, body_error).error_type


def _status_from_error(body_error: Any) -> int:
    """The HTTP status an in-band error would have had, read from its `code` and `type`."""
    if not isinstance(body_error, dict):
        return 500
    code = body_error.get("code")
    if isinstance(code, int) and not isinstance(code, bool) and 400 <= code < 600:
        return code  # OpenRouter puts the HTTP status in `code`
    markers = " ".join(str(body_error.get(k) or "").lower() for k in ("type", "code", "status"))
    for error_type, status in STATUS_FOR_TYPE.items():  # Ollama and A-shaped bodies use A's names
        if error_type in markers:
            return status
    message = str(body_error.get("message") or "").lower()
    if "overloaded" in markers or "overloaded" in message:
        return 529
    if "rate_limit" in markers or "insufficient_quota" in markers:
        return 429
    if "context_length" in markers or "invalid_request" in markers:
        return 400
    if "timeout" in markers:
        return 504
    return 500
