"""Streaming translation: O `chat.completion.chunk`s -> A stream events (protocol.md §5).

Fed, never looping: the view calls `start()`, `feed(chunk)` per parsed upstream chunk, then
`finish(done=...)` (or `error(...)` on a transport failure) and writes every returned event.

Interleaved tool calls (call 0's fragments still arriving after call 1 began) cannot stream under
A's one-open-block rule, so a call that begins while the open tool block's JSON is incomplete is
*queued* and emitted whole (start, one `input_json_delta`, stop) when the turn finishes.
Sequential providers (OpenAI, Ollama, Gemini, vLLM) complete each call first, so theirs stream
live. Fragments for an already closed tool block (text came in between) are logged and dropped.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Literal

from . import ids, web_search
from .mapping import (
    content_text,
    content_thinking,
    find_usage,
    inband_error,
    matched_stop_sequence,
    reasoning_text,
    stop_reason,
    tokens_for_chars,
    upstream_api_error,
    usage_from_openai,
)
from .types import JSON, Context, Usage

logger = logging.getLogger(__name__)

BlockKind = Literal["text", "thinking", "tool_use"]


@dataclass(slots=True)
class _Tool:
    """One upstream tool call; `args` holds every argument fragment received so far."""

    id: str | None = None
    name: str | None = None
    args: str = ""
    state: Literal["pending", "queued", "streamed"] = "pending"
    """pending: no name yet (arguments buffer); queued: emitted whole at finish; streamed: has a block."""


@dataclass(slots=True)
class _Block:
    """The one open A content block."""

    kind: BlockKind
    index: int
    tool: _Tool | None = None
    text: list[str] = field(default_factory=list)
    """Text so far: a thinking block's closing `signature_delta` signs it, citations quote it."""


class StreamTranslator:
    """One upstream stream's state machine (§5.3). Not thread-safe; one instance per request."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.message_id = ids.new_message_id()
        self._open: _Block | None = None
        self._next_index = 0
        self._tools: list[_Tool] = []
        """Every upstream call in arrival order."""
        self._by_index: dict[int, _Tool] = {}
        """The latest call seen at each O `index` (Ollama reuses index 0 for every call)."""
        self._latest: _Tool | None = None
        self._finish: str | None = None
        self._stop_sequence: str | None = None
        self._usage: JSON | None = None
        self._refusal = False
        self._output_chars = 0
        self._cited: set[str] = set()
        """URLs already shown in a web search result (`_search`)."""
        self._ended = False

    def start(self) -> list[JSON]:
        """The `message_start` event; input tokens are the local estimate until usage arrives."""
        usage = {
            "input_tokens": self.ctx.input_tokens_estimate,
            "output_tokens": 1,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }
        message: JSON = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.ctx.requested_model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }
        return [{"type": "message_start", "message": message}]

    def feed(self, chunk: JSON) -> list[JSON]:
        """Events for one parsed upstream chunk: error, usage, then the choice's payload in order."""
        if self._ended:
            return []
        body_error = inband_error(chunk)
        if body_error is not None:
            err = upstream_api_error(None, body_error)
            return self.error(err.error_type, err.message)
        out: list[JSON] = []
        usage = find_usage(chunk)
        if usage is not None:
            self._usage = usage
        choices = chunk.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            self._choice(choices[0], out)
        if self._finish is not None and usage is not None:
            out += self._end()  # usage with or after finish_reason is final: no need to wait for [DONE]
        return out

    def finish(self, *, done: bool) -> list[JSON]:
        """Events at the end of the upstream stream; `done` says whether `[DONE]` was seen.

        Without a finish_reason, `[DONE]` still ends the turn normally (§5.3 step 6: null reason is
        end_turn); a bare EOF means the upstream was cut off, which the client must learn.
        """
        if self._ended:
            return []
        if self._finish is None and not done:
            return self.error("api_error", "upstream stream ended prematurely")
        return self._end()

    def error(self, error_type: str, message: str) -> list[JSON]:
        """The `error` event that ends the stream; open blocks stay open, no `message_stop` follows."""
        if self._ended:
            return []
        self._ended = True
        return [{"type": "error", "error": {"type": error_type, "message": message}}]

    def usage(self) -> tuple[Usage, bool]:
        """Usage so far (upstream figures where sent, else estimates) and whether it is estimated."""
        return usage_from_openai(
            self._usage,
            input_estimate=self.ctx.input_tokens_estimate,
            output_estimate=tokens_for_chars(self._output_chars),
        )

    def _choice(self, choice: JSON, out: list[JSON]) -> None:
        delta = choice.get("delta")
        delta = delta if isinstance(delta, dict) else {}
        content = delta.get("content")
        reasoning = reasoning_text(delta) + content_thinking(content)
        if self.ctx.thinking:
            self._text("thinking", reasoning, out)
        else:
            self._output_chars += len(reasoning)  # dropped, but still paid for
        self._text("text", content_text(content), out)
        if self.ctx.search_upstream:
            self._search(delta.get("annotations"), out)
        refusal = delta.get("refusal")
        if isinstance(refusal, str) and refusal:
            self._refusal = True
            self._text("text", refusal, out)
        calls = delta.get("tool_calls")
        for call in calls if isinstance(calls, list) else ():
            if isinstance(call, dict):
                self._tool_delta(call, out)
        if isinstance(delta.get("function_call"), dict):  # legacy single-call form
            self._tool_delta({"function": delta["function_call"]}, out)
        finish = choice.get("finish_reason")
        if isinstance(finish, str) and finish:
            self._finish = finish
            self._stop_sequence = matched_stop_sequence(choice, self.ctx.stop_sequences)
            self._close_all(out)

    def _text(self, kind: BlockKind, text: str, out: list[JSON]) -> None:
        if not text:  # never open a block for "" (role-only first chunks)
            return
        block = self._open
        if block is None or block.kind != kind:
            block = self._open_block(kind, out)
        block.text.append(text)
        if kind == "thinking":
            self._delta({"type": "thinking_delta", "thinking": text}, len(text), out)
        else:
            self._delta({"type": "text_delta", "text": text}, len(text), out)

    def _search(self, annotations: Any, out: list[JSON]) -> None:
        """URL citations from an upstream that searched: the open text is cited, then the search is shown
        as its own blocks. Pages already shown are skipped (some upstreams repeat annotations)."""
        fresh = [a for a in web_search.url_citations(annotations) if a.get("url") not in self._cited]
        if not fresh or self.ctx.web_search is None:
            return
        block = self._open
        text = "".join(block.text) if block is not None and block.kind == "text" else ""
        blocks, citations = web_search.chat_search(fresh, text, self.ctx.web_search, self.ctx.search_query)
        if not blocks:
            return  # nothing usable: the text block stays open
        for citation in citations if text else ():
            self._delta({"type": "citations_delta", "citation": citation}, 0, out)
        self._close(out)
        for server_block in blocks:
            out += web_search.block_events(self._next_index, server_block)
            self._next_index += 1
        self._cited.update(a.get("url") for a in fresh)

    def _tool_delta(self, call: JSON, out: list[JSON]) -> None:
        tool = self._tool_for(call)
        function = call.get("function")
        function = function if isinstance(function, dict) else {}
        tool.id = tool.id or _nonempty(call.get("id"))
        tool.name = tool.name or _nonempty(function.get("name"))  # set once: some repeat it every delta
        args = _arguments(function.get("arguments"))
        tool.args += args
        if tool.state == "streamed":
            if self._open is not None and self._open.tool is tool:
                if args:
                    self._delta({"type": "input_json_delta", "partial_json": args}, len(args), out)
            elif args.strip():
                logger.warning("dropping arguments for an already closed tool block: %.200r", args)
        elif tool.state == "pending" and tool.name:
            if self._must_queue():
                tool.state = "queued"
            else:
                self._start_tool(tool, out)

    def _tool_for(self, call: JSON) -> _Tool:
        """The call a delta belongs to: a known id; else its `index`; else (Gemini) the latest call.

        A new id at a used index is a new call: Ollama sends every parallel call with `index: 0`
        (ollama/ollama#15457), and merging them would corrupt the first call's JSON input.
        """
        index, call_id = call.get("index"), _nonempty(call.get("id"))
        has_index = isinstance(index, int) and not isinstance(index, bool)
        tool = next((t for t in self._tools if call_id is not None and t.id == call_id), None)
        if tool is None and has_index:
            tool = self._by_index.get(index)
            if tool is not None and call_id is not None and tool.id is not None:
                tool = None  # a different id at this index: another call
        elif tool is None and call_id is None and not self._names_another_tool(call):
            tool = self._latest
        if tool is None:
            tool = _Tool()
            self._tools.append(tool)
        if has_index:
            self._by_index[index] = tool
        self._latest = tool
        return tool

    def _names_another_tool(self, call: JSON) -> bool:
        """An index- and id-less delta naming a different function than the latest call starts a new one."""
        function = call.get("function")
        name = _nonempty(function.get("name")) if isinstance(function, dict) else None
        latest = self._latest.name if self._latest is not None else None
        return name is not None and latest is not None and name != latest

    def _must_queue(self) -> bool:
        """A new call must wait if calls already wait, or the open tool's JSON may still grow."""
        if any(t.state == "queued" for t in self._tools):
            return True
        open_tool = self._open.tool if self._open is not None else None
        return open_tool is not None and not _is_complete_json(open_tool.args)

    def _start_tool(self, tool: _Tool, out: list[JSON]) -> None:
        """Open the tool's block; arguments that came before the name are its first delta."""
        tool.state = "streamed"
        self._open_block("tool_use", out, tool)
        if tool.args:
            self._delta({"type": "input_json_delta", "partial_json": tool.args}, len(tool.args), out)

    def _open_block(self, kind: BlockKind, out: list[JSON], tool: _Tool | None = None) -> _Block:
        self._close(out)
        opened = self._open = _Block(kind, self._next_index, tool)
        self._next_index += 1
        if tool is not None:
            name = self.ctx.original_tool_name(tool.name or "")
            block: JSON = {"type": "tool_use", "id": ids.client_tool_id(tool.id), "name": name, "input": {}}
        elif kind == "thinking":
            block = {"type": "thinking", "thinking": "", "signature": ""}
        else:
            block = {"type": "text", "text": ""}
        out.append({"type": "content_block_start", "index": opened.index, "content_block": block})
        return opened

    def _delta(self, delta: JSON, chars: int, out: list[JSON]) -> None:
        assert self._open is not None
        self._output_chars += chars
        out.append({"type": "content_block_delta", "index": self._open.index, "delta": delta})

    def _close(self, out: list[JSON]) -> None:
        """Close the open block; a thinking block is signed first (A clients store the signature)."""
        block, self._open = self._open, None
        if block is None:
            return
        if block.kind == "thinking":
            signature = ids.thinking_signature("".join(block.text))
            delta = {"type": "signature_delta", "signature": signature}
            out.append({"type": "content_block_delta", "index": block.index, "delta": delta})
        out.append({"type": "content_block_stop", "index": block.index})

    def _close_all(self, out: list[JSON]) -> None:
        """Close the open block, then emit each queued tool call whole."""
        self._close(out)
        for tool in self._tools:
            if tool.state == "queued":
                self._start_tool(tool, out)
                self._close(out)

    def _end(self) -> list[JSON]:
        """The one `message_delta` (stop reason and final usage) and `message_stop`."""
        out: list[JSON] = []
        self._close_all(out)
        if any(t.state == "pending" for t in self._tools):
            logger.warning("dropping upstream tool calls that never received a name")
        reason = stop_reason(
            self._finish or "stop",  # [DONE] without a reason: tool blocks still mean tool_use (§5.3 step 6)
            has_tool_use=any(t.state == "streamed" for t in self._tools),
            stop_sequence=self._stop_sequence,
            refusal=self._refusal,
        )
        sequence = self._stop_sequence if reason == "stop_sequence" else None
        usage, _ = self.usage()
        out.append(
            {
                "type": "message_delta",
                "delta": {"stop_reason": reason, "stop_sequence": sequence},
                "usage": dict(usage),
            }
        )
        out.append({"type": "message_stop"})
        self._ended = True
        return out


def _nonempty(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _arguments(value: Any) -> str:
    """An arguments fragment as text; a few servers send the object itself."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _is_complete_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
