"""ASGI entry point: Django for HTTP, plus the lifespan that starts and stops the gateway's workers."""

from __future__ import annotations

import logging
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proxy_site.settings")

import django

django.setup(set_prefix=False)  # as get_asgi_application() does, whose ASGIHandler SiteASGIHandler extends

from django.conf import settings  # noqa: E402

from proxy_site.edge import arrived_on_loopback, debug_refusal  # noqa: E402
from proxy_site.handlers import ApiASGIHandler, SiteASGIHandler, is_api_path  # noqa: E402

django_app = SiteASGIHandler()  # the admin and everything else
api_app = ApiASGIHandler()  # the API paths: no per-request thread, only async middleware
log = logging.getLogger("proxy")


async def _startup() -> None:
    from asgiref.sync import sync_to_async
    from django.core import checks

    # With DEBUG off this is a deployment: Django's security checks too (warnings logged, errors fatal).
    deploy = not settings.DEBUG
    found = await sync_to_async(checks.run_checks)(include_deployment_checks=deploy)
    problems = [p for p in found if not p.is_silenced()]  # SILENCED_SYSTEM_CHECKS, as `manage.py check` does
    errors = [p for p in problems if p.is_serious()]
    for problem in problems:
        (log.error if problem.is_serious() else log.warning)("%s: %s", problem.id, problem.msg)
    if errors:
        raise RuntimeError("system checks failed: " + "; ".join(f"{e.id} {e.msg}" for e in errors))
    from api.http import lifecycle

    lifecycle.install_signal_hooks(settings.SHUTDOWN_GRACE)
    from api.accounting.recovery import recover_dead_journals

    await sync_to_async(recover_dead_journals)()  # rows of processes that died (kill -9, OOM, power cut)
    from routing import invalidation

    invalidation.start_listener()


async def _shutdown() -> None:
    from asgiref.sync import sync_to_async

    from api.accounting.journal import journal
    from api.accounting.usage import writer
    from api.providers.clients import close_all

    await close_all()
    if not await sync_to_async(writer.flush, thread_sensitive=False)(30.0):
        log.error("usage rows still queued at shutdown: %d", writer.depth)
    journal.close()  # deleted if every row is written, else left for the next start to replay


async def application(scope, receive, send):
    if scope["type"] == "http":
        if settings.DEBUG and not arrived_on_loopback(scope):
            return await api_app.send_response(debug_refusal(), send)
        return await (api_app if is_api_path(scope["path"]) else django_app)(scope, receive, send)
    if scope["type"] != "lifespan":
        return await django_app(scope, receive, send)
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                await _startup()
            except Exception as exc:
                log.error("start-up failed: %s", exc)
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await _shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return
