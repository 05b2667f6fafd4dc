"""A lean Django ASGI handler for the API paths (the hot path).

Django's own handler wraps every request in a `ThreadSensitiveContext` (a new thread per request as
soon as anything hops to sync code) and runs the whole middleware stack, whose sync-only hooks
(sessions, CSRF, auth, messages) each hop to a thread. The API needs none of them: this handler
runs the same views through only `API_MIDDLEWARE` (async-capable), and its few remaining sync steps
(request signals, response close) share asgiref's one worker thread instead of starting a new one.
Measured with `make bench`; see README "Performance".
"""

from __future__ import annotations

from django.conf import settings
from django.core.handlers.asgi import ASGIHandler

API_PREFIXES = ("/v1/",)
API_PATHS = frozenset({"/", "/health", "/metrics", "/test-connection"})


def is_api_path(path: str) -> bool:
    return path in API_PATHS or path.startswith(API_PREFIXES)


class ApiASGIHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        # BaseHandler reads settings.MIDDLEWARE; swap in the API list just while the chain is built.
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.API_MIDDLEWARE
        try:
            super().load_middleware(is_async=is_async)
        finally:
            settings.MIDDLEWARE = full

    async def __call__(self, scope, receive, send) -> None:
        await self.handle(scope, receive, send)
