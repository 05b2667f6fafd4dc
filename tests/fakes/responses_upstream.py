"""A real, local fake of OpenAI's Responses API (`POST .../responses`) for end-to-end tests.

The same script, record and scheduling as `FakeUpstream` (replies consumed in order, each optionally
for one `model`), rendered as a Responses `response` object or as its typed stream events
(`response.output_item.added`, `response.output_text.delta`, `response.function_call_arguments.delta`,
... `response.completed`). `Search` answers a request that carries the hosted `web_search` tool: a
`web_search_call` item (its `action.sources` included when the request asked, as the API does) and
a message whose text cites the results with `url_citation` annotations.

    with FakeResponsesUpstream().running() as fake:
        fake.script(Search("django 5.2", [("https://djangoproject.com", "Django")], "Django 5.2 is out."))
"""

from __future__ import annotations

import json
import time
from dataclasses import KW_ONLY, dataclass
from typing import Any

from tests.fakes.openai_upstream import FakeUpstream, Reply, Text, ToolCall, send_json, send_sse, split


@dataclass(frozen=True)
class Search(Reply):
    """A hosted web search for `query` finding `results` (url, title), then `text` citing each of them."""

    query: str
    results: list[tuple[str, str]]
    text: str
    _: KW_ONLY
    chunks: int = 3


class FakeResponsesUpstream(FakeUpstream):
    answer_path = "/responses"

    async def send_reply(self, send, request: dict, model: str, reply: Reply) -> None:
        run = ResponseRun(model, reply, include=request.get("include") or [])
        if not request.get("stream"):
            return await send_json(send, 200, run.response("completed", run.items()))
        frames = [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in run.events()]
        await send_sse(send, frames)


class ResponseRun:
    """One scripted answer as a Responses `response` and as the events that stream it."""

    def __init__(self, model: str, reply: Reply, include: list[str]) -> None:
        self.model, self.reply = model, reply
        assert isinstance(reply, (Text, ToolCall, Search)), f"no Responses rendering for {reply!r}"
        self.id = f"resp_fake{time.monotonic_ns()}"
        self.sources = "web_search_call.action.sources" in include

    def response(self, status: str, output: list[dict]) -> dict:
        p, c = self.reply.prompt_tokens, self.reply.completion_tokens
        usage = {
            "input_tokens": p,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": c,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": p + c,
        }
        body = {"id": self.id, "object": "response", "created_at": int(time.time()), "model": self.model}
        return body | {"status": status, "output": output, "usage": usage}

    def items(self) -> list[dict]:
        """The finished output items, in order."""
        reply = self.reply
        if isinstance(reply, ToolCall):
            call = {"type": "function_call", "id": "fc_fake_1", "call_id": reply.call_id, "name": reply.name}
            message = [_message(reply.text)] if reply.text else []
            return [*message, call | {"arguments": json.dumps(reply.arguments), "status": "completed"}]
        if isinstance(reply, Search):
            action: dict[str, Any] = {"type": "search", "query": reply.query}
            if self.sources:
                action["sources"] = [{"type": "url", "url": url} for url, _ in reply.results]
            search = {"type": "web_search_call", "id": "ws_fake_1", "status": "completed", "action": action}
            return [search, _message(reply.text, _citations(reply))]
        assert isinstance(reply, Text)
        return [_message(reply.text)]

    def events(self) -> list[dict]:
        events = [{"type": "response.created", "response": self.response("in_progress", [])}]
        for index, item in enumerate(self.items()):
            events += [_event("response.output_item.added", index, item=_opened(item)), *self._deltas(index, item)]
            events.append(_event("response.output_item.done", index, item=item))
        events.append({"type": "response.completed", "response": self.response("completed", self.items())})
        return [e | {"sequence_number": n} for n, e in enumerate(events)]

    def _deltas(self, index: int, item: dict) -> list[dict]:
        chunks, at = getattr(self.reply, "chunks", 3), {"item_id": item["id"]}
        if item["type"] == "function_call":
            pieces = split(item["arguments"], getattr(self.reply, "fragments", 4))
            deltas = [_event("response.function_call_arguments.delta", index, **at, delta=p) for p in pieces]
            return [*deltas, _event("response.function_call_arguments.done", index, **at, arguments=item["arguments"])]
        if item["type"] != "message":
            return []
        part = item["content"][0]
        at["content_index"] = 0
        events = [_event("response.output_text.delta", index, **at, delta=p) for p in split(part["text"], chunks)]
        events += [
            _event("response.output_text.annotation.added", index, **at, annotation_index=n, annotation=a)
            for n, a in enumerate(part["annotations"])
        ]
        return [*events, _event("response.output_text.done", index, **at, text=part["text"])]


def _message(text: str, annotations: list[dict] | None = None) -> dict:
    part = {"type": "output_text", "text": text, "annotations": annotations or []}
    return {"type": "message", "id": "msg_fake_1", "status": "completed", "role": "assistant", "content": [part]}


def _citations(reply: Search) -> list[dict]:
    """A `url_citation` per result, each covering the whole text."""
    return [
        {"type": "url_citation", "url": url, "title": title, "start_index": 0, "end_index": len(reply.text)}
        for url, title in reply.results
    ]


def _opened(item: dict) -> dict:
    """The item as `output_item.added` shows it: in progress, its content still empty."""
    empty = {"message": {"content": []}, "function_call": {"arguments": ""}, "web_search_call": {"action": None}}
    return item | empty.get(item["type"], {}) | {"status": "in_progress"}


def _event(kind: str, output_index: int, **fields: Any) -> dict:
    return {"type": kind, "output_index": output_index, **fields}
