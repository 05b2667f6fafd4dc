"""User-side content blocks as OpenAI content parts (protocol.md §1.2).

Text, images, documents and search results become `text`, `image_url` and `file` parts. What the
upstream cannot take (per its profile) is refused with a `TranslationError` naming the block's
path, so the client gets a clear 400 instead of an upstream error surfacing as a 500.
"""

from __future__ import annotations

from .profiles import Profile
from .types import JSON, TranslationError

_DROPPED = frozenset({"container_upload", "tool_reference"})
"""Anthropic-only references (code-execution uploads, tool-search hits): nothing to render."""


def text_part(text: str) -> JSON:
    return {"type": "text", "text": text}


def joined_text(value: object, separator: str = "\n\n") -> str:
    """A string or a list of text blocks as one string, blank blocks skipped."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        return ""
    texts = (b.get("text") for b in value if isinstance(b, dict))
    return separator.join(t for t in texts if isinstance(t, str) and t.strip())


def with_cache_control(parts: list[JSON], block: JSON, profile: Profile) -> list[JSON]:
    """The block's A `cache_control` on its last part, for profiles that honour it (else dropped)."""
    marker = block.get("cache_control")
    if parts and profile.cache_control and isinstance(marker, dict):
        parts[-1] = {**parts[-1], "cache_control": marker}
    return parts


def content_parts(block: JSON, path: str, profile: Profile) -> list[JSON]:
    """O parts for one user or tool_result block (with its cache breakpoint where honoured)."""
    return with_cache_control(_block_parts(block, path, profile), block, profile)


def _block_parts(block: JSON, path: str, profile: Profile) -> list[JSON]:
    """O parts for one block; blank text and A-only references give none."""
    kind = block["type"]
    if kind == "text":
        text = block["text"]
        return [text_part(text)] if text.strip() else []
    if kind == "image":
        return [image_part(block["source"], path, profile)]
    if kind == "document":
        return document_parts(block, path, profile)
    if kind == "search_result":
        return [text_part(search_result_text(block))]
    if kind in _DROPPED:
        return []
    raise TranslationError(f"'{kind}' blocks are not supported here", path)


def image_part(source: JSON, path: str, profile: Profile) -> JSON:
    """An `image_url` part: base64 sources become data URLs, URL sources pass when allowed."""
    kind = source.get("type")
    if kind == "base64":
        media_type, data = source.get("media_type"), source.get("data")
        if not isinstance(media_type, str) or not isinstance(data, str):
            raise TranslationError("base64 image source needs string media_type and data", path + ".source")
        if media_type not in profile.image_media_types:
            allowed = ", ".join(sorted(profile.image_media_types)) or "none"
            raise TranslationError(
                f"image media type '{media_type}' is not supported by this model (supported: {allowed})", path
            )
        return {"type": "image_url", "image_url": {"url": f"data:{media_type};base64,{data}"}}
    if kind == "url":
        url = source.get("url")
        if not isinstance(url, str):
            raise TranslationError("url image source needs a string url", path + ".source.url")
        if not profile.image_urls:
            raise TranslationError("image URLs are not supported by this model; send base64 data", path)
        return {"type": "image_url", "image_url": {"url": url}}
    raise TranslationError(f"image source type {kind!r} is not supported", path + ".source")


def document_parts(block: JSON, path: str, profile: Profile) -> list[JSON]:
    """A document: PDFs as `file` parts (when supported), text and content sources as text/images."""
    source = block["source"]
    kind = source.get("type")
    header = "\n".join(v for v in (block.get("title"), block.get("context")) if isinstance(v, str) and v)
    if kind == "base64":
        return [_pdf_part(source, block.get("title"), path, profile)]
    if kind == "text":
        data = source.get("data")
        if not isinstance(data, str):
            raise TranslationError("text document source needs string data", path + ".source.data")
        return [text_part(f"{header}\n\n{data}" if header else data)]
    if kind == "content":
        parts = _source_content_parts(source.get("content"), path + ".source.content", profile)
        return [text_part(header), *parts] if header else parts
    if kind == "url":
        raise TranslationError("document URLs are not supported; send the document as base64", path)
    raise TranslationError(f"document source type {kind!r} is not supported", path + ".source")


def _pdf_part(source: JSON, title: object, path: str, profile: Profile) -> JSON:
    media_type, data = source.get("media_type"), source.get("data")
    if media_type != "application/pdf" or not isinstance(data, str):
        raise TranslationError("base64 document source must be an application/pdf with string data", path)
    if not profile.pdf:
        raise TranslationError("PDF documents are not supported by this model", path)
    filename = title if isinstance(title, str) and title else "document.pdf"
    file_data = f"data:application/pdf;base64,{data}"
    return {"type": "file", "file": {"filename": filename, "file_data": file_data}}


def _source_content_parts(content: object, path: str, profile: Profile) -> list[JSON]:
    """A `content` document source (a string, or text and image blocks) flattened into parts."""
    if isinstance(content, str):
        return [text_part(content)] if content.strip() else []
    if not isinstance(content, list):
        raise TranslationError("must be a string or a list of text and image blocks", path)
    parts: list[JSON] = []
    for k, inner in enumerate(content):
        kind = inner.get("type") if isinstance(inner, dict) else None
        if kind == "text" and isinstance(inner.get("text"), str):
            if inner["text"].strip():
                parts.append(text_part(inner["text"]))
        elif kind == "image" and isinstance(inner.get("source"), dict):
            parts.append(image_part(inner["source"], f"{path}.{k}", profile))
        else:
            raise TranslationError("must be a text or image block", f"{path}.{k}")
    return parts


def search_result_text(block: JSON) -> str:
    """A search result rendered as text: title, source, then its contents."""
    lines = [v for v in (block.get("title"), block.get("source")) if isinstance(v, str) and v]
    body = joined_text(block.get("content"))
    return "\n".join(lines) + ("\n\n" + body if body else "")
