"""Prompt-cache routing: a stable OpenAI `prompt_cache_key` per caller and Claude Code session.

OpenAI routes requests with the same key and prompt prefix to the same cache; a key per session
keeps one conversation's turns together without pooling unrelated users. The key is a hash, so
neither the proxy key nor the client's `metadata.user_id` reaches the provider.
"""

from __future__ import annotations

import hashlib
import json
import re

from .types import JSON

_LEGACY_SESSION = re.compile(r"_session_([0-9a-fA-F-]{8,64})$")
"""Claude Code 1.x: ``user_<hash>_account_<uuid>_session_<uuid>``."""


def session_id(metadata: object) -> str | None:
    """Claude Code's session id from `metadata.user_id` (2.x sends a JSON object as a string)."""
    user_id = metadata.get("user_id") if isinstance(metadata, dict) else None
    if not isinstance(user_id, str):
        return None
    try:
        decoded = json.loads(user_id)
    except ValueError:
        decoded = None
    if isinstance(decoded, dict):
        session = decoded.get("session_id")
        return session if isinstance(session, str) and session else None
    match = _LEGACY_SESSION.search(user_id)
    return match.group(1) if match else None


def prompt_cache_key(caller: str, body: JSON) -> str:
    """``gw-`` and 40 hex chars (OpenAI allows 64) for the caller and the body's session, if any.

    The caller and session are hashed as a JSON pair, so no crafted session id can collide with
    another caller's key.
    """
    pair = json.dumps([caller, session_id(body.get("metadata"))])
    return "gw-" + hashlib.sha256(pair.encode()).hexdigest()[:40]
