"""Per-user proxy keys: made here, stored as a SHA-256 hash, shown to their owner once."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

KEY_PREFIX = "sk-proxy-"
DISPLAY_LENGTH = len(KEY_PREFIX) + 6
ISSUED_KEY = re.compile(re.escape(KEY_PREFIX) + r"[A-Za-z0-9_-]{43}")
"""What `make_key` makes: anything else cannot be an issued key, and is refused without a lookup."""


@dataclass(frozen=True, slots=True)
class NewKey:
    secret: str
    prefix: str
    digest: str


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def make_key() -> NewKey:
    """`sk-proxy-` and 43 random URL-safe characters (256 bits)."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    return NewKey(secret=secret, prefix=secret[:DISPLAY_LENGTH], digest=hash_key(secret))
