"""One request's bookkeeping: its id, timings, outcome and the one usage row it leaves.

The row is journaled at three points (journal.py): admitted (before any upstream call), a stream's
progress, finished (before the response ends). A crash in between leaves an `interrupted` row.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse

from api.accounting import bodies, logs, metrics
from api.accounting.alerts import alerts
from api.accounting.costs import price_record, spent_micros
from api.accounting.journal import journal
from api.accounting.usage import UsageRecord, writer
from api.admission import limits
from api.admission.auth import Caller
from api.http.responses import error_response, new_request_id
from api.http.scrub import scrub
from api.translate.errors import STATUS_FOR_TYPE, ApiError
from routing.budget_info import BudgetInfo
from routing.prices import PriceTable
from routing.resolve import RouteInfo

CLIENT_CLOSED = 499
PROGRESS_SECONDS = 1.0
"""How often an open stream journals its tokens so far."""


@dataclass(slots=True)
class Exchange:
    request_id: str
    record: UsageRecord
    started: float = field(default_factory=time.perf_counter)
    request_body: bytes = b""
    response_body: bytes | str = ""
    first_byte_timeout: float = 0.0
    hold: str | None = None
    """The id of the request's reservation on its key's limits, settled once it ends."""
    budgets: tuple[BudgetInfo, ...] = ()
    """The caller's budgets: checked for alerts once the request has settled."""
    prices: PriceTable | None = None
    """The price table read at admission: the row is priced from it when the request ends."""
    on_finish: list[Callable[[int], None]] = field(default_factory=list)
    """Called with the request's total tokens when it ends: the served target's place (api/forward/balance.py)."""
    _progress_due: float = 0.0
    _finished: bool = False

    @classmethod
    def begin(cls, request: HttpRequest, endpoint: str) -> Exchange:
        request_id = new_request_id()
        request.request_id = request_id  # read by the middleware's last-resort error handler
        logs.request_id.set(request_id)
        record = UsageRecord(
            request_id=request_id,
            endpoint=endpoint,
            client_ip=request.META.get("REMOTE_ADDR") or None,
            user_agent=request.headers.get("user-agent", "")[:300],
        )
        body = b""
        if settings.LOG_BODIES != "off":
            with contextlib.suppress(RequestDataTooBig):
                body = request.body
        return cls(request_id=request_id, record=record, request_body=body)

    def identify(self, caller: Caller) -> None:
        if caller.key:
            self.record.key_id, self.record.user_id = caller.key.id, caller.key.user_id
            self.budgets = caller.key.budgets

    def routed(self, route: RouteInfo) -> None:
        self.record.route_id = route.id or None  # a direct request (routing/direct.py) has no route row
        self.record.target_id = route.target_id
        self.record.provider_id = route.provider.id
        self.record.provider_name = route.provider.name
        self.record.upstream_model = route.target_model
        self.first_byte_timeout = route.provider.first_byte_timeout

    def admission_line(self) -> dict:
        """The journal's A line: the record as it stands once the request is admitted."""
        return {"t": "A", "id": self.request_id, "rec": self.record, "hold": self.hold}

    def admitted(self) -> None:
        """Journal the admitted request before any upstream call: from here a crash leaves its row."""
        journal.append(self.request_id, self.admission_line())
        self._progress_due = time.perf_counter() + PROGRESS_SECONDS

    def progress_due(self) -> bool:
        """True about once a second while a stream runs (one clock read per chunk, no timer task)."""
        now = time.perf_counter()
        if now < self._progress_due:
            return False
        self._progress_due = now + PROGRESS_SECONDS
        return True

    def progress(self, usage: dict, *, estimated: bool) -> None:
        """Journal a stream's tokens so far (a P line), what its row says if the gateway dies now."""
        line = {"t": "P", "id": self.request_id, "usage": usage, "est": estimated, "ms": self.elapsed_ms()}
        journal.append(self.request_id, line)

    def set_usage(self, usage: dict, *, estimated: bool = False) -> None:
        if not self._finished:
            self.record.set_tokens(usage, estimated=estimated)

    def observe(self, events: list[dict]) -> None:
        """Read what a stream sends: first content (time to first token) and errors."""
        for event in events:
            kind = event["type"]
            if kind == "content_block_delta" and self.record.ttft_ms is None:
                self.record.ttft_ms = self.elapsed_ms()
            elif kind == "error":
                error = event.get("error") or {}
                error_type = str(error.get("type") or "api_error")
                self.failed(STATUS_FOR_TYPE.get(error_type, 500), error_type, str(error.get("message", "")))

    def failed(self, status: int, error_type: str, message: str) -> None:
        message = scrub(message)[:500]
        self.record.status, self.record.error_type, self.record.error_message = status, error_type, message

    def fail(self, error: ApiError) -> HttpResponse:
        """The error response for `error`, with the usage row written."""
        self.failed(error.status, error.error_type, error.message)
        response = error_response(error, self.request_id)
        self.response_body = response.content
        self.finish()
        return response

    def cancelled(self) -> None:
        if self.record.status < 400 and not self._finished:
            self.failed(CLIENT_CLOSED, "client_closed", "the client disconnected before the response ended")

    def elapsed_ms(self) -> int:
        return int((time.perf_counter() - self.started) * 1000)

    def finish(self) -> None:
        """Write the usage row; later calls do nothing, so every exit path may call it."""
        if self._finished:
            return
        self._finished = True
        self.record.latency_ms = self.elapsed_ms()
        price_record(self.record, self.prices)
        if self.hold is not None:
            alert = functools.partial(alerts.after_request, self.budgets) if self.budgets else None
            limits.settle(self.hold, self.record.total_tokens, spent_micros(self.record), then=alert)
        for release in self.on_finish:
            release(self.record.total_tokens)
        if self.request_body and bodies.wanted(self.record.status):
            self.record.request_body = bodies.as_text(self.request_body)
            self.record.response_body = bodies.as_text(self.response_body or "(streamed)")
        journal.append(self.request_id, {"t": "D", "id": self.request_id, "rec": self.record})
        metrics.observe(self.record)
        logs.log_finished(self.record)
        writer.record(self.record)
