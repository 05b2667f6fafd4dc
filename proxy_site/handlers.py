"""A lean Django ASGI handler for the API paths (the hot path).

Django's own handler wraps every request in a `ThreadSensitiveContext` (a new thread per request as
soon as anything hops to sync code) and runs the whole middleware stack, whose sync-only hooks
(sessions, CSRF, auth, messages) each hop to a thread. The API needs none of them: this handler
runs the same views through only `API_MIDDLEWARE` (async-capable), and sends no request signals:
their receivers (closing stale database connections, resetting the query log) cost two thread hops
per request, while the API path touches the database only on a cache miss, which checks its
connection itself (`routing.snapshot.usable_connection`). Measured with `make bench`; see README
"Performance".

Both handlers here read the body through `edge.read_bounded_body`: an oversized or slow body is
refused before it is spooled, before authentication (README "Hostile traffic").
"""

from __future__ import annotations

import asyncio
import io

from django.conf import settings
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import HttpResponse
from django.urls import Resolver404, resolve, set_script_prefix

from proxy_site.edge import BodyRefused, closing, read_bounded_body, refuse_declared_length

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

    async def handle(self, scope, receive, send) -> None:
        """Django's `ASGIHandler.handle` without `request_started`, closing the response inline."""
        try:
            refuse_declared_length(scope, settings.MAX_BODY_BYTES)
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        except BodyRefused as refused:
            await self._refuse_body(scope, refused, send)
            return
        try:
            set_script_prefix(get_script_prefix(scope))
            request, response = self.create_request(scope, body_file)
            if request is None:
                await self.send_response(response, send)
            else:
                response = await self._respond_unless_gone(request, receive, send)
            if response is not None:
                response.close()  # request_finished: its receivers find nothing to close on this thread
        finally:
            body_file.close()

    async def read_body(self, receive):
        return await read_bounded_body(receive, settings.MAX_BODY_BYTES)

    async def _refuse_body(self, scope, refused: BodyRefused, send) -> None:
        """The refusal in Anthropic's shape, with the request's usage row (the request, minus its body)."""
        from api.accounting.exchange import Exchange

        request, response = self.create_request(scope, io.BytesIO())
        if request is not None:
            response = closing(Exchange.begin(request, _endpoint(request.path)).fail(refused.error))
        await self.send_response(response, send)

    async def _respond_unless_gone(self, request, receive, send):
        """Run the view and send its response in this task; a client that disconnects first cancels
        it. Django runs the response in a task of its own and waits for either: that is one task and
        one event-loop turn more per request, and under load every turn before the first byte waits
        behind all the other streams' callbacks."""
        current = asyncio.current_task()
        finished = False
        listener = asyncio.create_task(self.listen_for_disconnect(receive))
        listener.add_done_callback(lambda _: finished or current.cancel())
        response = None
        try:
            response = await self.run_get_response(request)
            await self.send_response(response, send)
        except asyncio.CancelledError:
            if not listener.done() or listener.cancelled():
                raise  # cancelled by someone else (the server shutting down): not ours to swallow
            current.uncancel()  # the client left: the view has recorded it; end quietly, as Django does
        finally:
            finished = True
            listener.cancel()
        if listener.done() and not listener.cancelled() and isinstance(listener.exception(), AssertionError):
            raise listener.exception()  # an ASGI message out of order, as Django reports it
        return response


def _endpoint(path: str) -> str:
    """The usage log's name for `path`'s endpoint, as its view records it (`api_view`)."""
    try:
        return getattr(resolve(path).func, "endpoint", "unknown")
    except Resolver404:
        return "unknown"


class SiteASGIHandler(ASGIHandler):
    """Django's handler for everything else (admin, management API), with the body bounded as on the
    API paths by DATA_UPLOAD_MAX_MEMORY_SIZE, which Django itself checks only after spooling it."""

    async def handle(self, scope, receive, send) -> None:
        try:
            refuse_declared_length(scope, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
            await super().handle(scope, receive, send)
        except BodyRefused as refused:  # from read_body: nothing was sent yet
            response = HttpResponse(refused.error.message, status=refused.error.status, content_type="text/plain")
            await self.send_response(closing(response), send)

    async def read_body(self, receive):
        return await read_bounded_body(receive, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
