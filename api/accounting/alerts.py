"""Budget alerts: when a user's or team's spend reaches one of its `alert_at` fractions, one alert per
threshold and period goes to the webhook (the admin's or config file's `AlertSettings`, else
ALERT_WEBHOOK_URL: a Slack-compatible `text` and structured fields) and, for a user's budget, to the
user's email when EMAIL_HOST is set.

All of it runs on one daemon thread: a request only enqueues its budgets (never blocks, never fails).
The thread reads each budget's shared counter (settled spend plus holds in flight, so an alert may come
up to one request early) and claims the alert by inserting its `BudgetAlert` row: the row is unique per
budget, period and threshold, so among all workers and replicas only the first sends it. Delivery is
tried ALERT_RETRIES times, 1 s, 2 s, 4 s... apart, then logged as undelivered.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from decimal import Decimal

import httpx
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, close_old_connections
from django.utils import timezone

from api.admission.budgets import counter_name
from api.admission.counters import store
from routing.budget_info import BudgetInfo
from routing.credentials import CredentialError
from routing.periods import Period, period_of
from routing.prices import MICRO

log = logging.getLogger("api.accounting.alerts")
RETRY_PAUSE = 1.0
"""Seconds before the first retry of a failed delivery; doubled each time."""
QUEUE_MAX = 10_000


@dataclass(frozen=True, slots=True)
class Crossing:
    budget: BudgetInfo
    period: Period
    threshold: float
    used: int
    limit: int
    money: bool

    def payload(self) -> dict:
        """The webhook's JSON: Slack shows `text`; scripts read the fields beside it."""
        show = _usd if self.money else _tokens
        who = f"{self.budget.scope} {self.budget.owner!r}"
        per = "in total" if self.period.start is None else f"per {self.period.kind}"
        resets = f" It resets at {self.period.end.isoformat()}." if self.period.end else ""
        text = (
            f"Budget alert: {who} has used {show(self.used)} of its budget of {show(self.limit)} {per}"
            f" ({self.used / self.limit:.0%}; alert at {self.threshold:.0%}).{resets}"
        )
        return {
            "text": text,
            "scope": self.budget.scope,
            "owner": self.budget.owner,
            "owner_id": self.budget.owner_id,
            "unit": "usd" if self.money else "tokens",
            "used": str(Decimal(self.used) * MICRO) if self.money else self.used,
            "limit": str(Decimal(self.limit) * MICRO) if self.money else self.limit,
            "threshold": self.threshold,
            "period": self.period.kind,
            "period_start": self.period.start.isoformat() if self.period.start else None,
            "period_end": self.period.end.isoformat() if self.period.end else None,
        }


def _usd(micros: int) -> str:
    return f"${Decimal(micros) * MICRO:.2f}"


def _tokens(n: int) -> str:
    return f"{n} tokens"


def crossings(budgets: tuple[BudgetInfo, ...], now: float) -> list[Crossing]:
    """Every threshold each budget's counter has reached in its current period."""
    found = []
    for budget in budgets:
        period = period_of(budget.period)
        for limit, money in ((budget.usd_micros, True), (budget.tokens, False)):
            used = store().peek(counter_name(budget, period, money), now) if limit else None
            if used is None:
                continue
            found += [Crossing(budget, period, t, used, limit, money) for t in budget.alert_at if used >= t * limit]
    return found


def claim(crossing: Crossing) -> bool:
    """Insert the alert's row; False when another worker (or an earlier request) has sent it."""
    from routing.models import BudgetAlert

    try:
        BudgetAlert.objects.create(
            scope=crossing.budget.scope,
            owner_id=crossing.budget.owner_id,
            period=crossing.period.label,
            threshold=Decimal(str(crossing.threshold)),
        )
    except IntegrityError:
        return False
    return True


def deliver(crossing: Crossing) -> bool:
    """Send to the webhook and the email, each retried; True when every channel took it."""
    payload = crossing.payload()
    sent = True
    url = webhook_url()
    if url:
        sent &= _with_retries("webhook", lambda: _post(url, payload))
    if settings.EMAIL_HOST and crossing.budget.email:
        subject = f"Budget alert: {payload['owner']} at {crossing.threshold:.0%}"
        mail = (subject, payload["text"], settings.DEFAULT_FROM_EMAIL, [crossing.budget.email])
        sent &= _with_retries("email", lambda: send_mail(*mail))
    return sent


def webhook_url() -> str:
    """The stored URL when one is set, else ALERT_WEBHOOK_URL; read per alert (this thread only), so a
    change made in the admin or by apply_config applies to the next alert of every worker."""
    from routing.models import AlertSettings

    try:
        return AlertSettings.current().webhook_url or settings.ALERT_WEBHOOK_URL
    except CredentialError:
        log.error("the stored alert webhook URL cannot be decrypted; using ALERT_WEBHOOK_URL")
        return settings.ALERT_WEBHOOK_URL


def _post(url: str, payload: dict) -> None:
    httpx.post(url, json=payload, timeout=5.0).raise_for_status()


def _with_retries(channel: str, send) -> bool:
    pause = RETRY_PAUSE
    for attempt in range(1, settings.ALERT_RETRIES + 1):
        try:
            send()
            return True
        except Exception as exc:  # any failure of a channel is logged and retried, never raised
            log.warning("budget alert by %s failed (try %d): %s", channel, attempt, exc)
        if attempt < settings.ALERT_RETRIES:
            time.sleep(pause)
            pause *= 2
    log.error("budget alert by %s undelivered after %d tries", channel, settings.ALERT_RETRIES)
    return False


class AlertQueue:
    """Budgets of finished requests, checked and alerted on by one daemon thread."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[tuple[BudgetInfo, ...], float]] = queue.Queue(maxsize=QUEUE_MAX)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def after_request(self, budgets: tuple[BudgetInfo, ...]) -> None:
        """Queue the user and team budgets that alert (never blocks; a full queue skips, the next request
        checks the same counters)."""
        wanted = tuple(b for b in budgets if b.alert_at and b.scope != "key")
        if not wanted:
            return
        self._ensure_started()
        try:
            self._queue.put_nowait((wanted, time.time()))
        except queue.Full:
            log.warning("budget alert queue full: a check was skipped")

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every settlement under way has queued its check and every check is done (tests)."""
        from api.admission import limits

        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks or limits.settling():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def _ensure_started(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="budget-alerts", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            budgets, now = self._queue.get()
            try:
                close_old_connections()
                for crossing in crossings(budgets, now):
                    if claim(crossing) and deliver(crossing):
                        _mark_delivered(crossing)
            except Exception:  # the store or the database is down: this check is lost, the next one runs
                log.exception("checking budget alerts failed")
            finally:
                self._queue.task_done()


def _mark_delivered(crossing: Crossing) -> None:
    from routing.models import BudgetAlert

    BudgetAlert.objects.filter(
        scope=crossing.budget.scope,
        owner_id=crossing.budget.owner_id,
        period=crossing.period.label,
        threshold=Decimal(str(crossing.threshold)),
    ).update(delivered_at=timezone.now())


alerts = AlertQueue()
