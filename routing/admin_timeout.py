"""A time limit on every database statement of an admin page (PostgreSQL), so no page, filter or export
of a large usage log holds a worker and a database backend for minutes.

For the request's duration (a streamed export's: until its last chunk) the connection's
`statement_timeout` is ADMIN_STATEMENT_TIMEOUT seconds; then it is reset, so the connection's later
work (another request on a kept connection) is not cut. A statement cut short becomes a 503 page saying
so. SQLite has no such limit: nothing is done there.
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.db import OperationalError, connection
from django.http import HttpResponse
from django.urls import reverse

CUT_MESSAGE = "This page's query took longer than {:g} s and was stopped: narrow the period or the filters."


@functools.cache
def _admin_prefix() -> str:
    return reverse("admin:index")


def _limited(request) -> bool:
    return (
        settings.ADMIN_STATEMENT_TIMEOUT > 0
        and connection.vendor == "postgresql"
        and request.path.startswith(_admin_prefix())
    )


def _set_timeout(milliseconds: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('statement_timeout', %s, false)", [str(milliseconds)])


def _reset_timeout() -> None:
    if connection.connection is not None:  # closed meanwhile: the next connection starts without it
        with connection.cursor() as cursor:
            cursor.execute("RESET statement_timeout")


class AdminStatementTimeoutMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        if not _limited(request):
            return self.get_response(request)
        _set_timeout(int(settings.ADMIN_STATEMENT_TIMEOUT * 1000))
        try:
            response = self.get_response(request)
        except BaseException:
            _reset_timeout()
            raise
        if response.streaming:
            # A streamed export queries page by page after this returns: reset once it is closed.
            response._resource_closers.append(_reset_timeout)
        else:
            _reset_timeout()
        return response

    def process_exception(self, request, exception):
        """A statement the limit cut (PostgreSQL's query_canceled, SQLSTATE 57014): a 503 that says so."""
        cause = getattr(exception, "__cause__", None)
        if isinstance(exception, OperationalError) and getattr(cause, "sqlstate", None) == "57014":
            message = CUT_MESSAGE.format(settings.ADMIN_STATEMENT_TIMEOUT)
            return HttpResponse(message, status=503, content_type="text/plain; charset=utf-8")
        return None
