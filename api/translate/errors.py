"""Every error the proxy returns, as one value, and the upstream -> Anthropic mapping.

Clients (Claude Code, the Anthropic SDKs) decide whether to retry, compact or ask the user to log
in from the HTTP status and `error.type` alone, so upstream errors are mapped to the Anthropic
meaning, not passed through. See `shared/docs/protocol.md` §6.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .types import JSON, ErrorType, TranslationError

MAX_MESSAGE_CHARS = 500
_MAX_BODY_BYTES = 1 << 20
"""Bodies above this are not parsed: an error page that large carries no useful message."""

STATUS_FOR_TYPE: dict[ErrorType, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
_TYPE_FOR_STATUS: dict[int, ErrorType] = {status: kind for kind, status in STATUS_FOR_TYPE.items()}

_CONTEXT_MARKERS = ("context_length_exceeded", "exceed_context_size_error")
_CONTEXT_PHRASES = (
    "context length",
    "context window",
    "context size",
    "too many tokens",
    "context limit",
    "input token count",
    "prompt is too long",
    "maximum model length",  # vLLM: "The decoder prompt (length N) is longer than the maximum model length of M"
)
_ANTHROPIC_WORDINGS = ("prompt is too long", "input length and `max_tokens` exceed context limit")


def _patterns(*patterns: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.I) for p in patterns)


# Numbers in the wordings seen in the wild. OpenAI: "maximum context length is 128000 tokens. However,
# your messages resulted in 130000 tokens" or "you requested 9000 tokens (1000 in the messages, 8000 in
# the completion)"; vLLM: "your request has 40000 input tokens", "'max_tokens' or 'max_completion_tokens'
# is too large: 8000", "You passed 9000 input tokens and requested 0 output tokens. However, the model's
# context length is only 8192 tokens"; Gemini: "The input token count (1200000) exceeds the maximum number
# of tokens allowed (1048576)". llama.cpp sends `n_prompt_tokens` / `n_ctx` fields instead.
_LIMIT_RES = _patterns(r"context (?:length|window)\D{0,12}?(\d[\d,]*) tokens", r"tokens allowed \((\d[\d,]*)\)")
_PROMPT_RES = _patterns(
    r"(\d[\d,]*) in the messages",
    r"(?:resulted in|has|passed) (\d[\d,]*) (?:input )?tokens",
    r"input token count \((\d[\d,]*)\)",
)
_COMPLETION_RES = _patterns(
    r"(\d[\d,]*) in the completion",
    r"requested (\d[\d,]*) output tokens",
    r"max_completion_tokens' is too large: (\d[\d,]*)",
)
_HTML_RE = re.compile(r"<\s*(?:!doctype|html|head|body|title|h1|center)\b", re.I)
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Upstreams sometimes echo (part of) the key they were given; never relay one to the client.
_SECRET_RE = re.compile(r"(?:\bsk-[\w*-]{6,}|Bearer\s+\S+|(?:api[_-]?key|token)[=:]\s*\S+)", re.I)

_PREFIX = {
    # Without this Claude Code reads a 401 as its own login having expired and says "/login".
    401: "the upstream provider rejected the gateway's own API key; this is a gateway configuration "
    "problem, not your login. Upstream said: ",
    500: "the upstream provider failed: ",
    504: "the upstream provider timed out: ",
    529: "the upstream provider is overloaded: ",
}


@dataclass(frozen=True, slots=True)
class ApiError:
    """One error response: status, Anthropic `error.type`, message and retry hints."""

    status: int
    error_type: ErrorType
    message: str
    retry_after: str | None = None
    retry_after_ms: str | None = None
    should_retry: bool | None = None
    """Sent as `x-should-retry`, which overrides the SDK's own retry rule; None sends nothing."""

    def headers(self) -> dict[str, str]:
        """The retry headers to set on the HTTP response (besides `request-id`)."""
        out: dict[str, str] = {}
        if self.retry_after is not None:
            out["retry-after"] = self.retry_after
        if self.retry_after_ms is not None:
            out["retry-after-ms"] = self.retry_after_ms
        if self.should_retry is not None:
            out["x-should-retry"] = "true" if self.should_retry else "false"
        return out


def error_body(error_type: str, message: str, request_id: str) -> JSON:
    """The Anthropic error body; the one shape for every error response."""
    return {"type": "error", "error": {"type": error_type, "message": message}, "request_id": request_id}


def error_event(err: ApiError) -> JSON:
    """The SSE `error` event used once the 200 stream has started (no status left to set)."""
    return {"type": "error", "error": {"type": err.error_type, "message": err.message}}


def type_for_status(status: int) -> ErrorType:
    """Anthropic's type for an HTTP status; unknown 4xx are invalid requests, the rest api errors."""
    if status in _TYPE_FOR_STATUS:
        return _TYPE_FOR_STATUS[status]
    return "invalid_request_error" if 400 <= status < 500 else "api_error"


def connect_error() -> ApiError:
    """Connection refused, DNS or TLS failure: a 502 the SDK retries."""
    return ApiError(502, "api_error", "could not connect to the upstream provider")


def timeout_error(phase: str) -> ApiError:
    """The upstream did not answer in time; `phase` says which wait ran out (connect, read...)."""
    return ApiError(504, "timeout_error", f"the upstream provider timed out ({phase})")


def bad_upstream_response(detail: str) -> ApiError:
    """The upstream answered 2xx with something unusable (bad JSON, no choices)."""
    return ApiError(502, "api_error", _clean(f"invalid response from the upstream provider: {detail}"))


def from_translation(err: TranslationError) -> ApiError:
    """A request the proxy refuses: retrying the same body cannot help."""
    return ApiError(err.status, err.error_type, str(err), should_retry=False)


@dataclass(frozen=True, slots=True)
class _Upstream:
    """What could be read from an upstream error body."""

    message: str
    markers: frozenset[str]
    """Lower-cased `type` / `code` / `status` values, e.g. ``insufficient_quota``."""
    error: Mapping[str, Any]
    """The error object itself, for extra fields such as llama.cpp's `n_ctx`."""


def from_upstream(status: int, body: bytes | str, headers: Mapping[str, str]) -> ApiError:
    """Map an upstream HTTP error response to the error the client gets (protocol.md §6)."""
    up = _parse_body(status, body)
    if status in (400, 413, 422) and (overflow := _context_overflow(up)) is not None:
        return ApiError(400, "invalid_request_error", overflow, should_retry=False)
    if status == 402 or "insufficient_quota" in up.markers:
        return ApiError(402, "billing_error", up.message, should_retry=False)
    if not 400 <= status < 600:
        return bad_upstream_response(f"unexpected HTTP {status}")
    mapped = _mapped_status(status, up)
    return ApiError(
        mapped,
        type_for_status(mapped),
        _clean(_PREFIX.get(mapped, "") + up.message),
        retry_after=_header(headers, "retry-after"),
        retry_after_ms=_header(headers, "retry-after-ms"),
        should_retry={"true": True, "false": False}.get((_header(headers, "x-should-retry") or "").lower()),
    )


def _mapped_status(status: int, up: _Upstream) -> int:
    """The status the client sees for an upstream 4xx/5xx not handled by a special case."""
    if status in (401, 403, 404, 413, 429):
        return status
    if status in (408, 504):
        return 504
    if status in (503, 529) or (status >= 500 and "overloaded" in up.message.lower()):
        return 529
    return 400 if status < 500 else 500


def _parse_body(status: int, body: bytes | str) -> _Upstream:
    """Read the message from any error body an OpenAI-compatible server is known to send."""
    fallback = f"upstream returned HTTP {status}"
    if len(body) > _MAX_BODY_BYTES:
        return _Upstream(f"{fallback} (oversized body)", frozenset(), {})
    text = body if isinstance(body, str) else bytes(body).decode("utf-8", "replace")
    if not text.strip():
        return _Upstream(f"{fallback} (empty body)", frozenset(), {})
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if data is None:
        # A plain-text reason ("Bad Gateway") helps; an HTML error page never does.
        plain = None if _HTML_RE.search(text) else text
        return _Upstream(_clean(plain or f"{fallback} (non-JSON body)"), frozenset(), {})
    error, message = _find_error(data)
    markers = frozenset(str(v).lower() for k in ("type", "code", "status") if (v := error.get(k)) not in (None, ""))
    if not message or _HTML_RE.search(message):
        message = f"{fallback} (no error message)"
    return _Upstream(_clean(message), markers, error)


def _find_error(data: Any) -> tuple[Mapping[str, Any], str]:
    """The error object and its message from OpenAI, Ollama, FastAPI, Gemini or vLLM shapes."""
    if isinstance(data, list) and data:  # Gemini: [{"error": {...}}]
        return _find_error(data[0])
    if not isinstance(data, dict):
        return {}, _as_text(data)
    error = data.get("error")
    if isinstance(error, dict):
        message = _as_text(error.get("message") or error.get("msg"))
        meta = error.get("metadata")
        raw = meta.get("raw") if isinstance(meta, dict) else None
        if isinstance(raw, str) and raw:  # OpenRouter puts the provider's own words here
            message = f"{message} ({raw})" if message else raw
        return error, message
    if error:  # Ollama / llama.cpp: {"error": "model 'x' not found"}
        return data, _as_text(error)
    if "detail" in data:  # FastAPI: a string, or a list of {"loc", "msg", "type"}
        return data, _detail_text(data["detail"])
    return data, _as_text(data.get("message"))


def _detail_text(detail: Any) -> str:
    if not isinstance(detail, list):
        return _as_text(detail)
    parts = []
    for item in detail:
        if isinstance(item, dict):
            loc = ".".join(str(p) for p in item.get("loc") or ())
            msg = _as_text(item.get("msg"))
            parts.append(f"{loc}: {msg}" if loc else msg)
        else:
            parts.append(_as_text(item))
    return "; ".join(p for p in parts if p)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _clean(message: str) -> str:
    """A printable, secret-free message of at most MAX_MESSAGE_CHARS characters."""
    message = _SECRET_RE.sub("[redacted]", _CONTROL_RE.sub("", message).strip())
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 1] + "…"
    return message


def _context_overflow(up: _Upstream) -> str | None:
    """A context-window overflow in Anthropic's wording, which Claude Code keys compaction and its
    `max_tokens` retry off (protocol.md §6); None if the error is about something else."""
    lowered = up.message.lower()
    if not any(m in up.markers for m in _CONTEXT_MARKERS) and not any(p in lowered for p in _CONTEXT_PHRASES):
        return None
    if lowered.startswith(_ANTHROPIC_WORDINGS):  # an Anthropic-compatible upstream
        return up.message
    prompt, limit = up.error.get("n_prompt_tokens"), up.error.get("n_ctx")
    if not (isinstance(prompt, int) and isinstance(limit, int)):
        prompt, limit = _first_number(_PROMPT_RES, up.message), _first_number(_LIMIT_RES, up.message)
    completion = _first_number(_COMPLETION_RES, up.message)
    if prompt is not None and limit is not None:
        if prompt > limit:
            return f"prompt is too long: {prompt} tokens > {limit} maximum"
        if completion:  # the prompt fits; prompt + max_tokens does not
            return (
                f"input length and `max_tokens` exceed context limit: {prompt} + {completion} > {limit}, "
                "decrease input length or `max_tokens` and try again"
            )
    return _clean(f"prompt is too long: {up.message}")


def _first_number(patterns: tuple[re.Pattern[str], ...], text: str) -> int | None:
    for pattern in patterns:
        if match := pattern.search(text):
            return int(match.group(1).replace(",", ""))
    return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A retry header, case-insensitively, only if it is a plain number or HTTP date."""
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    if value is None:
        return None
    value = str(value).strip()
    return value if 0 < len(value) <= 64 and re.fullmatch(r"[\w ,.:+-]+", value) else None
