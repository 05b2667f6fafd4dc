"""An Anthropic Messages request as an OpenAI Responses API request (`POST /v1/responses`).

The system prompt becomes `instructions`; each A turn becomes input items: messages with
`input_text` / `input_image` / `input_file` parts, `function_call` and `function_call_output`
items, and `reasoning` items for thinking blocks this path signed (their encrypted content goes
back, so the model keeps its chain of thought with `store: false`). Content and tools go through
the chat path's converters first (one set of checks and profile rules), then into Responses shapes.
"""

from __future__ import annotations

import json
from dataclasses import replace

from . import web_search
from .content import content_parts, joined_text, text_part
from .ids import upstream_tool_id, upstream_tool_name
from .messages import server_tool_note, tool_message
from .profiles import Profile
from .request import THINKING_ON, requested_effort
from .responses_mapping import reasoning_item
from .tools import convert_tools
from .types import JSON, Context

NOT_EXECUTED = "Tool call was not executed."


def to_responses_request(
    body: JSON,
    *,
    upstream_model: str,
    profile: Profile,
    max_tokens_cap: int | None = None,
    cache_key: str | None = None,
) -> tuple[JSON, Context]:
    """The Responses body for a validated A body, and the context the response side needs."""
    context = Context(requested_model=body["model"], stream_usage=False)
    out: JSON = {"model": upstream_model, "store": False}
    if cache_key and profile.prompt_cache_key:
        out["prompt_cache_key"] = cache_key
    system = joined_text(body.get("system"))
    if system.strip():
        out["instructions"] = system
    out["input"] = _repair(_input_items(body, profile))
    max_tokens: int = body["max_tokens"]
    out["max_output_tokens"] = max(1, min(max_tokens, max_tokens_cap)) if max_tokens_cap else max_tokens
    out.update(_tools(body, profile, context))
    if not profile.reasoning_model:
        out.update({k: body[k] for k in ("temperature", "top_p") if body.get(k) is not None})
    _add_reasoning(out, body, profile, context)
    fmt = (body.get("output_config") or {}).get("format") or body.get("output_format")
    if fmt:
        out["text"] = {"format": {"type": "json_schema", "name": "response", "schema": fmt["schema"], "strict": False}}
    if body.get("stream") is True:
        out["stream"] = True
    return out, context


def _input_items(body: JSON, profile: Profile) -> list[JSON]:
    items: list[JSON] = []
    for i, message in enumerate(body["messages"]):
        content = message["content"]
        blocks = [text_part(content)] if isinstance(content, str) else content
        if message["role"] == "user":
            items += _user_items(blocks, f"messages.{i}.content", profile)
        elif message["role"] == "assistant":
            items += _assistant_items(blocks)
        elif text := joined_text(blocks):
            items.append({"role": "system", "content": text})
    return items


def _user_items(blocks: list[JSON], path: str, profile: Profile) -> list[JSON]:
    """Tool outputs first (they answer the previous turn), then attachments, then the user's content."""
    outputs: list[JSON] = []
    attachments: list[JSON] = []
    parts: list[JSON] = []
    for j, block in enumerate(blocks):
        if block["type"] == "tool_result":
            message = tool_message(block, f"{path}.{j}", profile, attachments)
            outputs.append(
                {"type": "function_call_output", "call_id": message["tool_call_id"], "output": message["content"]}
            )
        elif block["type"] == "mid_conv_system":
            outputs.append({"role": "system", "content": joined_text(block.get("content", block.get("text")))})
        else:
            parts += content_parts(block, f"{path}.{j}", profile)
    return outputs + [_user_message(p) for p in (attachments, parts) if p]


def _user_message(parts: list[JSON]) -> JSON:
    return {"role": "user", "content": [_input_part(p) for p in parts]}


def _input_part(part: JSON) -> JSON:
    """A chat content part (text, image_url, file) as a Responses input part."""
    if part["type"] == "image_url":
        return {"type": "input_image", "image_url": part["image_url"]["url"], "detail": "auto"}
    if part["type"] == "file":
        return {"type": "input_file", **part["file"]}
    return {"type": "input_text", "text": part["text"]}


def _assistant_items(blocks: list[JSON]) -> list[JSON]:
    """Items in the order the model produced them: reasoning, text, calls; server tools as notes."""
    items: list[JSON] = []
    for block in blocks:
        kind = block["type"]
        if kind == "text" and block["text"].strip():
            items.append({"role": "assistant", "content": block["text"]})
        elif kind == "tool_use":
            arguments = json.dumps(block["input"], ensure_ascii=False, separators=(",", ":"))
            call_id = upstream_tool_id(block["id"])
            name = upstream_tool_name(block["name"])
            items.append({"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments})
        elif kind == "thinking" and (reasoning := reasoning_item(block)) is not None:
            items.append(reasoning)
        elif note := server_tool_note(block):
            items.append({"role": "assistant", "content": note})
    return items


def _repair(items: list[JSON]) -> list[JSON]:
    """Every call answered and every output after its call: the API rejects either gap.

    Unanswered calls get a placeholder output before the next non-output item; outputs with no
    earlier call become user text.
    """
    out: list[JSON] = []
    called: set[str] = set()
    open_calls: list[str] = []
    for item in items:
        kind = item.get("type")
        if kind == "function_call_output" and item["call_id"] not in called:
            item = {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": f"[result of tool call {item['call_id']}]: {item['output']}"}
                ],
            }
            kind = None
        if kind not in ("function_call", "function_call_output", "reasoning"):
            out += [{"type": "function_call_output", "call_id": c, "output": NOT_EXECUTED} for c in open_calls]
            open_calls = []
        if kind == "function_call":
            called.add(item["call_id"])
            open_calls.append(item["call_id"])
        elif kind == "function_call_output" and item["call_id"] in open_calls:
            open_calls.remove(item["call_id"])
        out.append(item)
    return out


def _tools(body: JSON, profile: Profile, context: Context) -> JSON:
    """Function tools (flat in this API, and not strict unless asked: strict is its default) and web search."""
    search = web_search.web_search_tool(body)
    customs = [t for t in body.get("tools") or () if t is not search]  # search is hosted, not a function
    chat = convert_tools({**body, "tools": customs}, profile, context)
    tools: list[JSON] = [
        {"type": "function", **t["function"], "strict": t["function"].get("strict", False)}
        for t in chat.get("tools", [])
    ]
    out: JSON = {}
    if search is not None:
        context.web_search, context.search_upstream = search["name"], True
        tools.append(web_search.responses_tool(search))
        out["include"] = ["web_search_call.action.sources"]
    if not tools:
        return out
    out["tools"] = tools
    choice = chat.get("tool_choice")
    forced = (body.get("tool_choice") or {}).get("type") == "tool"
    if isinstance(choice, dict):
        out["tool_choice"] = {"type": "function", "name": choice["function"]["name"]}
    elif choice is not None:
        out["tool_choice"] = choice
    elif forced and search is not None and body["tool_choice"]["name"] == search["name"]:
        out["tool_choice"] = "required"
    if "parallel_tool_calls" in chat:
        out["parallel_tool_calls"] = chat["parallel_tool_calls"]
    return out


def _add_reasoning(out: JSON, body: JSON, profile: Profile, context: Context) -> None:
    """`reasoning.effort` from thinking / `output_config.effort`; summaries and encrypted content when
    the client shows thinking (that is where the encrypted content is kept for the next turn)."""
    thinking = body.get("thinking") or {}
    context.thinking = thinking.get("type") in THINKING_ON and thinking.get("display") != "omitted"
    if profile.reasoning_style == "none" and not profile.reasoning_model:
        context.thinking = False
        return  # not a reasoning model: the API rejects `reasoning`
    effort = requested_effort(body, replace(profile, effort_none_with_tools=False), has_tools=False)
    reasoning: JSON = {"effort": effort} if effort is not None else {}
    if context.thinking:
        reasoning["summary"] = "auto"
        out["include"] = [*out.get("include", []), "reasoning.encrypted_content"]
    if reasoning:
        out["reasoning"] = reasoning
