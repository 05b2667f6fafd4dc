"""The real Claude Code CLI (`claude -p`) against the live gateway, with a fake OpenAI upstream behind it.

The CLI is installed by `scripts/install_claude_code.sh` into `.cache/claude-code` (fixture `claude` in
conftest.py). Locally, a missing binary skips these tests; in CI (`CI=true`) it fails them.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e.servers import BIG, MAX_TOKENS_LIMIT
from tests.fakes.openai_upstream import Text, ToolCall

pytestmark = pytest.mark.e2e


def user_text(request) -> str:
    """Every text the client sent as the user, joined (Claude Code adds reminders around the prompt)."""
    parts = []
    for message in request.body["messages"]:
        if message["role"] != "user":
            continue
        content = message["content"]
        if isinstance(content, str):
            parts.append(content)
        else:
            parts.extend(part.get("text", "") for part in content)
    return "\n".join(parts)


def tool_exchange(request) -> tuple[dict, dict]:
    """The assistant tool call and the tool message that answers it, from a follow-up request."""
    messages = request.body["messages"]
    [tool_message] = [m for m in messages if m["role"] == "tool"]
    [assistant] = [m for m in messages if m["role"] == "assistant" and m.get("tool_calls")]
    [call] = assistant["tool_calls"]
    return call, tool_message


def test_claude_prints_the_answer_of_the_upstream(claude, fake_upstream):
    fake_upstream.script(Text("The gateway answered this question end to end.", chunks=5, model=BIG))

    result = claude("What is the answer? Reply in one sentence.")

    assert "The gateway answered this question end to end." in result.stdout
    main = fake_upstream.chat_requests(model=BIG)[0]
    assert main.path == "/v1/chat/completions"
    assert main.body["stream"] is True
    assert main.body["stream_options"] == {"include_usage": True}
    assert main.body["max_tokens"] == MAX_TOKENS_LIMIT
    assert "What is the answer? Reply in one sentence." in user_text(main)
    assert main.body["messages"][0]["role"] == "system"
    tools = {tool["function"]["name"] for tool in main.body["tools"]}
    assert {"Bash", "Read", "Write", "Edit"} <= tools
    assert {r.path for r in fake_upstream.requests} == {"/v1/chat/completions"}
    assert fake_upstream.pending() == []


def test_claude_writes_a_file_through_a_streamed_write_tool_call(claude, fake_upstream, workdir):
    target = workdir / "greeting.txt"
    arguments = {"file_path": str(target), "content": "hello from the gateway e2e\nsecond line\n"}
    fake_upstream.script(
        ToolCall("Write", arguments, call_id="call_write_1", fragments=7, model=BIG),
        Text("I wrote greeting.txt for you.", model=BIG),
    )

    result = claude("Create greeting.txt", "--allowedTools", "Write", "--permission-mode", "acceptEdits")

    assert "I wrote greeting.txt for you." in result.stdout
    assert target.read_text() == "hello from the gateway e2e\nsecond line\n"
    first, follow_up = fake_upstream.chat_requests(model=BIG)
    assert first.body["stream"] is True
    call, tool_message = tool_exchange(follow_up)
    assert (call["id"], call["function"]["name"]) == ("call_write_1", "Write")
    assert json.loads(call["function"]["arguments"]) == arguments
    assert tool_message["tool_call_id"] == call["id"]
    assert "File created successfully" in str(tool_message["content"])
    assert str(target) in str(tool_message["content"])


def test_claude_runs_a_bash_command_and_sends_its_output_back(claude, fake_upstream, workdir):
    command = "echo hello-e2e > out.txt && cat out.txt && echo bash-exit-$?"
    fake_upstream.script(
        ToolCall("Bash", {"command": command, "description": "Write and show out.txt"}, fragments=5, model=BIG),
        Text("The command printed hello-e2e.", model=BIG),
    )

    result = claude("Run the command", "--allowedTools", "Bash")

    assert "The command printed hello-e2e." in result.stdout
    assert (workdir / "out.txt").read_text() == "hello-e2e\n"
    _, follow_up = fake_upstream.chat_requests(model=BIG)
    call, tool_message = tool_exchange(follow_up)
    assert json.loads(call["function"]["arguments"])["command"] == command
    assert tool_message["tool_call_id"] == call["id"]
    assert "hello-e2e" in str(tool_message["content"])
    assert "bash-exit-0" in str(tool_message["content"])


def test_a_per_user_key_leaves_usage_rows_with_that_user_and_the_upstream_tokens(claude, fake_upstream, gateway):
    key = gateway.issue_key("carol")
    fake_upstream.script(Text("Counted for carol.", model=BIG, prompt_tokens=1234, completion_tokens=56))

    result = claude("Say something short.", key=key)

    assert "Counted for carol." in result.stdout
    sent = fake_upstream.chat_requests()
    rows = gateway.usage_rows(username="carol", endpoint="messages", count=len(sent))
    assert len(rows) == len(sent)
    assert all(key.startswith(row["key_prefix"]) for row in rows)
    assert all(row["status"] == 200 and row["user_agent"].startswith("claude-cli/") for row in rows)
    [main] = [row for row in rows if row["upstream_model"] == BIG]
    assert (main["input_tokens"], main["output_tokens"], main["stream"], main["estimated"]) == (1234, 56, 1, 0)
    assert main["requested_model"].startswith("claude-")
