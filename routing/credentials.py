"""Provider credentials, encrypted at rest with Fernet; never printed or shown back in full."""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class CredentialError(Exception):
    """A stored credential cannot be decrypted (wrong or rotated-out PROXY_ENCRYPTION_KEY)."""


@cache
def _fernet(keys: str) -> MultiFernet:
    # The first key encrypts; every listed key decrypts, which is what makes rotation possible.
    return MultiFernet([Fernet(k.strip().encode()) for k in keys.split(",") if k.strip()])


def encrypt(plain: str) -> str:
    return _fernet(settings.PROXY_ENCRYPTION_KEY).encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet(settings.PROXY_ENCRYPTION_KEY).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise CredentialError("stored credential cannot be decrypted with PROXY_ENCRYPTION_KEY") from exc


def rotate(token: str) -> str:
    """Re-encrypt a stored credential under the first (newest) key."""
    return _fernet(settings.PROXY_ENCRYPTION_KEY).rotate(token.encode()).decode() if token else ""


def mask(secret: str) -> str:
    """`sk-...abcd`: enough to recognise a key, never enough to use it."""
    if not secret:
        return ""
    head = secret[:3] if len(secret) > 12 else ""
    return f"{head}...{secret[-4:]}" if len(secret) > 8 else "..."
