"""The upstream APIs the relay speaks, one `Dialect` each: where to POST and which translators to use.

A provider's `kind` picks its dialect per attempt, so a fallback to a provider of another kind is
translated for that provider. Whether the upstream runs web search itself is per request
(`Context.search_upstream`: the Responses API always, Chat Completions where the profile searches).
Both dialects share everything else in the relay: retries, pings, deadlines, accounting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from api.providers.openai import CHAT_PATH, RESPONSES_PATH
from api.translate import response, responses_request, responses_response, responses_stream
from api.translate.request import to_openai_request
from api.translate.search_unavailable import UnavailableSearch, rewrite_message
from api.translate.stream import StreamTranslator
from api.translate.types import JSON, AnthropicMessage, Context, Usage


class Translator(Protocol):
    """The fed stream state machine's contract (`stream.StreamTranslator` and its Responses twin)."""

    def start(self) -> list[JSON]: ...
    def feed(self, chunk: JSON) -> list[JSON]: ...
    def finish(self, *, done: bool) -> list[JSON]: ...
    def error(self, error_type: str, message: str) -> list[JSON]: ...
    def usage(self) -> tuple[Usage, bool]: ...


@dataclass(frozen=True, slots=True)
class Dialect:
    path: str
    to_upstream: Callable[..., tuple[JSON, Context]]
    """(body, *, upstream_model, profile, max_tokens_cap) -> the upstream body and the context."""
    to_message: Callable[[JSON, Context], AnthropicMessage]
    translator: Callable[[Context], Translator]

    def stream_translator(self, ctx: Context) -> Translator:
        """The dialect's translator; search calls answered as unavailable unless the upstream searched."""
        translator = self.translator(ctx)
        return UnavailableSearch(translator, ctx.web_search) if _unavailable(ctx) else translator

    def message(self, completion: JSON, ctx: Context) -> AnthropicMessage:
        message = self.to_message(completion, ctx)
        return rewrite_message(message, ctx.web_search) if _unavailable(ctx) else message


def _unavailable(ctx: Context) -> bool:
    """The request carries a search tool the upstream was not asked to run (`Context.search_upstream`)."""
    return ctx.web_search is not None and not ctx.search_upstream


CHAT = Dialect(CHAT_PATH, to_openai_request, response.to_anthropic_message, StreamTranslator)
RESPONSES = Dialect(
    RESPONSES_PATH,
    responses_request.to_responses_request,
    responses_response.to_anthropic_message,
    responses_stream.ResponsesStreamTranslator,
)


def dialect_for(kind: str) -> Dialect:
    return RESPONSES if kind == "openai-responses" else CHAT
