"""Anthropic `system` and `messages` as an OpenAI message list (protocol.md §1.2, §1.3, §2).

One pass turns each A message into O messages; `repair.repair` then enforces the O ordering rules
(tool messages right after their calls, no orphans, merged same-role turns). Ids and tool names get
the same deterministic transforms as on the response side (`ids`), so history pairs still match.
"""

from __future__ import annotations

import json

from .content import content_parts, joined_text, text_part, with_cache_control
from .ids import upstream_tool_id, upstream_tool_name
from .profiles import Profile
from .repair import repair
from .types import JSON

SYSTEM_MARKER = "[System instruction]\n"
NO_OUTPUT = "(no output)"
TOOL_ERROR_MARKER = "[tool error] "
_SERVER_NOTE_LIMIT = 200


def convert_messages(body: JSON, profile: Profile) -> list[JSON]:
    """The O `messages` for a validated A body: leading system message, turns, then repairs."""
    out: list[JSON] = _system_message(body.get("system"), profile)
    for i, message in enumerate(body["messages"]):
        content = message["content"]
        blocks = [text_part(content)] if isinstance(content, str) else content
        role = message["role"]
        if role == "user":
            out += _user_turn(blocks, f"messages.{i}.content", profile)
        elif role == "assistant":
            out += _assistant_turn(blocks, profile)
        else:
            out += system_turn(joined_text(blocks), profile)
    return repair(out, profile)


def _system_message(system: object, profile: Profile) -> list[JSON]:
    """The leading system message: one string, or text parts when they carry cache breakpoints."""
    if profile.cache_control and isinstance(system, list) and any(b.get("cache_control") for b in system):
        blocks = [b for b in system if b["text"].strip()]
        parts = [p for b in blocks for p in with_cache_control([text_part(b["text"])], b, profile)]
        return [{"role": "system", "content": parts}] if parts else []
    text = joined_text(system)
    return [{"role": "system", "content": text}] if text.strip() else []


def system_turn(text: str, profile: Profile) -> list[JSON]:
    """A mid-conversation system message: kept in place, or marked user text for strict templates."""
    if not text.strip():
        return []
    if profile.system_inline:
        return [{"role": "system", "content": text}]
    return [{"role": "user", "content": SYSTEM_MARKER + text}]


def user_message(parts: list[JSON]) -> JSON:
    """A user message; text-only content as one string, which compat servers handle best."""
    if all(p["type"] == "text" and "cache_control" not in p for p in parts):
        return {"role": "user", "content": "\n\n".join(p["text"] for p in parts)}
    return {"role": "user", "content": parts}


def _user_turn(blocks: list[JSON], path: str, profile: Profile) -> list[JSON]:
    """Order: tool messages, then tool-result attachments, then the user's own content (§2)."""
    tools: list[JSON] = []
    attachments: list[JSON] = []
    parts: list[JSON] = []
    systems: list[str] = []
    for j, block in enumerate(blocks):
        if block["type"] == "tool_result":
            tools.append(tool_message(block, f"{path}.{j}", profile, attachments))
        elif block["type"] == "mid_conv_system":
            systems.append(joined_text(block.get("content", block.get("text"))))
        else:
            parts += content_parts(block, f"{path}.{j}", profile)
    out = tools
    if attachments:
        out.append(user_message(attachments))
    if parts:
        out.append(user_message(parts))
    for text in systems:
        out += system_turn(text, profile)
    return out


def tool_message(block: JSON, path: str, profile: Profile, attachments: list[JSON]) -> JSON:
    """One `tool` message; images and files go to `attachments` (O tool content is text only)."""
    tool_id = upstream_tool_id(block["tool_use_id"], mistral=profile.mistral_ids)
    content = block.get("content")
    texts: list[str] = []
    kinds: list[str] = []
    if isinstance(content, str) and content.strip():
        texts.append(content)
    elif isinstance(content, list):
        for k, inner in enumerate(content):
            for part in content_parts(inner, f"{path}.content.{k}", profile):
                if part["type"] == "text":
                    texts.append(part["text"])
                else:
                    kinds.append("image" if part["type"] == "image_url" else "document")
                    attachments += [text_part(f"[{kinds[-1]} from tool result {tool_id}]"), part]
    text = "\n".join(texts)
    if not text:
        text = f"[{kinds[0]} attached in next message]" if kinds else NO_OUTPUT
    if block.get("is_error") is True:
        text = TOOL_ERROR_MARKER + text
    parts = with_cache_control([text_part(text)], block, profile)
    return {"role": "tool", "tool_call_id": tool_id, "content": parts if "cache_control" in parts[0] else text}


def _assistant_turn(blocks: list[JSON], profile: Profile) -> list[JSON]:
    """One assistant message: text concatenated, tool_use as tool_calls, thinking per profile."""
    texts: list[str] = []
    calls: list[JSON] = []
    reasoning: list[str] = []
    for block in blocks:
        kind = block["type"]
        if kind == "text" and block["text"].strip():
            texts.append(block["text"])
        elif kind == "tool_use":
            calls.append(_tool_call(block, profile))
        elif kind == "thinking" and profile.echo_reasoning and block["thinking"].strip():
            reasoning.append(block["thinking"])
        elif kind == "compaction" and isinstance(block.get("content"), str) and block["content"].strip():
            texts.append(block["content"])  # the summary of compacted history
        else:
            _add_note(texts, server_tool_note(block))
    if not texts and not calls:
        return []
    message: JSON = {"role": "assistant", "content": "".join(texts) if texts else None}
    if message["content"] is None and not profile.null_assistant_content:
        message["content"] = ""
    if calls:
        message["tool_calls"] = calls
    if reasoning and profile.echo_reasoning:
        message[profile.echo_reasoning] = "\n\n".join(reasoning)
    return [message]


def _tool_call(block: JSON, profile: Profile) -> JSON:
    return {
        "id": upstream_tool_id(block["id"], mistral=profile.mistral_ids),
        "type": "function",
        "function": {
            "name": upstream_tool_name(block["name"]),
            "arguments": _compact_json(block["input"]),
        },
    }


def _compact_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _add_note(texts: list[str], note: str | None) -> None:
    """Append a rendered server-tool note on its own line."""
    if note:
        texts.append(("\n" if texts and not texts[-1].endswith("\n") else "") + note + "\n")


def server_tool_note(block: JSON) -> str | None:
    """Short text for Anthropic-run tool calls and web search results; never O tool_calls (§1.2).

    Thinking the profile does not echo, redacted thinking, `fallback` markers and other server
    tool results render as nothing.
    """
    kind = block["type"]
    if kind in ("server_tool_use", "mcp_tool_use"):
        data = block.get("input")
        query = data.get("query") if isinstance(data, dict) else None
        detail = query if isinstance(query, str) else _compact_json(data)
        return f"[{block['name']}: {detail[:_SERVER_NOTE_LIMIT]}]"
    if kind == "web_search_tool_result" and isinstance(block.get("content"), list):
        hits = [r for r in block["content"] if isinstance(r, dict) and isinstance(r.get("url"), str)]
        lines = [f"- {r.get('title') or r['url']} ({r['url']})" for r in hits]
        return "[web_search results]\n" + "\n".join(lines) if lines else None
    return None
