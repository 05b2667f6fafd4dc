"""Ids, tool names and thinking signatures that must survive a round trip through the client.

Every transform here is deterministic, so the proxy stays stateless: the client sends back the
same ids and names we gave it, and the same functions map them again on the next request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

_SAFE_ID = re.compile(r"^[a-zA-Z0-9_-]{1,40}$")
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SIGNATURE_PREFIX = "proxy:"
_SIGNATURE_KEY = b"anthropic-openai-proxy/thinking"

MAX_UPSTREAM_TOOL_NAME = 64


def random_base62(n: int) -> str:
    """`n` random base62 characters from one urandom call (one `secrets.choice` per character was a
    measurable share of a request's CPU)."""
    value = int.from_bytes(secrets.token_bytes(n))  # 8 bits per char >= log2(62): uniform enough for ids
    chars = []
    for _ in range(n):
        value, digit = divmod(value, 62)
        chars.append(_BASE62[digit])
    return "".join(chars)


def new_message_id() -> str:
    return "msg_" + random_base62(24)


def client_tool_id(upstream_id: str | None) -> str:
    """An upstream tool-call id as the client may see it (A requires ``^[a-zA-Z0-9_-]+$``)."""
    if not upstream_id:
        return "toolu_" + random_base62(24)
    if _SAFE_ID.match(upstream_id):
        return upstream_id
    return "toolu_" + hashlib.sha256(upstream_id.encode()).hexdigest()[:24]


def upstream_tool_id(client_id: str, *, mistral: bool = False) -> str:
    """A client tool_use id as the upstream wants it (OpenAI: at most 40 chars; Mistral: 9 alnum)."""
    if mistral:
        digest = hashlib.sha256(client_id.encode()).digest()
        return "".join(_BASE62[b % 62] for b in digest[:9])
    return client_tool_id(client_id)


def upstream_tool_name(name: str) -> str:
    """Tool names over 64 chars (OpenAI's limit) become ``prefix55 + "_" + sha256[:8]``.

    A names already match ``^[a-zA-Z0-9_-]{1,128}$``, so only the length needs care; the caller
    keeps the reverse map in `Context.tool_names`.
    """
    if len(name) <= MAX_UPSTREAM_TOOL_NAME:
        return name
    return name[:55] + "_" + hashlib.sha256(name.encode()).hexdigest()[:8]


def thinking_signature(text: str) -> str:
    """An opaque, non-empty signature for a thinking block the proxy made."""
    mac = hmac.new(_SIGNATURE_KEY, text.encode(), hashlib.sha256).digest()[:18]
    return _SIGNATURE_PREFIX + base64.urlsafe_b64encode(mac).decode()


def is_proxy_signature(signature: str | None) -> bool:
    """True for signatures this proxy minted (pass-through strips those blocks) or empty ones."""
    return not signature or signature.startswith(_SIGNATURE_PREFIX)
