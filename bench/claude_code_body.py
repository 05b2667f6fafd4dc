"""A request shaped like Claude Code's (see docs/claude-code-traffic.md): about 75 KB of JSON.

24 tools with JSON schemas that use the keywords Claude Code's do (`$schema` draft 2020-12,
`additionalProperties`, `propertyNames`, `anyOf`, `const`, `format`, `exclusiveMinimum`,
`minLength`, `maxItems`), three system blocks with `cache_control`, thinking adaptive with an
effort, `context_management`, `metadata.user_id`, max_tokens 64000, a mid-conversation `system`
message and one Write tool round trip. Deterministic: the same bytes every run.
"""

from __future__ import annotations

import orjson

TARGET_BYTES = 75 * 1024
TOOL_NAMES = (
    "Agent",
    "Bash",
    "BashOutput",
    "Edit",
    "EnterPlanMode",
    "ExitPlanMode",
    "Glob",
    "Grep",
    "KillShell",
    "ListMcpResources",
    "NotebookEdit",
    "Read",
    "ReadMcpResource",
    "Skill",
    "SlashCommand",
    "TaskCreate",
    "TaskGet",
    "TaskList",
    "TaskUpdate",
    "TodoWrite",
    "WebFetch",
    "WebSearch",
    "Write",
    "AskUserQuestion",
)
_PROSE = (
    "Use this tool when the task needs it, and prefer it over shell commands that do the same thing. ",
    "Always give absolute paths; relative paths are resolved against the session's working directory. ",
    "The result is returned to you verbatim and may be truncated when it is longer than 30000 characters. ",
    "Never use this tool to communicate with the user: write plain text in your reply instead. ",
    "When several independent calls are needed, make them in one message so they run in parallel. ",
    "If the call fails, read the error carefully, correct the input and retry instead of giving up. ",
    "Respect the user's permission settings: some invocations may be denied and must not be retried. ",
    "Quote paths that contain spaces, and avoid interactive flags that would wait for input. ",
)
_FILLER = "".join(_PROSE)
HEADERS = {
    "anthropic-version": "2023-06-01",
    "anthropic-beta": "claude-code-20250219,context-1m-2025-08-07,interleaved-thinking-2025-05-14,"
    "context-management-2025-06-27,effort-2025-11-24",
    "x-app": "cli",
    "user-agent": "claude-cli/2.1.197 (external, sdk-cli)",
    "x-claude-code-session-id": "6c1d8b9e-5f0a-4a53-9d7e-0b6f3c2f1a11",
    "x-stainless-retry-count": "0",
    "x-stainless-timeout": "600",
}


def _description(name: str, i: int) -> str:
    """About 1.9 KB of instructions per tool, varied so no two tools share a description."""
    rotated = _FILLER[i * 37 % len(_FILLER) :] + _FILLER[: i * 37 % len(_FILLER)]
    return f"{name}: performs the {name.lower()} operation for the agent.\n\nUsage notes:\n" + (rotated * 3)[:1850]


def _schema(i: int) -> dict:
    props: dict = {
        "file_path": {"type": "string", "minLength": 1, "description": "The absolute path of the file to act on."},
        "timeout": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 600000,
            "description": "Optional timeout in milliseconds (up to 600000).",
        },
        "mode": {
            "anyOf": [{"const": "fast"}, {"const": "thorough"}, {"type": "null"}],
            "description": "How hard to try.",
        },
        "url": {"type": "string", "format": "uri", "description": "A fully formed, valid URL."},
        "patterns": {
            "type": "array",
            "items": {"type": "string"},
            "maxItems": 20,
            "description": "Glob patterns to include, at most twenty.",
        },
        "labels": {
            "type": "object",
            "propertyNames": {"pattern": "^[a-z][a-z0-9_]*$"},
            "additionalProperties": {"type": "string"},
            "description": "Free-form labels.",
        },
        "todos": {
            "type": "array",
            "maxItems": 50,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["content", "status"],
                "properties": {
                    "content": {"type": "string", "minLength": 1},
                    "status": {"type": "string", "enum": ["pending", "in_progress", "completed"]},
                    "activeForm": {"type": "string", "minLength": 1},
                },
            },
        },
    }
    picked = dict(list(props.items())[i % 3 : i % 3 + 5])
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": picked,
        "required": [next(iter(picked))],
        "additionalProperties": False,
    }


def tools() -> list[dict]:
    return [
        {"name": name, "description": _description(name, i), "input_schema": _schema(i)}
        for i, name in enumerate(TOOL_NAMES)
    ]


def _system(padding: int) -> list[dict]:
    ephemeral = {"type": "ephemeral"}
    long_text = (
        "You are an interactive CLI tool that helps users with software engineering tasks. "
        + (_FILLER * (1 + padding // len(_FILLER)))[:padding]
    )
    return [
        {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.197; cc_entrypoint=sdk-cli"},
        {
            "type": "text",
            "text": "You are Claude Code, Anthropic's official CLI for Claude.",
            "cache_control": ephemeral,
        },
        {"type": "text", "text": long_text, "cache_control": ephemeral},
    ]


def _messages(prompt: str) -> list[dict]:
    ephemeral = {"type": "ephemeral"}
    write_input = {"file_path": "/tmp/bench/hello.py", "content": "print('hello')\n"}
    return [
        {
            "role": "user",
            "content": [
                {
                    "type": "text",
                    "text": "<system-reminder>\nAs you answer, use the context below.\n# claudeMd\n"
                    "Codebase instructions: keep modules small.\n</system-reminder>",
                },
                {"type": "text", "text": "Create hello.py that prints hello.", "cache_control": ephemeral},
            ],
        },
        {"role": "system", "content": "The user's working directory is /tmp/bench. Today's date is 2026-01-05."},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "I'll create the file."},
                {"type": "tool_use", "id": "toolu_01", "name": "Write", "input": write_input},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01",
                    "content": "File created successfully at: /tmp/bench/hello.py",
                    "cache_control": ephemeral,
                },
                {"type": "text", "text": prompt},
            ],
        },
    ]


def body(prompt: str, *, stream: bool, model: str = "claude-opus-4-8", target: int = TARGET_BYTES) -> dict:
    """The request, padded in its long system block so its JSON is `target` bytes (within a few)."""

    def build(padding: int) -> dict:
        return {
            "model": model,
            "max_tokens": 64000,
            "stream": stream,
            "thinking": {"type": "adaptive"},
            "output_config": {"effort": "high"},
            "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
            "metadata": {"user_id": '{"device_id":"d0","account_uuid":"a0","session_id":"s0"}'},
            "system": _system(padding),
            "tools": tools(),
            "messages": _messages(prompt),
        }

    base = len(orjson.dumps(build(0)))
    return build(max(0, target - base))
