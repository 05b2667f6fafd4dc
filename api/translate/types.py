"""Wire types shared by the translation layer, and the per-request context.

The translation package imports the standard library only (no Django, no httpx): views and
provider clients are thin shells around it. Anthropic shapes are "A", OpenAI shapes are "O", as in
`shared/docs/protocol.md`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

JSON = dict[str, Any]

StopReason = Literal["end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal"]
ErrorType = Literal[
    "invalid_request_error",
    "authentication_error",
    "billing_error",
    "permission_error",
    "not_found_error",
    "request_too_large",
    "rate_limit_error",
    "api_error",
    "timeout_error",
    "overloaded_error",
]


class Usage(TypedDict):
    """A usage: `input_tokens` excludes cached tokens (A total = input + creation + read)."""

    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int


class AnthropicMessage(TypedDict):
    id: str
    type: Literal["message"]
    role: Literal["assistant"]
    model: str
    content: list[JSON]
    stop_reason: StopReason | None
    stop_sequence: str | None
    usage: Usage


class TranslationError(Exception):
    """The client's request cannot be served: a 4xx in Anthropic's shape.

    `path` names the offending place, e.g. ``messages.3.content.1``; it is put in front of the
    message so the client sees where the problem is.
    """

    def __init__(
        self,
        message: str,
        path: str = "",
        *,
        status: int = 400,
        error_type: ErrorType = "invalid_request_error",
    ) -> None:
        self.path = path
        self.status = status
        self.error_type = error_type
        super().__init__(f"{path}: {message}" if path else message)


@dataclass(slots=True)
class Context:
    """What the response side must know about the request it answers.

    Built by `request.to_openai_request`, read by `response.to_anthropic_message` and
    `stream.StreamTranslator`, so both directions agree on names, ids and options.
    """

    requested_model: str
    thinking: bool = False
    """The client asked for thinking: upstream reasoning becomes `thinking` blocks, else dropped."""
    tool_names: dict[str, str] = field(default_factory=dict)
    """Upstream (shortened) tool name -> the client's original name."""
    stop_sequences: list[str] = field(default_factory=list)
    input_tokens_estimate: int = 0
    """Local estimate, used in `message_start` and when the upstream reports no usage."""
    stream_usage: bool = True
    """`stream_options.include_usage` was sent: hold `message_delta` until the usage chunk."""
    web_search: str | None = None
    """The name of the client's `web_search_*` server tool, when the request carries one."""
    search_upstream: bool = False
    """The upstream was asked to search itself; otherwise search calls are answered as unavailable."""
    search_query: str = ""
    """The query shown for a search the upstream ran without naming one (Chat Completions searchers)."""

    def original_tool_name(self, upstream_name: str) -> str:
        return self.tool_names.get(upstream_name, upstream_name)
