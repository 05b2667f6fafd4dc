"""Tell every worker and replica to drop its key and route snapshots at once (Redis pub/sub).

Without Redis (CACHE_URL unset) each process sees changes made elsewhere within CACHE_SECONDS;
with it, a revoked key or an edited route is dropped everywhere within milliseconds.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings

from routing import snapshot

log = logging.getLogger("routing.invalidation")
_listener: threading.Thread | None = None


def enabled() -> bool:
    return settings.CACHE_URL.startswith(("redis://", "rediss://", "unix://"))


def _client():
    import redis

    return redis.Redis.from_url(settings.CACHE_URL, socket_connect_timeout=2, socket_timeout=2)


def channel(client) -> str:
    """Pub/sub channels span every database of a Redis server: the name carries the database and the
    cache's key prefix, so gateways that share a server on other databases never drop our snapshots."""
    database = client.connection_pool.connection_kwargs.get("db", 0)
    return f"{settings.CACHES['default']['KEY_PREFIX']}:{database}:invalidate"


def publish() -> None:
    """Drop this process's snapshots now and ask every other process to do the same."""
    snapshot.invalidate_all()
    if not enabled():
        return
    try:
        client = _client()
        client.publish(channel(client), b"1")
    except Exception as exc:  # others still catch up within CACHE_SECONDS
        log.warning("could not publish an invalidation: %s", type(exc).__name__)


def start_listener() -> None:
    """A daemon thread per process that drops the snapshots on every published invalidation."""
    global _listener
    if not enabled() or (_listener is not None and _listener.is_alive()):
        return
    _listener = threading.Thread(target=_listen, name="invalidation-listener", daemon=True)
    _listener.start()


def _listen() -> None:
    while True:
        try:
            client = _client()
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(channel(client))
            snapshot.invalidate_all()  # anything missed while (re)connecting
            for message in pubsub.listen():
                if message.get("type") == "message":
                    snapshot.invalidate_all()
        except Exception as exc:
            log.warning("invalidation listener lost Redis (%s); reconnecting", type(exc).__name__)
            time.sleep(1.0)
