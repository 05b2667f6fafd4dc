"""Graceful shutdown: on SIGTERM/SIGINT in-flight streams get a grace period, then an `error` event.

uvicorn stops accepting connections and waits for open ones; this module only tells our streams
how long they still have, so they can end with an honest error instead of being cut mid-frame.
"""

from __future__ import annotations

import logging
import signal
import time

log = logging.getLogger("api.http.lifecycle")
_deadline: float | None = None


def begin_drain(grace: float) -> None:
    global _deadline
    if _deadline is None:
        _deadline = time.monotonic() + grace
        log.warning("shutting down: in-flight streams have %.0f s to finish", grace)


def time_left() -> float | None:
    """Seconds until in-flight streams must end, or None when not shutting down."""
    return None if _deadline is None else _deadline - time.monotonic()


def expired() -> bool:
    left = time_left()
    return left is not None and left <= 0


def install_signal_hooks(grace: float) -> None:
    """Chain our drain start in front of the server's own SIGTERM/SIGINT handlers (main thread only)."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)

        def handler(signum, frame, previous=previous):
            begin_drain(grace)
            if callable(previous):
                previous(signum, frame)

        signal.signal(sig, handler)


def reset() -> None:
    """For tests: forget a drain in progress."""
    global _deadline
    _deadline = None
