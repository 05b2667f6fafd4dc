"""The usage log's admin: a read-only list, CSV and JSON lines export of any filtered list, a summary
page, the audit log."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.admin.views.main import ChangeList
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html

from routing import usage_stats
from routing.admin_usage_filters import (
    EstimatedCountPaginator,
    KeyFilter,
    PeriodFilter,
    RequestedModelFilter,
    StatusClassFilter,
    search,
)
from routing.models import UsageLog
from routing.usage_export import bounded, export_response


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
    # No filter reads the log for its choices (no DISTINCT over millions of rows), and the period
    # filter's choices are fixed, the last 7 days by default (no date drill-down scanning every year).
    list_filter = (
        PeriodFilter,
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
            path("export.csv", view(self.export_view), {"kind": "csv"}, name="routing_usagelog_export"),
            path("export.jsonl", view(self.export_view), {"kind": "jsonl"}, name="routing_usagelog_export_jsonl"),
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
        return export_response(queryset, "csv", asynchronous=isinstance(request, ASGIRequest))

    def export_view(self, request, kind: str) -> HttpResponse:
        """The changelist's current filters (the same query string) as CSV or JSON lines; from 31 days
        ago on when they name no start (usage_export.bounded)."""
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        request.usage_export = True
        rows = bounded(self.get_changelist_instance(request).get_queryset(request))
        return export_response(rows, kind, asynchronous=isinstance(request, ASGIRequest))

    def summary_view(self, request) -> TemplateResponse:
        if not self.has_view_permission(request):
            return TemplateResponse(request, "admin/base_site.html", status=403)
        days = usage_stats.window_days(request.GET.get("days"))
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
