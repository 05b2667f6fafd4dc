"""The usage log exported as CSV or JSON lines: one keyset-paged stream of rows, two ways to write them.

Rows go out newest first in pages, each page one query resuming after the last row by the time index,
so a large export never sits in memory and no cursor is held between pages. Under ASGI the pages are
handed over as an async iterator (Django would collect a sync iterator into a list before sending a
byte); the header goes out before the first query.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from datetime import timedelta

import orjson
from asgiref.sync import sync_to_async
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

FIELDS = (
    "created_at",
    "request_id",
    "user__username",
    "key__prefix",
    "client_ip",
    "user_agent",
    "endpoint",
    "requested_model",
    "provider_name",
    "upstream_model",
    "stream",
    "status",
    "error_type",
    "error_message",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "estimated",
    "latency_ms",
    "ttft_ms",
    "attempts",
    "cost_usd",
    "cost_estimated",
)
UNBOUNDED_DAYS = 31
"""An export whose list names no start date covers this many days back from now, not the whole log."""

# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets, and clients
# choose their user agent and model name: `=HYPERLINK(...)` would run in the admin's spreadsheet.
# https://owasp.org/www-community/attacks/CSV_Injection
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """A text cell that a spreadsheet would read as a formula, quoted with `'` so it stays text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def pages(rows: QuerySet, chunk: int) -> Iterator[list[tuple]]:
    """The rows' FIELDS, `chunk` rows per page, newest first; each page one query (keyset paging). A
    server-side cursor outside a transaction is WITH HOLD, which PostgreSQL materialises whole first."""
    rows = rows.order_by("-created_at", "-id")
    page = rows
    while found := list(page.values_list("id", *FIELDS)[:chunk]):
        yield [row[1:] for row in found]
        last_id, last_time = found[-1][0], found[-1][1]
        page = rows.filter(created_at__lte=last_time).exclude(created_at=last_time, id__gte=last_id)


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_chunks(rows: QuerySet, chunk: int) -> Iterator[str]:
    """The header line, then one text chunk per page."""
    writer = csv.writer(_Echo())
    yield writer.writerow(FIELDS)
    for page in pages(rows, chunk):
        yield "".join(writer.writerow([safe_cell(cell) for cell in row]) for row in page)


def jsonl_chunks(rows: QuerySet, chunk: int) -> Iterator[bytes]:
    """One JSON object per row and line, named by FIELDS; costs as decimal strings, times in ISO 8601."""
    for page in pages(rows, chunk):
        yield b"".join(orjson.dumps(dict(zip(FIELDS, row, strict=True)), default=str) + b"\n" for row in page)


FORMATS: dict[str, tuple[Callable[[QuerySet, int], Iterator], str]] = {
    "csv": (csv_chunks, "text/csv"),
    "jsonl": (jsonl_chunks, "application/x-ndjson"),
}


def export_response(rows: QuerySet, kind: str, *, asynchronous: bool, chunk: int = 2000) -> StreamingHttpResponse:
    """The rows streamed as `kind` ("csv" or "jsonl"), as an attachment."""
    write, content_type = FORMATS[kind]
    chunks = write(rows, chunk)
    response = StreamingHttpResponse(_one_by_one(chunks) if asynchronous else chunks, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="usage.{kind}"'
    return response


async def _one_by_one(chunks: Iterator):
    while (text := await sync_to_async(next)(chunks, None)) is not None:
        yield text


def bounded(rows: QuerySet) -> QuerySet:
    """The rows, from UNBOUNDED_DAYS ago on when nothing bounds their start: an export of "any time"
    on a log of millions of rows would run for minutes."""
    if _has_start(rows.query.where):
        return rows
    return rows.filter(created_at__gte=timezone.now() - timedelta(days=UNBOUNDED_DAYS))


def _has_start(where) -> bool:
    """Whether a lookup in the WHERE tree is a lower bound (or an exact value) on `created_at`, ANDed."""
    if where.connector != "AND" or where.negated:
        return False
    for child in where.children:
        if hasattr(child, "children") and _has_start(child):
            return True
        field = getattr(getattr(child, "lhs", None), "target", None)
        if field is not None and field.name == "created_at" and child.lookup_name in ("gt", "gte", "exact", "range"):
            return True
    return False
