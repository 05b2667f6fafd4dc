"""The usage list's filters and search, none of which reads the whole log: choices come from small
tables (providers, users, keys) or from the daily rollups, and search looks up indexed columns only."""

from __future__ import annotations

import json
from datetime import timedelta

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.functional import cached_property

from routing.keys import KEY_PREFIX
from routing.models import ProxyKey, UsageRollup

MODEL_CHOICE_DAYS = 90
ESTIMATE_ABOVE = 100_000
"""Below this many rows (by PostgreSQL's estimate) the list's total is counted exactly."""


class PeriodFilter(admin.SimpleListFilter):
    """How far back the list reaches: the last 7 days unless the admin picks another period, gives dates
    of her own (`?created_at__gte=...&created_at__lt=...`, ISO times) or searches (a request id or a
    user is found at any age, through its own index). Never every row of every year by default."""

    title = "period"
    parameter_name = "period"
    DEFAULT = "7d"
    PERIODS = {"1d": timedelta(days=1), "7d": timedelta(days=7), "31d": timedelta(days=31), "90d": timedelta(days=90)}
    ANY = "any"

    def __init__(self, request, params, model, model_admin):
        self._elsewhere = bool(request.GET.get("q")) or any(p.startswith("created_at__") for p in request.GET)
        super().__init__(request, params, model, model_admin)

    def lookups(self, request, model_admin):
        return [
            ("1d", "Last 24 hours"),
            ("7d", "Last 7 days"),
            ("31d", "Last 31 days"),
            ("90d", "Last 90 days"),
            (self.ANY, "Any time"),
        ]

    def value(self):
        return super().value() or (None if self._elsewhere else self.DEFAULT)

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        if self.value() in (None, self.ANY):
            return queryset
        span = self.PERIODS.get(self.value(), self.PERIODS[self.DEFAULT])  # an unknown period: the default
        return queryset.filter(created_at__gte=timezone.now() - span)


class StatusClassFilter(admin.SimpleListFilter):
    """Success or failure by class; an exact code stays reachable as `?status__exact=429`."""

    title = "status"
    parameter_name = "status_class"
    CLASSES = {"2": Q(status__lt=300), "3": Q(status__gte=300, status__lt=400), "4": Q(status__gte=400, status__lt=500)}
    CLASSES["5"] = Q(status__gte=500)

    def lookups(self, request, model_admin):
        return [("2", "2xx success"), ("3", "3xx"), ("4", "4xx client error"), ("5", "5xx gateway or upstream error")]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        wanted = self.CLASSES.get(self.value() or "")
        return queryset if wanted is None else queryset.filter(wanted)


class RequestedModelFilter(admin.SimpleListFilter):
    """The models asked for in the last 90 days, read from the rollups (a few rows a day), not the log."""

    title = "requested model"
    parameter_name = "requested_model"

    def lookups(self, request, model_admin):
        recent = UsageRollup.objects.filter(day__gte=timezone.localdate() - timedelta(days=MODEL_CHOICE_DAYS))
        models = recent.order_by("requested_model").values_list("requested_model", flat=True).distinct()
        return [(m, m) for m in models if m]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        return queryset if not self.value() else queryset.filter(requested_model=self.value())


class KeyFilter(admin.SimpleListFilter):
    """Every key with its user in one query (the default filter reads each key's user on its own)."""

    title = "key"
    parameter_name = "key_id"

    def lookups(self, request, model_admin):
        return [(str(k.pk), str(k)) for k in ProxyKey.objects.select_related("user").order_by("user__username", "pk")]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        return queryset if not (self.value() or "").isdigit() else queryset.filter(key_id=int(self.value()))


class EstimatedCountPaginator(Paginator):
    """On PostgreSQL, the planner's row estimate where it is large (an exact COUNT(*) of a week of a busy
    log reads hundreds of thousands of index entries on every click): the table's for the unfiltered
    list, EXPLAIN's for a filtered one. Lists estimated under ESTIMATE_ABOVE rows are counted exactly."""

    @cached_property
    def count(self) -> int:
        query = getattr(self.object_list, "query", None)
        if connection.vendor != "postgresql" or query is None:
            return super().count
        estimate = _planned_rows(self.object_list) if query.where else _table_rows(query.model._meta.db_table)
        return super().count if estimate < ESTIMATE_ABOVE else estimate


def _table_rows(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [table])
        return cursor.fetchone()[0]


def _planned_rows(rows: QuerySet) -> int:
    sql, params = rows.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return int(plan[0]["Plan"]["Plan Rows"])


def search(queryset: QuerySet, term: str) -> QuerySet:
    """One indexed lookup per kind of term: a request id (unique index), a key's displayed prefix
    (indexed on the keys table), else a username; never a LIKE over every row."""
    term = term.strip().rstrip("….")
    if not term:
        return queryset
    if term.startswith("req_"):
        return queryset.filter(request_id=term)
    if term.startswith(KEY_PREFIX):
        return queryset.filter(key_id__in=ProxyKey.objects.filter(prefix=term).values("pk"))
    return queryset.filter(user_id__in=get_user_model().objects.filter(username=term).values("pk"))
