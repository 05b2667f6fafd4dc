"""Web search on a provider that cannot search: answered the way Anthropic answers when search is down.

The request's `web_search_*` server tool is offered to the model as a plain `web_search(query)`
function (`tools.convert_tools`). When the model calls it, that call comes back to the client as
Anthropic shapes it: a `server_tool_use` block with the query, then a `web_search_tool_result` whose
content is `{"type": "web_search_tool_result_error", "error_code": "unavailable"}`, which the model
(or Claude Code's WebSearch tool) reads on the next turn. The tool is never dropped in silence and the
call never reaches the client as a tool it would have to run itself.
"""

from __future__ import annotations

from typing import Protocol

from . import web_search
from .types import JSON, AnthropicMessage, Usage


class _Translator(Protocol):
    def start(self) -> list[JSON]: ...
    def feed(self, chunk: JSON) -> list[JSON]: ...
    def finish(self, *, done: bool) -> list[JSON]: ...
    def error(self, error_type: str, message: str) -> list[JSON]: ...
    def usage(self) -> tuple[Usage, bool]: ...


def rewrite_message(message: AnthropicMessage, name: str) -> AnthropicMessage:
    """The non-streaming message with each `name` tool call answered as unavailable."""
    content: list[JSON] = []
    for block in message["content"]:
        if block["type"] == "tool_use" and block["name"] == name:
            use = {"type": "server_tool_use", "id": block["id"], "name": name, "input": block["input"]}
            content += [use, web_search.error_block(block["id"])]
        else:
            content.append(block)
    reason = message["stop_reason"]
    if reason == "tool_use" and not any(b["type"] == "tool_use" for b in content):
        reason = "end_turn"  # nothing left for the client to run
    return {**message, "content": content, "stop_reason": reason}


class UnavailableSearch:
    """Wraps a stream translator; rewrites its events, shifting later block indices by one per search."""

    def __init__(self, inner: _Translator, name: str) -> None:
        self.inner = inner
        self.name = name
        self._shift = 0
        self._search: tuple[int, str] | None = None
        """The open search call: its upstream index and id."""
        self._client_tools = 0

    def start(self) -> list[JSON]:
        return self.inner.start()

    def feed(self, chunk: JSON) -> list[JSON]:
        return self._rewrite(self.inner.feed(chunk))

    def finish(self, *, done: bool) -> list[JSON]:
        return self._rewrite(self.inner.finish(done=done))

    def error(self, error_type: str, message: str) -> list[JSON]:
        return self.inner.error(error_type, message)

    def usage(self) -> tuple[Usage, bool]:
        return self.inner.usage()

    def _rewrite(self, events: list[JSON]) -> list[JSON]:
        out: list[JSON] = []
        for event in events:
            kind = event["type"]
            if kind == "content_block_start" and event["content_block"]["type"] == "tool_use":
                block = event["content_block"]
                if block["name"] == self.name:
                    self._search = (event["index"], block["id"])
                    event = {**event, "content_block": {**block, "type": "server_tool_use"}}
                else:
                    self._client_tools += 1
            if "index" in event:
                event = {**event, "index": event["index"] + self._shift}
            out.append(event)
            if kind == "content_block_stop" and self._search and self._search[0] + self._shift == event["index"]:
                out += self._result(event["index"] + 1, self._search[1])
            if kind == "message_delta" and event["delta"]["stop_reason"] == "tool_use" and not self._client_tools:
                out[-1] = {**event, "delta": {**event["delta"], "stop_reason": "end_turn"}}
        return out

    def _result(self, index: int, tool_id: str) -> list[JSON]:
        self._search = None
        self._shift += 1
        block = web_search.error_block(tool_id)
        return [
            {"type": "content_block_start", "index": index, "content_block": block},
            {"type": "content_block_stop", "index": index},
        ]
