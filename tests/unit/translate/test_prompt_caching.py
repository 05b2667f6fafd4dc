"""Prompt caching: a byte-stable prompt prefix, `prompt_cache_key`, and `cache_control` pass-through."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from api.translate.caching import prompt_cache_key, session_id
from api.translate.profiles import PROFILE_NAMES, Profile, profile_for
from api.translate.request import to_openai_request
from api.translate.validate import validate_request

SESSION = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"
USER_ID_2X = json.dumps({"device_id": "d" * 64, "account_uuid": "acc-1", "session_id": SESSION})
USER_ID_1X = f"user_{'a' * 64}_account_acc-1_session_{SESSION}"
EPHEMERAL = {"type": "ephemeral"}
SCHEMA = {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}
TOOLS = [
    {"name": "Bash", "description": "Run a command", "input_schema": SCHEMA},
    {"name": "Read", "description": "Read a file", "input_schema": {"type": "object", "properties": {}}},
]
SYSTEM = [
    {"type": "text", "text": "You are Claude Code."},
    {"type": "text", "text": "Project instructions: be brief.", "cache_control": EPHEMERAL},
]
TURNS: list[dict[str, Any]] = [
    {"role": "user", "content": [{"type": "text", "text": "List the files."}]},
    {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "Use Bash.", "signature": "sig"},
            {"type": "text", "text": "Listing."},
            {"type": "tool_use", "id": "toolu_01A", "name": "Bash", "input": {"command": "ls"}},
        ],
    },
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01A", "content": "a.py\nb.py"}]},
    {"role": "assistant", "content": [{"type": "text", "text": "Two files: a.py and b.py."}]},
    {"role": "user", "content": [{"type": "text", "text": "Read a.py."}]},
    {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "toolu_01B", "name": "Read", "input": {"file_path": "a.py"}}],
    },
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01B", "content": "print(1)"}]},
]


def claude_code_body(turns: int) -> dict[str, Any]:
    """Claude Code's request after `turns` messages; it moves its breakpoint to the newest message."""
    messages = copy.deepcopy(TURNS[:turns])
    messages[-1]["content"][-1]["cache_control"] = EPHEMERAL
    return {
        "model": "claude-opus-4-8",
        "max_tokens": 64000,
        "system": SYSTEM,
        "tools": TOOLS,
        "messages": messages,
        "metadata": {"user_id": USER_ID_2X},
        "thinking": {"type": "adaptive"},
        "stream": True,
    }


def translate(body: dict[str, Any], profile: Profile, cache_key: str | None = None) -> dict[str, Any]:
    out, _ = to_openai_request(validate_request(body), upstream_model="m", profile=profile, cache_key=cache_key)
    return out


def dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@pytest.mark.parametrize("name", PROFILE_NAMES)
@pytest.mark.parametrize("turns", [1, 3, 5])
def test_the_translated_prompt_prefix_is_byte_stable_from_turn_to_turn(name: str, turns: int) -> None:
    profile = profile_for(name, "some-model")
    earlier = translate(claude_code_body(turns), profile)
    later = translate(claude_code_body(turns + 2), profile)
    assert dumps(later["tools"]) == dumps(earlier["tools"])
    prefix = dumps(earlier["messages"])[:-1]  # without the closing bracket
    assert dumps(later["messages"]).startswith(prefix + ",")


def test_the_cache_key_is_a_hash_of_the_caller_and_the_claude_code_session() -> None:
    key = prompt_cache_key("key:7", {"metadata": {"user_id": USER_ID_2X}})
    assert key.startswith("gw-") and len(key) <= 64
    assert SESSION not in key and "key:7" not in key
    assert key == prompt_cache_key("key:7", {"metadata": {"user_id": USER_ID_1X}})
    assert key != prompt_cache_key("key:8", {"metadata": {"user_id": USER_ID_2X}})
    assert key != prompt_cache_key("key:7", {"metadata": {"user_id": USER_ID_2X.replace("9b1", "0b1")}})
    assert key != prompt_cache_key("key:7", {})


@pytest.mark.parametrize(
    ("user_id", "expected"),
    [
        pytest.param(USER_ID_2X, SESSION, id="claude-code-2x-json"),
        pytest.param(USER_ID_1X, SESSION, id="claude-code-1x-suffix"),
        pytest.param("alice", None, id="a-plain-user-id-has-no-session"),
        pytest.param(json.dumps({"session_id": 5}), None, id="a-non-string-session-is-ignored"),
        pytest.param(json.dumps(["x"]), None, id="json-that-is-not-an-object"),
    ],
)
def test_the_session_is_read_from_metadata_user_id(user_id: str, expected: str | None) -> None:
    assert session_id({"user_id": user_id}) == expected


def test_a_crafted_session_cannot_reproduce_another_callers_key() -> None:
    victim = prompt_cache_key("key:1", {"metadata": {"user_id": json.dumps({"session_id": "s"})}})
    forged = json.dumps({"session_id": 's"], ["key:1", "s'})
    assert prompt_cache_key("key:2", {"metadata": {"user_id": forged}}) != victim
    assert prompt_cache_key("key:1", {}) != prompt_cache_key("anonymous", {"metadata": {"user_id": "key:1"}})


@pytest.mark.parametrize(
    ("name", "model", "sent"),
    [
        pytest.param("openai", "gpt-4.1", True, id="openai"),
        pytest.param("openai", "gpt-5.2", True, id="openai-reasoning-model"),
        pytest.param("azure", "gpt-5.2", False, id="azure-reasoning-model-keeps-azure-rules"),
        pytest.param("azure", "gpt-4o", False, id="azure"),
        pytest.param("ollama", "qwen3", False, id="ollama"),
        pytest.param("deepseek", "deepseek-chat", False, id="deepseek"),
        pytest.param("openrouter", "openai/gpt-5", False, id="openrouter"),
    ],
)
def test_prompt_cache_key_is_sent_only_where_the_profile_takes_it(name: str, model: str, sent: bool) -> None:
    out = translate(claude_code_body(1), profile_for(name, model), cache_key="gw-abc")
    assert out.get("prompt_cache_key") == ("gw-abc" if sent else None)


def test_openrouter_to_anthropic_keeps_every_cache_breakpoint_on_its_part() -> None:
    out = translate(claude_code_body(7), profile_for("openrouter", "anthropic/claude-sonnet-4.5"))
    system, *rest = out["messages"]
    assert system == {
        "role": "system",
        "content": [
            {"type": "text", "text": "You are Claude Code."},
            {"type": "text", "text": "Project instructions: be brief.", "cache_control": EPHEMERAL},
        ],
    }
    assert rest[-1] == {
        "role": "tool",
        "tool_call_id": "toolu_01B",
        "content": [{"type": "text", "text": "print(1)", "cache_control": EPHEMERAL}],
    }
    assert dumps(out).count("cache_control") == 2


def test_a_user_text_breakpoint_makes_the_user_content_a_list_of_parts() -> None:
    out = translate(claude_code_body(5), profile_for("openrouter", "google/gemini-2.5-pro"))
    marked = {"type": "text", "text": "Read a.py.", "cache_control": EPHEMERAL}
    assert out["messages"][-1] == {"role": "user", "content": [marked]}


@pytest.mark.parametrize(
    ("name", "model"),
    [("openrouter", "openai/gpt-5"), ("openai", "gpt-4.1"), ("gemini", "gemini-2.5-pro"), ("ollama", "qwen3")],
)
def test_profiles_that_do_not_honour_cache_control_never_receive_it(name: str, model: str) -> None:
    out = translate(claude_code_body(7), profile_for(name, model))
    assert "cache_control" not in dumps(out)
