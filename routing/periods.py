"""Budget periods: where the period that contains a moment starts and ends.

Counters are named by the period's kind *and* start (`month@2026-12-01T00:00:00+00:00`): a day, a week
and a month that all start on a Monday the 1st are three counters, never one. Periods follow the
server's TIME_ZONE, so a daily budget resets at local midnight.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

KINDS = ("day", "week", "month", "total")


@dataclass(frozen=True, slots=True)
class Period:
    kind: str
    start: datetime | None
    """None for a total budget."""
    end: datetime | None

    @property
    def label(self) -> str:
        """Unique per kind and start: the counter's name and the journal's reference."""
        return f"{self.kind}@{self.start.isoformat()}" if self.start else self.kind


def period_of(kind: str, now: datetime | None = None) -> Period:
    """The period of `kind` that contains `now` (default: the current time), in the server's zone."""
    if kind not in KINDS:
        raise ValueError(f"unknown budget period {kind!r}")
    if kind == "total":
        return Period(kind, None, None)
    local = timezone.localtime(now or timezone.now())
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    # Aware arithmetic on zoneinfo datetimes is wall-clock arithmetic: a day across a DST change is
    # 23 or 25 hours, as it should be.
    if kind == "day":
        start, end = day, day + timedelta(days=1)
    elif kind == "week":
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=7)
    else:
        start = day.replace(day=1)
        end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return Period(kind, start, end)
