"""Anthropic's `web_search_*` server tool on providers that search, and on those that cannot.

Anthropic runs web search itself and answers with a `server_tool_use` block (the query) followed by a
`web_search_tool_result` block (the hits, or an error object the model can read). Providers that search
are asked to (the Responses API's `web_search` tool); their calls and URL citations come back in that
shape. Providers that cannot get the tool as a plain function: when the model calls it, the call is
answered the way Anthropic answers when search is unavailable (`error_code: "unavailable"`), so the
tool is never silently dropped and never a 500.
"""

from __future__ import annotations

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
