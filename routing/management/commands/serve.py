import logging
import os
import tempfile

import uvicorn
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from routing.env_sync import sync_env_provider
from routing.models import ProxyKey

log = logging.getLogger("proxy")


def is_loopback(host: str) -> bool:
    return host == "localhost" or host.startswith("127.") or host in ("::1", "[::1]")


class Command(BaseCommand):
    help = "Migrate, sync the environment provider, and serve the gateway with uvicorn on HOST:PORT."

    def add_arguments(self, parser):
        parser.add_argument("--no-migrate", action="store_true")
        parser.add_argument("--no-collectstatic", action="store_true", help="Static files were collected at build.")
        parser.add_argument("--host", default=None)
        parser.add_argument("--port", type=int, default=None)
        parser.add_argument("--workers", type=int, default=None)

    def handle(self, *args, no_migrate, no_collectstatic, host, port, workers, **options):
        if not no_migrate:
            call_command("migrate", interactive=False, verbosity=0)
        if not no_collectstatic:  # the admin's CSS and JS, served by WhiteNoise
            call_command("collectstatic", interactive=False, verbosity=0)
        sync_env_provider()
        host, port = host or settings.HOST, port or settings.PORT
        workers = workers or settings.WORKERS
        if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # Workers write their metrics to files here, so a scrape of any one reports all of them.
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="gateway-metrics-")
        self.stdout.write(self.banner(host, port))
        uvicorn.run(
            "proxy_site.asgi:application",
            host=host,
            port=port,
            workers=workers,
            lifespan="on",
            log_level=settings.LOG_LEVEL.lower(),
            access_log=settings.LOG_LEVEL == "DEBUG",
            timeout_graceful_shutdown=int(settings.SHUTDOWN_GRACE) + 5,
            # Hostile traffic (README "Hostile traffic"): httptools with header size and time limits,
            # idle keep-alive connections closed after 5 s, and at most MAX_CONNECTIONS connections
            # and requests per worker (beyond: a 503 from uvicorn).
            http="proxy_site.protocol:GuardedHttpToolsProtocol",
            timeout_keep_alive=5,
            limit_concurrency=settings.MAX_CONNECTIONS,
        )

    def banner(self, host: str, port: int) -> str:
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        lines = [
            f"{settings.SERVICE_NAME} {settings.VERSION} on http://{host}:{port}",
            f"  Claude Code:  ANTHROPIC_BASE_URL=http://{shown}:{port} ANTHROPIC_API_KEY=<key> claude",
            f"  Admin:        http://{shown}:{port}/admin/  (create a login: python manage.py createsuperuser)",
        ]
        public = not is_loopback(host)
        if settings.AUTH_MODE == "open":
            lines.append("  WARNING: AUTH_MODE=open, any client may use this gateway without a key.")
            if public:
                lines.append(f"  WARNING: AUTH_MODE=open on {host}: anyone who can reach it uses your providers.")
        elif not settings.ANTHROPIC_API_KEY and not ProxyKey.objects.exists():
            lines.append(
                "  No client key yet: issue one with `.venv/bin/python manage.py issue_key YOUR_NAME`"
                " (or set ANTHROPIC_API_KEY in .env)."
            )
        if settings.DEBUG and public:
            lines.append(f"  WARNING: DEBUG is on: connections reaching {host} other than loopback get a 403.")
        return "\n".join(lines)
