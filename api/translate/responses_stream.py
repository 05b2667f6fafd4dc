"""Streaming translation: Responses API stream events -> A stream events.

Fed like `stream.StreamTranslator` (same `start`/`feed`/`finish`/`error`/`usage` contract, so the relay
drives either). The Responses stream is item by item (`response.output_item.added` ... `.done`), one at
a time, which maps onto A's one-open-block rule directly: a reasoning item is a thinking block signed at
its `done` (when its encrypted content is known), a message item a text block, a function call a
tool_use block, a web search call a `server_tool_use` plus `web_search_tool_result` pair.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from . import ids, web_search
from .mapping import tokens_for_chars, upstream_api_error
from .responses_mapping import reasoning_signature, stop_reason, usage_from_responses
from .types import JSON, Context, Usage

BlockKind = Literal["text", "thinking", "tool_use"]


@dataclass(slots=True)
class _Block:
    """The one open A block, the item it belongs to, and what was streamed into it."""

    kind: BlockKind
    index: int
    item_id: str | None
    text: list[str] = field(default_factory=list)
    summary_index: int = 0


class ResponsesStreamTranslator:
    """One Responses stream's state machine. Not thread-safe; one instance per request."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.message_id = ids.new_message_id()
        self._open: _Block | None = None
        self._next_index = 0
        self._has_tool = False
        self._refused = False
        self._usage: JSON | None = None
        self._output_chars = 0
        self._ended = False

    def start(self) -> list[JSON]:
        usage = {"input_tokens": self.ctx.input_tokens_estimate, "output_tokens": 1}
        usage |= {"cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
        message: JSON = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.ctx.requested_model,
        }
        message |= {"content": [], "stop_reason": None, "stop_sequence": None, "usage": usage}
        return [{"type": "message_start", "message": message}]

    def feed(self, event: JSON) -> list[JSON]:
        """A events for one upstream event; unknown event types give none."""
        if self._ended:
            return []
        kind = event.get("type")
        out: list[JSON] = []
        if kind in ("response.completed", "response.incomplete"):
            response = event.get("response")
            return self._end(response if isinstance(response, dict) else {})
        if kind in ("response.failed", "error"):
            return self._failed(event)
        if kind == "response.output_item.added":
            self._item_added(_dict(event.get("item")), out)
        elif kind == "response.output_item.done":
            self._item_done(_dict(event.get("item")), out)
        elif kind in ("response.output_text.delta", "response.refusal.delta"):
            self._refused = self._refused or kind == "response.refusal.delta"
            self._text(_str(event.get("delta")), out)
        elif kind == "response.output_text.annotation.added":
            self._citation(event.get("annotation"), out)
        elif kind == "response.function_call_arguments.delta":
            self._arguments(_str(event.get("delta")), out)
        elif kind == "response.function_call_arguments.done":
            self._arguments_done(_str(event.get("arguments")), out)
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            self._reasoning(event, out)
        return out

    def finish(self, *, done: bool) -> list[JSON]:
        """The stream ended: normal only after `response.completed` (or a compat server's `[DONE]`)."""
        if self._ended:
            return []
        if not done:
            return self.error("api_error", "upstream stream ended prematurely")
        return self._end({})

    def error(self, error_type: str, message: str) -> list[JSON]:
        if self._ended:
            return []
        self._ended = True
        return [{"type": "error", "error": {"type": error_type, "message": message}}]

    def usage(self) -> tuple[Usage, bool]:
        return usage_from_responses(
            self._usage,
            input_estimate=self.ctx.input_tokens_estimate,
            output_estimate=tokens_for_chars(self._output_chars),
        )

    def _item_added(self, item: JSON, out: list[JSON]) -> None:
        kind, item_id = item.get("type"), _str(item.get("id")) or None
        if kind == "function_call":
            name = _str(item.get("name"))
            call_id = _str(item.get("call_id")) or None
            self._has_tool = True
            block = {"type": "tool_use", "id": ids.client_tool_id(call_id), "name": self.ctx.original_tool_name(name)}
            self._open_block("tool_use", item_id, block | {"input": {}}, out)
        elif kind == "reasoning" and self.ctx.thinking:
            self._open_block("thinking", item_id, {"type": "thinking", "thinking": "", "signature": ""}, out)

    def _item_done(self, item: JSON, out: list[JSON]) -> None:
        kind = item.get("type")
        block = self._open
        if kind == "reasoning" and block is not None and block.kind == "thinking":
            signature = reasoning_signature(item.get("id"), item.get("encrypted_content"))
            out.append(_delta(block.index, {"type": "signature_delta", "signature": signature}))
        elif kind == "function_call" and block is not None and block.kind == "tool_use" and not block.text:
            self._arguments(_str(item.get("arguments")), out)
        elif kind == "web_search_call":
            self._web_search(item, out)
        self._close(out)

    def _web_search(self, item: JSON, out: list[JSON]) -> None:
        """The search as A reports it: the query as a `server_tool_use`, the hits as its result."""
        action = item.get("action")
        use = web_search.server_tool_use(web_search.query_of(action), self.ctx.web_search or "web_search")
        if item.get("status") == "failed":
            result = web_search.error_block(use["id"])
        else:
            result = web_search.result_block(use["id"], web_search.hits_from_sources(action))
        self._close(out)
        for block in (use, result):
            out += web_search.block_events(self._next_index, block)
            self._next_index += 1

    def _text(self, text: str, out: list[JSON]) -> None:
        if not text:
            return
        if self._open is None or self._open.kind != "text":
            self._open_block("text", None, {"type": "text", "text": ""}, out)
        self._emit(text, {"type": "text_delta", "text": text}, out)

    def _citation(self, annotation: Any, out: list[JSON]) -> None:
        block = self._open
        if block is not None and block.kind == "text":
            citation = web_search.citation(annotation, "".join(block.text))
            if citation is not None:
                out.append(_delta(block.index, {"type": "citations_delta", "citation": citation}))

    def _arguments(self, fragment: str, out: list[JSON]) -> None:
        if fragment and self._open is not None and self._open.kind == "tool_use":
            self._emit(fragment, {"type": "input_json_delta", "partial_json": fragment}, out)

    def _arguments_done(self, arguments: str, out: list[JSON]) -> None:
        if self._open is not None and self._open.kind == "tool_use" and not self._open.text:
            self._arguments(arguments, out)

    def _reasoning(self, event: JSON, out: list[JSON]) -> None:
        text = _str(event.get("delta"))
        block = self._open
        if block is None or block.kind != "thinking":
            self._output_chars += len(text)  # not shown, still paid for
            return
        part = event.get("summary_index")
        if isinstance(part, int) and part != block.summary_index and block.text:
            text = "\n\n" + text  # a new summary part
        block.summary_index = part if isinstance(part, int) else block.summary_index
        if text:
            self._emit(text, {"type": "thinking_delta", "thinking": text}, out)

    def _emit(self, text: str, delta: JSON, out: list[JSON]) -> None:
        assert self._open is not None
        self._open.text.append(text)
        self._output_chars += len(text)
        out.append(_delta(self._open.index, delta))

    def _open_block(self, kind: BlockKind, item_id: str | None, block: JSON, out: list[JSON]) -> None:
        self._close(out)
        self._open = _Block(kind, self._next_index, item_id)
        self._next_index += 1
        out.append({"type": "content_block_start", "index": self._open.index, "content_block": block})

    def _close(self, out: list[JSON]) -> None:
        block, self._open = self._open, None
        if block is not None:
            out.append({"type": "content_block_stop", "index": block.index})

    def _failed(self, event: JSON) -> list[JSON]:
        response = _dict(event.get("response"))
        body = _dict(response.get("error")) or {k: event.get(k) for k in ("code", "message", "param")}
        self._usage = _dict(response.get("usage")) or self._usage
        err = upstream_api_error(None, body)
        return self.error(err.error_type, err.message)

    def _end(self, response: JSON) -> list[JSON]:
        out: list[JSON] = []
        self._close(out)
        if isinstance(response.get("usage"), dict):
            self._usage = response["usage"]
        reason = stop_reason(response, has_tool_use=self._has_tool, refused=self._refused)
        usage, _ = self.usage()
        out.append(
            {"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": None}, "usage": dict(usage)}
        )
        out.append({"type": "message_stop"})
        self._ended = True
        return out


def _delta(index: int, delta: JSON) -> JSON:
    return {"type": "content_block_delta", "index": index, "delta": delta}


def _dict(value: Any) -> JSON:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""
