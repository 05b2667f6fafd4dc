"""The usage log's admin: a read-only list, CSV export of any filtered list, a summary page, the audit log."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from asgiref.sync import sync_to_async
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.admin.views.main import ChangeList
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html

from routing import usage_stats
from routing.admin_usage_filters import (
    EstimatedCountPaginator,
    KeyFilter,
    RequestedModelFilter,
    StatusClassFilter,
    search,
)
from routing.models import UsageLog

CSV_FIELDS = (
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


class _Echo:
    def write(self, value: str) -> str:
        return value


# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets, and clients
# choose their user agent and model name: `=HYPERLINK(...)` would run in the admin's spreadsheet.
# https://owasp.org/www-community/attacks/CSV_Injection
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """A text cell that a spreadsheet would read as a formula, quoted with `'` so it stays text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_response(rows, *, asynchronous: bool = False, chunk: int = 2000) -> StreamingHttpResponse:
    """Streams the rows, newest first, so a large export never sits in memory. Under ASGI the chunks
    are handed over as an async iterator (Django would collect a sync iterator into a list before
    sending a byte); the header goes out before the first query."""
    chunks = csv_chunks(rows, chunk)
    body = _one_by_one(chunks) if asynchronous else chunks
    response = StreamingHttpResponse(body, content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="usage.csv"'
    return response


def csv_chunks(rows, chunk: int) -> Iterator[str]:
    """The header, then `chunk` rows per step, each step one query that resumes after the last row
    by the time index (keyset paging). No cursor is held between steps: a server-side cursor
    outside a transaction is WITH HOLD, which PostgreSQL materialises whole before the first row."""
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_FIELDS)
    rows = rows.order_by("-created_at", "-id")
    page = rows
    while found := list(page.values_list("id", *CSV_FIELDS)[:chunk]):
        yield "".join(writer.writerow([safe_cell(cell) for cell in row[1:]]) for row in found)
        last_id, last_time = found[-1][0], found[-1][1]
        page = rows.filter(created_at__lte=last_time).exclude(created_at=last_time, id__gte=last_id)


async def _one_by_one(chunks: Iterator[str]):
    while (text := await sync_to_async(next)(chunks, None)) is not None:
        yield text


class FilteredRowsOnly(ChangeList):
    """The list's filters without its page of rows or its count: what the export streams itself."""

    def get_results(self, request) -> None:
        self.result_count = self.full_result_count = 0
        self.result_list, self.can_show_all, self.multi_page = [], False, False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Logs are evidence: nobody adds, edits or deletes rows through the admin."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(UsageLog)
class UsageLogAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "user",
        "key_prefix",
        "requested_model",
        "provider_name",
        "upstream_model",
        "stream",
        "status_badge",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cost",
        "latency_ms",
    )
    # No filter reads the log for its choices (no DISTINCT over millions of rows), and the date
    # filter's choices are fixed (no date drill-down scanning every year).
    list_filter = (
        "created_at",
        StatusClassFilter,
        "stream",
        "provider",
        RequestedModelFilter,
        "user",
        KeyFilter,
        "estimated",
    )
    paginator = EstimatedCountPaginator
    list_select_related = ("user", "key")
    search_fields = ("request_id",)  # shows the search box; get_search_results decides what a term means
    search_help_text = "A request id (req_…), a key prefix (sk-proxy-…) or a username, exactly."
    show_full_result_count = False
    change_list_template = "admin/routing/usagelog/change_list.html"
    actions = ("export_selected",)

    def get_changelist(self, request, **kwargs):
        return FilteredRowsOnly if getattr(request, "usage_export", False) else super().get_changelist(request)

    def get_search_results(self, request, queryset, search_term):
        return search(queryset, search_term), False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("summary/", view(self.summary_view), name="routing_usagelog_summary"),
            path("export.csv", view(self.export_view), name="routing_usagelog_export"),
            *super().get_urls(),
        ]

    @admin.display(description="Key")
    def key_prefix(self, obj: UsageLog) -> str:
        return obj.key.prefix if obj.key else "—"

    @admin.display(description="Cost (USD)", ordering="cost_usd")
    def cost(self, obj: UsageLog) -> str:
        if obj.cost_usd is None:
            return "unpriced"
        return f"{obj.cost_usd}{' (est.)' if obj.cost_estimated else ''}"

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: UsageLog):
        colour = "#2e7d32" if obj.status < 400 else "#c62828"
        return format_html('<b style="color:{}">{}</b> {}', colour, obj.status, obj.error_type)

    @admin.action(description="Export selected rows as CSV")
    def export_selected(self, request, queryset):
        return csv_response(queryset, asynchronous=isinstance(request, ASGIRequest))

    def export_view(self, request) -> HttpResponse:
        """The changelist's current filters (the same query string) as CSV."""
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        request.usage_export = True
        changelist = self.get_changelist_instance(request)
        return csv_response(changelist.get_queryset(request), asynchronous=isinstance(request, ASGIRequest))

    def summary_view(self, request) -> TemplateResponse:
        if not self.has_view_permission(request):
            return TemplateResponse(request, "admin/base_site.html", status=403)
        try:
            days = min(max(int(request.GET.get("days", 30)), 1), 366)
        except ValueError:
            days = 30
        rows = usage_stats.since(days)
        daily = usage_stats.per_day(rows, days)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Usage summary, last {days} days",
            "days": days,
            "totals": usage_stats.totals(rows),
            "users": usage_stats.per_user(rows),
            "daily": daily,
            "bars": usage_stats.bars([(d["day"], d["tokens"]) for d in daily]),
        }
        return TemplateResponse(request, "admin/routing/usagelog/summary.html", context)


@admin.register(LogEntry)
class LogEntryAdmin(ReadOnlyAdmin):
    """Who changed which provider, route or key, and when (Django's admin log, read-only)."""

    list_display = ("action_time", "user", "content_type", "object_repr", "action_flag", "message")
    list_filter = ("action_time", "content_type", "action_flag", "user")
    search_fields = ("object_repr", "change_message", "user__username")
    date_hierarchy = "action_time"
    list_select_related = ("user", "content_type")

    @admin.display(description="Change")
    def message(self, obj: LogEntry) -> str:
        return obj.get_change_message()
