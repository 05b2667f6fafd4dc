"""Who may call GET /test-connection, and how often: it spends real upstream calls on every provider
and tells which of them work, so it is for operators, not for every key holder.

Allowed: a management API token (`Authorization: Token ...`, routing/rest/) of a staff user holding
`routing.test_provider`, or a proxy key issued with `may_test_connection`. No credentials, or bad
ones: 401; anyone else: 403. Each caller gets TEST_CONNECTION_PER_MINUTE calls in any minute,
counted on the limit counters every worker shares (api/admission/counters.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings
from knox.auth import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from api.admission.auth import authenticate, presented_key
from api.admission.counters import within_rate
from api.http.errors import GatewayError
from api.translate.errors import ApiError
from routing import access
from routing.snapshot import usable_connection

TOKEN_SCHEME = "token "
log = logging.getLogger("api")


@dataclass(frozen=True, slots=True)
class Tester:
    who: str  # for the log line: "user root (token sk-mgmt-1a2b3c4)" or "key sk-proxy-abcdef (alice)"
    rate_key: str  # one rate-limit counter per token user or per key


def _refused(status: int, message: str) -> GatewayError:
    kind = "authentication_error" if status == 401 else "permission_error"
    return GatewayError(ApiError(status, kind, message, should_retry=False))


@usable_connection
def _token_tester(token: str) -> Tester:
    """knox checks the token (its digest, expiry and active user); the admin's rule checks the permission."""
    try:
        user, row = TokenAuthentication().authenticate_credentials(token.encode())
    except AuthenticationFailed as exc:
        raise _refused(401, f"Management API token refused: {exc.detail}") from None
    if not access.may_test_providers(user):
        raise _refused(403, "Testing connections needs staff status and the routing.test_provider permission.")
    return Tester(who=f"user {user.get_username()} (token {row.token_key}…)", rate_key=f"user:{user.pk}")


async def authorize_tester(request) -> Tester:
    """The caller, if they may test connections; a 401 or 403 GatewayError otherwise."""
    header = request.headers.get("authorization", "")
    if header[: len(TOKEN_SCHEME)].lower() == TOKEN_SCHEME:
        return await sync_to_async(_token_tester)(header[len(TOKEN_SCHEME) :].strip())
    if not presented_key(request):
        raise _refused(401, "Send a management API token (Authorization: Token ...) or a proxy key.")
    caller = await authenticate(request)  # a bad, revoked or expired key is its 401
    if caller.key is None or not caller.key.may_test_connection:
        raise _refused(403, "This key may not test connections: an admin sets may_test_connection on it.")
    return Tester(who=f"key {caller.key.prefix}… ({caller.key.username})", rate_key=f"key:{caller.key.id}")


async def check_tester_rate(tester: Tester) -> None:
    """A sliding minute on the shared limit counters: the same for every worker and replica."""
    wait = await within_rate(f"test-connection:{tester.rate_key}", settings.TEST_CONNECTION_PER_MINUTE)
    if wait is not None:
        message = f"At most {settings.TEST_CONNECTION_PER_MINUTE} connection tests a minute; try again in {wait} s."
        raise GatewayError(ApiError(429, "rate_limit_error", message, retry_after=str(wait)))


def log_tested(tester: Tester, origin: str, asked: str, results: list[dict]) -> None:
    """The audit line of one test: who, from where, what they asked for and what each provider said."""
    outcome = ", ".join(f"{r['provider']} {r['status']}" for r in results) or "none found"
    log.info("test-connection by %s from %s: provider=%r, %s", tester.who, origin, asked, outcome)
