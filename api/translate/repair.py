"""The repair pass over translated O messages (protocol.md §2, step 3).

OpenAI-compatible servers 400 on orderings Anthropic tolerates or that interrupted histories
contain: a `tool_calls` message not followed by one tool message per call, a tool message without
a preceding call, two same-role turns in a row (strict chat templates), or a conversation that
starts with the assistant. Each rule here fixes one of those without changing what was said.
"""

from __future__ import annotations

from .profiles import Profile
from .types import JSON, TranslationError

NOT_EXECUTED = "Tool call was not executed."
CONTINUE = "(continue)"
_MERGEABLE = frozenset({"user", "assistant", "system"})


def repair(messages: list[JSON], profile: Profile) -> list[JSON]:
    """Merge same-role turns, pair tool calls with results, and fix the first turn if needed.

    Mutates and reuses the message dicts it is given (they are freshly built by the caller).
    """
    out = merge_same_role(pair_tool_results(merge_same_role(messages)))
    if not any(m["role"] != "system" for m in out):
        raise TranslationError(
            "no message content is left to send (every block was empty or has no upstream equivalent)", "messages"
        )
    if profile.leading_user:
        first = next(i for i, m in enumerate(out) if m["role"] != "system")
        if out[first]["role"] == "assistant":
            out.insert(first, {"role": "user", "content": CONTINUE})
    return out


def merge_same_role(messages: list[JSON]) -> list[JSON]:
    """Fold consecutive user, assistant or system messages into one; tool messages stay apart.

    Anthropic itself merges consecutive same-role turns, so this preserves meaning.
    """
    out: list[JSON] = []
    for message in messages:
        previous = out[-1] if out else None
        if previous is None or previous["role"] != message["role"] or message["role"] not in _MERGEABLE:
            out.append(message)
        elif message["role"] == "assistant":
            _merge_assistant(previous, message)
        else:
            previous["content"] = _join_content(previous["content"], message["content"])
    return out


def _join_content(first: str | list[JSON], second: str | list[JSON]) -> str | list[JSON]:
    """Strings join with a blank line; if either side has parts, the result is a parts list."""
    if isinstance(first, str) and isinstance(second, str):
        return f"{first}\n\n{second}"
    return _as_parts(first) + _as_parts(second)


def _as_parts(content: str | list[JSON]) -> list[JSON]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def _merge_assistant(previous: JSON, message: JSON) -> None:
    texts = [t for t in (previous["content"], message["content"]) if t]
    if texts:
        previous["content"] = "\n\n".join(texts)
    if message.get("tool_calls"):
        previous["tool_calls"] = previous.get("tool_calls", []) + message["tool_calls"]
    for key in ("reasoning", "reasoning_content"):
        if key in message:
            previous[key] = "\n\n".join(t for t in (previous.get(key), message[key]) if t)


def pair_tool_results(messages: list[JSON]) -> list[JSON]:
    """Give every tool call exactly one tool message right after it; orphans become user text.

    Unanswered calls get a synthetic "not executed" result (interrupted or compacted histories);
    results that answer no call of the preceding assistant message become a user message.
    """
    out: list[JSON] = []
    i = 0
    while i < len(messages):
        message = messages[i]
        if message["role"] != "tool":
            out.append(message)
            i += 1
        end = i
        while end < len(messages) and messages[end]["role"] == "tool":
            end += 1
        results = messages[i:end]
        calls = _unique_calls(message) if message["role"] == "assistant" else None
        if calls:
            out += _answer_calls(calls, results)
        elif results:
            out.append(_orphans_message(results))
        i = end
    return out


def _unique_calls(message: JSON) -> list[JSON]:
    """The message's tool calls with repeated ids dropped (each id can be answered only once)."""
    calls: list[JSON] = message.get("tool_calls") or []
    unique: list[JSON] = []
    seen: set[str] = set()
    for call in calls:
        if call["id"] not in seen:
            seen.add(call["id"])
            unique.append(call)
    if len(unique) < len(calls):
        message["tool_calls"] = unique
    return unique


def _answer_calls(calls: list[JSON], results: list[JSON]) -> list[JSON]:
    """One tool message per call, in call order, then the leftover results as a user message."""
    answers: dict[str, JSON] = {}
    orphans: list[JSON] = []
    wanted = {call["id"] for call in calls}
    for result in results:
        call_id = result["tool_call_id"]
        if call_id in wanted and call_id not in answers:
            answers[call_id] = result
        else:
            orphans.append(result)
    out = [answers.get(call["id"]) or _not_executed(call["id"]) for call in calls]
    if orphans:
        out.append(_orphans_message(orphans))
    return out


def _not_executed(call_id: str) -> JSON:
    return {"role": "tool", "tool_call_id": call_id, "content": NOT_EXECUTED}


def _orphans_message(results: list[JSON]) -> JSON:
    text = "\n\n".join(f"[result of tool call {r['tool_call_id']}]: {_text_of(r['content'])}" for r in results)
    return {"role": "user", "content": text}


def _text_of(content: str | list[JSON]) -> str:
    """Tool content as text: a string, or text parts (which carry a cache breakpoint)."""
    return content if isinstance(content, str) else "".join(p["text"] for p in content)
