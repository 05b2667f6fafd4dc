"""Who is calling: an issued proxy key (cached by hash), the ANTHROPIC_API_KEY, or anyone (AUTH_MODE=open)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.utils import timezone

from api.admission import throttle
from api.http.errors import GatewayError
from api.translate.errors import ApiError
from routing import snapshot
from routing.keys import ISSUED_KEY, hash_key
from routing.snapshot import KeyInfo


@dataclass(frozen=True, slots=True)
class Caller:
    key: KeyInfo | None = None

    @property
    def user_id(self) -> int | None:
        return self.key.user_id if self.key else None

    @property
    def group_ids(self) -> frozenset[int]:
        return self.key.group_ids if self.key else frozenset()


def _denied(message: str) -> GatewayError:
    return GatewayError(ApiError(401, "authentication_error", message, should_retry=False))


class WrongKey(GatewayError):
    """A key that is none of ours: a guess, as far as the throttle can tell (a revoked or expired key,
    or none at all, is a client to fix, and costs no lookup the cache does not absorb)."""

    def __init__(self) -> None:
        super().__init__(ApiError(401, "authentication_error", "Invalid API key.", should_retry=False))


def presented_key(request) -> str:
    """The client's key from `x-api-key` or `Authorization: Bearer` (Claude Code sends either)."""
    key = request.headers.get("x-api-key", "")
    if not key:
        auth = request.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            key = auth[7:]
    return key.strip()


async def authenticate(request) -> Caller:
    """The caller, or a GatewayError; an address with too many wrong keys is refused before any key check."""
    address = throttle.client_address(request)
    throttle.refuse_if_blocked(address)
    try:
        return await _identify(request)
    except WrongKey:
        await throttle.note_failed_authentication(address)
        raise


async def _identify(request) -> Caller:
    secret = presented_key(request)
    shared = settings.ANTHROPIC_API_KEY
    if secret and shared and hmac.compare_digest(secret.encode(), shared.encode()):
        return Caller()  # the shared key: no user to attribute
    if secret and ISSUED_KEY.fullmatch(secret):  # anything else cannot be ours: no lookup
        digest = hash_key(secret)
        info = await snapshot.keys.get(digest)
        if info is not None and hmac.compare_digest(info.secret_hash, digest):
            if info.revoked:
                raise _denied("This API key has been revoked.")
            if info.expires_at is not None and info.expires_at <= timezone.now():
                raise _denied("This API key has expired.")
            return Caller(key=info)
    if settings.AUTH_MODE == "open":
        _require_local_host(request)
        return Caller()
    if not secret:
        raise _denied("Missing API key: send it as x-api-key or Authorization: Bearer.")
    raise WrongKey()


def _require_local_host(request) -> None:
    """Open mode answers only requests naming an allowed host (by default this machine's loopback names):
    a page on evil.example whose name resolves to 127.0.0.1 (DNS rebinding) sends `Host: evil.example`."""
    try:
        request.get_host()
    except DisallowedHost:
        message = "AUTH_MODE=open serves only the hosts in ALLOWED_HOSTS (by default localhost and 127.0.0.1)."
        raise GatewayError(ApiError(403, "permission_error", message, should_retry=False)) from None
