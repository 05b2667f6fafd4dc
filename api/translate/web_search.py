"""Anthropic's `web_search_*` server tool on providers that search, and on those that cannot.

Anthropic runs web search itself and answers with a `server_tool_use` block (the query) followed by a
`web_search_tool_result` block (the hits, or an error object the model can read). Providers that search
are asked to (the Responses API's `web_search` tool, OpenRouter's `web` plugin, OpenAI search models'
`web_search_options`); their calls and URL citations come back in that shape. Chat Completions
searchers report no call, only `url_citation` annotations on the answer: those become one search
(the query being the user's last message) whose results are the cited pages.

Providers that cannot search get the tool as a plain function: when the model calls it, the call is
answered the way Anthropic answers when search is unavailable (`error_code: "unavailable"`), so the
tool is never silently dropped and never a 500.
"""

from __future__ import annotations

import json
from typing import Any

from . import ids
from .types import JSON

UNAVAILABLE = "unavailable"
QUERY_SCHEMA: JSON = {
    "type": "object",
    "properties": {"query": {"type": "string", "description": "The search query."}},
    "required": ["query"],
}


def web_search_tool(body: JSON) -> JSON | None:
    """The request's `web_search_*` server tool (`web_search_20250305` and later), if any."""
    for tool in body.get("tools") or ():
        kind = tool.get("type")
        if isinstance(kind, str) and kind.startswith("web_search_"):
            return tool
    return None


def responses_tool(tool: JSON) -> JSON:
    """The Responses API's hosted `web_search` tool for an A web search tool (domains, location)."""
    out: JSON = {"type": "web_search"}
    domains = tool.get("allowed_domains")
    if isinstance(domains, list) and domains:
        out["filters"] = {"allowed_domains": [d for d in domains if isinstance(d, str)]}
    location = tool.get("user_location")
    if isinstance(location, dict):
        fields = ("city", "region", "country", "timezone")
        out["user_location"] = {"type": "approximate", **{k: location[k] for k in fields if location.get(k)}}
    return out


def chat_search_params(body: JSON, style: str, model: str) -> JSON:
    """The Chat Completions keys that make a searching upstream search (profile `web_search` style).

    OpenRouter: the `web` plugin, unless the model slug already asks with `:online`. OpenAI search
    models: `web_search_options`, with the tool's `user_location` in that API's nested shape.
    """
    if style == "plugin":
        return {} if model.endswith(":online") else {"plugins": [{"id": "web"}]}
    options: JSON = {}
    location = (web_search_tool(body) or {}).get("user_location")
    if isinstance(location, dict):
        fields = ("city", "region", "country", "timezone")
        approximate = {k: location[k] for k in fields if location.get(k)}
        options["user_location"] = {"type": "approximate", "approximate": approximate}
    return {"web_search_options": options}


def last_user_text(body: JSON, limit: int = 500) -> str:
    """The text of the last user message (what OpenRouter's plugin searches for), cut at `limit`."""
    for message in reversed(body.get("messages") or ()):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content[:limit]
        texts = [b.get("text", "") for b in content or () if isinstance(b, dict) and b.get("type") == "text"]
        return "\n".join(texts)[:limit]
    return ""


def url_citations(annotations: Any) -> list[JSON]:
    """`url_citation` annotations flattened: Chat Completions nests the fields under `url_citation`."""
    found: list[JSON] = []
    for annotation in annotations if isinstance(annotations, list) else ():
        if isinstance(annotation, dict) and annotation.get("type") == "url_citation":
            nested = annotation.get("url_citation")
            found.append({"type": "url_citation", **nested} if isinstance(nested, dict) else annotation)
    return found


def hits_from_citations(citations: list[JSON]) -> list[JSON]:
    """`{url, title}` hits for flattened `url_citations`, one per URL."""
    return hits_from_sources({"sources": citations})


def block_events(index: int, block: JSON) -> list[JSON]:
    """A whole server block streamed at `index`: a `server_tool_use` gets its input as one JSON delta."""
    if block["type"] != "server_tool_use":
        return [{"type": "content_block_start", "index": index, "content_block": block}, _stop(index)]
    start = {"type": "content_block_start", "index": index, "content_block": {**block, "input": {}}}
    delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
    return [start, {"type": "content_block_delta", "index": index, "delta": delta}, _stop(index)]


def _stop(index: int) -> JSON:
    return {"type": "content_block_stop", "index": index}


def chat_search(annotations: Any, text: str, ctx_name: str, query: str) -> tuple[list[JSON], list[JSON]]:
    """A Chat Completions answer's URL citations as A shows a search: the `server_tool_use` and
    `web_search_tool_result` pair (none without citations), and the citations of `text`."""
    cited = url_citations(annotations)
    hits = hits_from_citations(cited)
    if not hits:
        return [], []
    use = server_tool_use(query, ctx_name)
    citations = [c for c in (citation(a, text) for a in cited) if c is not None]
    return [use, result_block(use["id"], hits)], citations


def server_tool_use(query: str, name: str = "web_search", tool_id: str | None = None) -> JSON:
    return {
        "type": "server_tool_use",
        "id": tool_id or "srvtoolu_" + ids.random_base62(24),
        "name": name,
        "input": {"query": query},
    }


def result_block(tool_use_id: str, hits: list[JSON]) -> JSON:
    """A `web_search_tool_result` listing `hits` (`{url, title}`) as A web search results."""
    content = [
        {"type": "web_search_result", "url": h["url"], "title": h.get("title") or h["url"], "encrypted_content": ""}
        for h in hits
    ]
    return {"type": "web_search_tool_result", "tool_use_id": tool_use_id, "content": content}


def error_block(tool_use_id: str, error_code: str = UNAVAILABLE) -> JSON:
    """What Anthropic returns when a search could not run: an error object inside the result."""
    return {
        "type": "web_search_tool_result",
        "tool_use_id": tool_use_id,
        "content": {"type": "web_search_tool_result_error", "error_code": error_code},
    }


def title_results(content: list[JSON]) -> None:
    """Give each search result known only by its URL (the Responses API's `sources` carry no title) the
    title a citation in the same message names for it. Streams cannot: the results precede the text."""
    cited = (c for block in content if block["type"] == "text" for c in block.get("citations", ()))
    titles = {c["url"]: c["title"] for c in cited if c["title"] != c["url"]}
    for block in content:
        if block["type"] == "web_search_tool_result" and isinstance(block["content"], list):
            for hit in (h for h in block["content"] if h["title"] == h["url"]):
                hit["title"] = titles.get(hit["url"], hit["url"])


def hits_from_sources(action: Any) -> list[JSON]:
    """`{url, title}` hits from a `web_search_call.action` (`sources` when included), deduplicated."""
    sources = action.get("sources") if isinstance(action, dict) else None
    hits: list[JSON] = []
    for source in sources if isinstance(sources, list) else ():
        url = source.get("url") if isinstance(source, dict) else None
        if isinstance(url, str) and url and all(h["url"] != url for h in hits):
            title = source.get("title")
            hits.append({"url": url, "title": title if isinstance(title, str) else None})
    return hits


def query_of(action: Any) -> str:
    query = action.get("query") if isinstance(action, dict) else None
    return query if isinstance(query, str) else ""


def citation(annotation: Any, text: str) -> JSON | None:
    """An A `web_search_result_location` citation for an upstream `url_citation` annotation."""
    if not isinstance(annotation, dict) or annotation.get("type") != "url_citation":
        return None
    url = annotation.get("url")
    if not isinstance(url, str):
        return None
    start, end = annotation.get("start_index"), annotation.get("end_index")
    cited = text[start:end] if isinstance(start, int) and isinstance(end, int) and 0 <= start <= end else ""
    return {
        "type": "web_search_result_location",
        "url": url,
        "title": annotation.get("title") if isinstance(annotation.get("title"), str) else url,
        "encrypted_index": "",
        "cited_text": cited,
    }
