"""Per-key limits checked before any upstream call."""

from __future__ import annotations

from api.auth import Caller
from api.errors import GatewayError
from api.translate.errors import ApiError


def check_model_allowed(caller: Caller, model: str) -> None:
    """403 when the key names allowed model patterns and none matches."""
    key = caller.key
    if key is None or not key.model_patterns:
        return
    wanted = model.lower()
    if not any(p.match(wanted) for p in key.model_patterns):
        raise GatewayError(
            ApiError(403, "permission_error", f"This API key may not use model {model!r}.", should_retry=False)
        )
