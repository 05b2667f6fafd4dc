"""Messages conversion and the repair pass (protocol.md §1.2, §1.3, §2; conformance 13-23)."""

from __future__ import annotations

from typing import Any

import pytest

from api.translate.ids import upstream_tool_id
from api.translate.messages import convert_messages
from api.translate.profiles import PROFILES, Profile
from api.translate.types import TranslationError

OPENAI = PROFILES["openai"]
OLLAMA = PROFILES["ollama"]
DEEPSEEK = PROFILES["deepseek"]
GEMINI = PROFILES["gemini"]
MISTRAL = PROFILES["mistral"]

PNG = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}}
GIF = {"type": "image", "source": {"type": "base64", "media_type": "image/gif", "data": "R0lG"}}
URL_IMAGE = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
PDF = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}}
PNG_PART = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}}


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def tool_use(tool_id: str, name: str = "Bash", **tool_input: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}


def tool_result(tool_id: str, content: Any = None, **extra: Any) -> dict[str, Any]:
    block = {"type": "tool_result", "tool_use_id": tool_id, **extra}
    if content is not None:
        block["content"] = content
    return block


def user(*blocks: Any) -> dict[str, Any]:
    return {"role": "user", "content": list(blocks)}


def assistant(*blocks: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": list(blocks)}


def call(tool_id: str, name: str = "Bash", arguments: str = "{}") -> dict[str, Any]:
    return {"id": tool_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def convert(messages: list[dict[str, Any]], profile: Profile = OPENAI, **body: Any) -> list[dict[str, Any]]:
    return convert_messages({"messages": messages, **body}, profile)


HI = user(text("hi"))

CASES = [
    pytest.param(
        [
            HI,
            assistant(text("a"), tool_use("t1", command="ls"), tool_use("t2", command="pwd")),
            user(tool_result("t1", "x"), tool_result("t2", "y"), text("go on")),
        ],
        OPENAI,
        [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": "a",
                "tool_calls": [
                    call("t1", arguments='{"command":"ls"}'),
                    call("t2", arguments='{"command":"pwd"}'),
                ],
            },
            {"role": "tool", "tool_call_id": "t1", "content": "x"},
            {"role": "tool", "tool_call_id": "t2", "content": "y"},
            {"role": "user", "content": "go on"},
        ],
        id="c13_tool_calls_then_tool_messages_then_user_text_in_order",
    ),
    pytest.param(
        [HI, assistant(tool_use("t1")), user(tool_result("t1", "boom", is_error=True))],
        OPENAI,
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": None, "tool_calls": [call("t1")]},
            {"role": "tool", "tool_call_id": "t1", "content": "[tool error] boom"},
        ],
        id="c14_an_error_result_carries_an_error_marker",
    ),
    pytest.param(
        [HI, assistant(tool_use("t1")), user(tool_result("t1", [text("see"), PNG]))],
        OPENAI,
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": None, "tool_calls": [call("t1")]},
            {"role": "tool", "tool_call_id": "t1", "content": "see"},
            {"role": "user", "content": [text("[image from tool result t1]"), PNG_PART]},
        ],
        id="c15_tool_result_images_follow_in_a_user_message",
    ),
    pytest.param(
        [HI, assistant(tool_use("t1")), user(tool_result("t1", [PNG]), text("and?"))],
        OPENAI,
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": None, "tool_calls": [call("t1")]},
            {"role": "tool", "tool_call_id": "t1", "content": "[image attached in next message]"},
            {"role": "user", "content": [text("[image from tool result t1]"), PNG_PART, text("and?")]},
        ],
        id="an_image_only_result_points_to_the_next_message_which_merges_with_user_text",
    ),
    pytest.param(
        [
            HI,
            assistant(tool_use("t1"), tool_use("t2"), tool_use("t3")),
            user(tool_result("t1"), tool_result("t2", ""), tool_result("t3", [text("  ")])),
        ],
        OPENAI,
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": None, "tool_calls": [call("t1"), call("t2"), call("t3")]},
            {"role": "tool", "tool_call_id": "t1", "content": "(no output)"},
            {"role": "tool", "tool_call_id": "t2", "content": "(no output)"},
            {"role": "tool", "tool_call_id": "t3", "content": "(no output)"},
        ],
        id="c16_empty_results_get_a_placeholder",
    ),
    pytest.param(
        [HI, assistant(tool_use("t1")), user(tool_result("t1", [text("line 1"), text("line 2")]))],
        OPENAI,
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": None, "tool_calls": [call("t1")]},
            {"role": "tool", "tool_call_id": "t1", "content": "line 1\nline 2"},
        ],
        id="tool_result_text_blocks_are_joined",
    ),
    pytest.param(
        [HI, assistant(text("let me run it"), tool_use("t1")), user(text("never mind"))],
        OPENAI,
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "let me run it", "tool_calls": [call("t1")]},
            {"role": "tool", "tool_call_id": "t1", "content": "Tool call was not executed."},
            {"role": "user", "content": "never mind"},
        ],
        id="c17_an_unanswered_call_gets_a_synthetic_result_before_the_user_turn",
    ),
    pytest.param(
        [HI, assistant(tool_use("t1"))],
        OPENAI,
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": None, "tool_calls": [call("t1")]},
            {"role": "tool", "tool_call_id": "t1", "content": "Tool call was not executed."},
        ],
        id="a_trailing_unanswered_call_gets_a_synthetic_result",
    ),
    pytest.param(
        [HI, assistant(text("ok")), user(tool_result("t9", "late"), text("next"))],
        OPENAI,
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "[result of tool call t9]: late\n\nnext"},
        ],
        id="c18_an_orphan_result_becomes_user_text",
    ),
    pytest.param(
        [
            HI,
            assistant(tool_use("t1")),
            user(tool_result("t1", "a"), tool_result("t1", "again"), tool_result("zz", "b")),
        ],
        OPENAI,
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": None, "tool_calls": [call("t1")]},
            {"role": "tool", "tool_call_id": "t1", "content": "a"},
            {"role": "user", "content": "[result of tool call t1]: again\n\n[result of tool call zz]: b"},
        ],
        id="duplicate_and_foreign_results_after_a_call_become_user_text",
    ),
    pytest.param(
        [HI, assistant(tool_use("t1", command="a"), tool_use("t1", command="b")), user(tool_result("t1", "ok"))],
        OPENAI,
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": None, "tool_calls": [call("t1", arguments='{"command":"a"}')]},
            {"role": "tool", "tool_call_id": "t1", "content": "ok"},
        ],
        id="a_repeated_call_id_keeps_only_the_first_call",
    ),
    pytest.param(
        [user(tool_result("t0", "stale")), assistant(text("hello"))],
        OPENAI,
        [
            {"role": "user", "content": "[result of tool call t0]: stale"},
            {"role": "assistant", "content": "hello"},
        ],
        id="an_orphan_result_at_the_start_becomes_user_text",
    ),
    pytest.param(
        [user(text("one")), user(text("two"))],
        OPENAI,
        [{"role": "user", "content": "one\n\ntwo"}],
        id="c19_consecutive_user_messages_merge",
    ),
    pytest.param(
        [user(text("look")), user(PNG)],
        OPENAI,
        [{"role": "user", "content": [text("look"), PNG_PART]}],
        id="merging_text_with_an_image_gives_a_parts_list",
    ),
    pytest.param(
        [
            HI,
            assistant(tool_use("t1")),
            assistant(text("and"), tool_use("t2")),
            user(tool_result("t1", "1"), tool_result("t2", "2")),
        ],
        OPENAI,
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "and", "tool_calls": [call("t1"), call("t2")]},
            {"role": "tool", "tool_call_id": "t1", "content": "1"},
            {"role": "tool", "tool_call_id": "t2", "content": "2"},
        ],
        id="consecutive_assistant_messages_merge_their_tool_calls",
    ),
    pytest.param(
        [HI, assistant(text("a")), assistant(text("b"))],
        OPENAI,
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "a\n\nb"}],
        id="consecutive_assistant_texts_join",
    ),
    pytest.param(
        [
            HI,
            assistant(
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "redacted_thinking", "data": "opaque"},
                text("a"),
            ),
        ],
        OPENAI,
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "a"}],
        id="c22_thinking_is_dropped_for_openai",
    ),
    pytest.param(
        [
            HI,
            assistant(
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "redacted_thinking", "data": "opaque"},
                text("a"),
                tool_use("t1"),
            ),
            user(tool_result("t1", "ok")),
        ],
        DEEPSEEK,
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "a", "tool_calls": [call("t1")], "reasoning_content": "hmm"},
            {"role": "tool", "tool_call_id": "t1", "content": "ok"},
        ],
        id="c22_thinking_is_echoed_as_reasoning_content_for_deepseek",
    ),
    pytest.param(
        [HI, assistant({"type": "thinking", "thinking": "hmm", "signature": "sig"}, text("a"))],
        OLLAMA,
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "a", "reasoning": "hmm"}],
        id="thinking_is_echoed_as_reasoning_for_ollama",
    ),
    pytest.param(
        [user(text(""), text("real"), text("   ")), assistant(text(""), text("answer"))],
        OPENAI,
        [{"role": "user", "content": "real"}, {"role": "assistant", "content": "answer"}],
        id="c23_empty_and_blank_text_blocks_are_dropped",
    ),
    pytest.param(
        [user(text("a"), text("b"))],
        OPENAI,
        [{"role": "user", "content": "a\n\nb"}],
        id="text_only_user_content_is_one_string",
    ),
    pytest.param(
        [HI, assistant(tool_use("t1"))],
        GEMINI,
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "", "tool_calls": [call("t1")]},
            {"role": "tool", "tool_call_id": "t1", "content": "Tool call was not executed."},
        ],
        id="tool_only_assistant_content_is_an_empty_string_where_null_is_rejected",
    ),
    pytest.param(
        [assistant(text("I was saying")), user(text("go on"))],
        OLLAMA,
        [
            {"role": "user", "content": "(continue)"},
            {"role": "assistant", "content": "I was saying"},
            {"role": "user", "content": "go on"},
        ],
        id="strict_templates_get_a_leading_user_turn",
    ),
    pytest.param(
        [assistant(text("I was saying"))],
        OPENAI,
        [{"role": "assistant", "content": "I was saying"}],
        id="other_upstreams_may_start_with_the_assistant",
    ),
    pytest.param(
        [user(text("hi"), {"type": "mid_conv_system", "content": [text("be brief")]})],
        OPENAI,
        [{"role": "user", "content": "hi"}, {"role": "system", "content": "be brief"}],
        id="a_mid_conv_system_block_becomes_a_system_message_after_the_user_content",
    ),
    pytest.param(
        [user(text("hi"), {"type": "mid_conv_system", "content": "be brief"})],
        OLLAMA,
        [{"role": "user", "content": "hi\n\n[System instruction]\nbe brief"}],
        id="a_mid_conv_system_block_becomes_marked_user_text_for_strict_templates",
    ),
    pytest.param(
        [
            HI,
            assistant(
                {"type": "server_tool_use", "id": "s1", "name": "web_search", "input": {"query": "news"}},
                {
                    "type": "web_search_tool_result",
                    "tool_use_id": "s1",
                    "content": [
                        {
                            "type": "web_search_result",
                            "title": "T",
                            "url": "https://t",
                            "encrypted_content": "e",
                        }
                    ],
                },
                text("Here is the news."),
            ),
        ],
        OPENAI,
        [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": "[web_search: news]\n[web_search results]\n- T (https://t)\nHere is the news.",
            },
        ],
        id="server_tool_use_and_search_results_render_as_assistant_text",
    ),
    pytest.param(
        [
            HI,
            assistant(
                text("ran it"),
                {"type": "code_execution_tool_result", "tool_use_id": "s1", "content": {"stdout": "x"}},
            ),
        ],
        OPENAI,
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ran it"}],
        id="other_server_tool_results_are_dropped",
    ),
    pytest.param(
        [user(text("see file"), {"type": "container_upload", "file_id": "f1"})],
        OPENAI,
        [{"role": "user", "content": "see file"}],
        id="container_uploads_are_dropped",
    ),
    pytest.param(
        [user({"type": "search_result", "title": "Doc", "source": "https://d", "content": [text("body")]})],
        OPENAI,
        [{"role": "user", "content": "Doc\nhttps://d\n\nbody"}],
        id="a_search_result_renders_as_text",
    ),
    pytest.param(
        [
            user(
                {
                    "type": "document",
                    "title": "Notes",
                    "context": "from the wiki",
                    "source": {"type": "text", "media_type": "text/plain", "data": "content"},
                }
            )
        ],
        OPENAI,
        [{"role": "user", "content": "Notes\nfrom the wiki\n\ncontent"}],
        id="a_text_document_becomes_text_with_its_title_and_context",
    ),
    pytest.param(
        [user({"type": "document", "source": {"type": "content", "content": [text("part"), PNG]}})],
        OPENAI,
        [{"role": "user", "content": [text("part"), PNG_PART]}],
        id="a_content_document_is_flattened",
    ),
    pytest.param(
        [user(PDF)],
        OPENAI,
        [
            {
                "role": "user",
                "content": [
                    {
                        "type": "file",
                        "file": {"filename": "document.pdf", "file_data": "data:application/pdf;base64,JVBE"},
                    }
                ],
            }
        ],
        id="c21_a_pdf_becomes_a_file_part_for_openai",
    ),
    pytest.param(
        [user(URL_IMAGE)],
        OPENAI,
        [
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}],
            }
        ],
        id="an_image_url_passes_where_urls_are_accepted",
    ),
]


@pytest.mark.parametrize(("messages", "profile", "expected"), CASES)
def test_messages_translate_to_exact_openai_messages(
    messages: list[dict[str, Any]], profile: Profile, expected: list[dict[str, Any]]
) -> None:
    assert convert(messages, profile) == expected


def test_the_leading_system_message_joins_blocks_and_drops_cache_control() -> None:
    system = [
        {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "  "},
        {"type": "text", "text": "Be careful.", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
    ]
    assert convert([HI], system=system)[0] == {
        "role": "system",
        "content": "You are Claude Code.\n\nBe careful.",
    }


def test_a_system_role_message_stays_in_place_for_openai() -> None:
    messages = [HI, assistant(text("x")), {"role": "system", "content": [text("rule 1"), text("rule 2")]}]
    assert convert(messages, system="top") == [
        {"role": "system", "content": "top"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "x"},
        {"role": "system", "content": "rule 1\n\nrule 2"},
    ]


def test_odd_tool_ids_are_mapped_the_same_way_in_calls_and_results() -> None:
    odd = "functions.Bash:0"
    out = convert([HI, assistant(tool_use(odd)), user(tool_result(odd, "ok"))])
    assert out[1]["tool_calls"][0]["id"] == out[2]["tool_call_id"] == upstream_tool_id(odd)
    assert out[2]["tool_call_id"] != odd


def test_mistral_ids_are_nine_alphanumerics_on_both_sides() -> None:
    out = convert([HI, assistant(tool_use("toolu_01ABC")), user(tool_result("toolu_01ABC", "ok"))], MISTRAL)
    call_id = out[1]["tool_calls"][0]["id"]
    assert call_id == out[2]["tool_call_id"]
    assert len(call_id) == 9 and call_id.isalnum()


def test_long_tool_names_in_history_are_shortened_like_the_tool_definitions() -> None:
    name = "mcp__server__" + "y" * 90
    out = convert([HI, assistant(tool_use("t1", name)), user(tool_result("t1", "ok"))])
    assert len(out[1]["tool_calls"][0]["function"]["name"]) <= 64


REFUSED = [
    pytest.param([user(text("look"), GIF)], OLLAMA, "messages.0.content.1", "image/gif", id="c20_a_gif_for_ollama"),
    pytest.param(
        [HI, assistant(tool_use("t1")), user(tool_result("t1", [GIF]))],
        OLLAMA,
        "messages.2.content.0.content.0",
        "image/gif",
        id="a_gif_inside_a_tool_result_for_ollama",
    ),
    pytest.param([user(text("x"), PDF)], OLLAMA, "messages.0.content.1", "PDF", id="c21_a_pdf_without_file_support"),
    pytest.param([user(URL_IMAGE)], OLLAMA, "messages.0.content.0", "URLs", id="an_image_url_for_ollama"),
    pytest.param(
        [user({"type": "document", "source": {"type": "url", "url": "https://x/a.pdf"}})],
        OPENAI,
        "messages.0.content.0",
        "document URLs",
        id="a_document_url",
    ),
    pytest.param(
        [user({"type": "document", "source": {"type": "file", "file_id": "file_1"}})],
        OPENAI,
        "messages.0.content.0.source",
        "not supported",
        id="a_files_api_document",
    ),
    pytest.param(
        [user({"type": "image", "source": {"type": "base64", "media_type": "image/png"}})],
        OPENAI,
        "messages.0.content.0.source",
        "data",
        id="a_base64_image_without_data",
    ),
    pytest.param([user(text(" "))], OPENAI, "messages", "no message content", id="a_conversation_with_nothing_left"),
]


@pytest.mark.parametrize(("messages", "profile", "path", "fragment"), REFUSED)
def test_unsupported_content_is_refused_with_its_block_path(
    messages: list[dict[str, Any]], profile: Profile, path: str, fragment: str
) -> None:
    with pytest.raises(TranslationError) as caught:
        convert(messages, profile)
    assert caught.value.path == path
    assert fragment in str(caught.value)
    assert (caught.value.status, caught.value.error_type) == (400, "invalid_request_error")


def test_message_dicts_from_the_request_are_not_mutated() -> None:
    original = [
        HI,
        assistant(text("a"), tool_use("t1")),
        user(tool_result("t1", "x"), text("more")),
        user(text("y")),
    ]
    snapshot = repr(original)
    convert(original, OLLAMA)
    assert repr(original) == snapshot
