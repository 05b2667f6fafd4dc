"""The SSE decoder for upstream streams and the A frame encoder."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from api.translate.sse import SSEDecoder, encode_event

STREAMS = Path(__file__).resolve().parents[2] / "fixtures" / "streams"


def decode_all(pieces: list[str]) -> list[str]:
    decoder = SSEDecoder()
    out: list[str] = []
    for piece in pieces:
        out += decoder.feed(piece)
    return out + decoder.flush()


@pytest.mark.parametrize(
    ("pieces", "expected"),
    [
        pytest.param(['data: {"a":1}\n\n'], ['{"a":1}'], id="one-frame"),
        pytest.param(
            ['data: {"a":1}\n\ndata: [DONE]\n\n'], ['{"a":1}', "[DONE]"], id="two-frames-in-one-feed"
        ),
        pytest.param(['data: {"a":1}\r\n\r\n'], ['{"a":1}'], id="crlf-line-endings"),
        pytest.param(["da", 'ta: {"a"', ":1}\n", "\n"], ['{"a":1}'], id="a-line-split-across-feeds"),
        pytest.param(['data: {"a":1}\r', "\n\r", "\n"], ['{"a":1}'], id="crlf-split-between-feeds"),
        pytest.param(["data: a\ndata: b\n\n"], ["a\nb"], id="multi-line-data-is-joined-with-newlines"),
        pytest.param(["data:x\n\n"], ["x"], id="no-space-after-the-colon"),
        pytest.param(["data:  x\n\n"], [" x"], id="only-one-leading-space-is-removed"),
        pytest.param(["data\n\n"], [""], id="a-bare-data-field-is-empty-data"),
        pytest.param([": OPENROUTER PROCESSING\n\n", "data: x\n\n"], ["x"], id="comments-are-ignored"),
        pytest.param(
            ["event: message\nid: 7\nretry: 100\ndata: x\n\n"], ["x"], id="other-fields-are-ignored"
        ),
        pytest.param(["\n\n\n"], [], id="blank-lines-alone-dispatch-nothing"),
        pytest.param(["data: [DONE]"], ["[DONE]"], id="flush-dispatches-an-unterminated-last-frame"),
        pytest.param(["data: [DONE]\n"], ["[DONE]"], id="flush-dispatches-a-frame-missing-its-blank-line"),
        pytest.param(
            ['data: {"t":"a\u2028b"}\n\n'],
            ['{"t":"a\u2028b"}'],
            id="unicode-line-separators-stay-in-the-line",
        ),
        pytest.param(["", "data: x", "", "\n\n"], ["x"], id="empty-feeds-are-harmless"),
    ],
)
def test_the_decoder_returns_complete_data_payloads(pieces: list[str], expected: list[str]) -> None:
    assert decode_all(pieces) == expected


def test_feed_returns_a_frame_as_soon_as_its_blank_line_arrives() -> None:
    decoder = SSEDecoder()
    assert decoder.feed("data: a\n") == []
    assert decoder.feed("\ndata: b") == ["a"]
    assert decoder.feed("\n\n") == ["b"]
    assert decoder.flush() == []


@pytest.mark.parametrize("name", sorted(p.name for p in STREAMS.glob("*.sse")))
def test_a_transcript_split_at_any_character_decodes_identically(name: str) -> None:
    text = (STREAMS / name).read_text(encoding="utf-8")
    whole = decode_all([text])
    assert whole[-1] == "[DONE]" and all(json.loads(p) for p in whole[:-1])
    for cut in range(len(text) + 1):
        assert decode_all([text[:cut], text[cut:]]) == whole, f"cut at {cut}"


EVENT = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "café ☕"}}


def test_encode_event_writes_the_event_line_and_compact_utf8_json() -> None:
    assert (
        encode_event(EVENT)
        == (
            'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
            '"delta":{"type":"text_delta","text":"café ☕"}}\n\n'
        ).encode()
    )


def test_encode_event_with_plain_json_dumps_is_still_compact() -> None:
    assert encode_event(EVENT, json.dumps) == encode_event(EVENT)


def test_encode_event_accepts_a_bytes_dumps_such_as_orjson() -> None:
    assert encode_event(EVENT, orjson.dumps) == encode_event(EVENT)


def test_an_encoded_event_decodes_back_to_the_same_payload() -> None:
    assert [json.loads(p) for p in decode_all([encode_event(EVENT).decode()])] == [EVENT]
