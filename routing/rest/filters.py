"""Query parameters of the management API: pagination and the key and usage filters.

Hand-written rather than django-filter: a dozen parameters do not justify another dependency, and a
bad value is a 400 that names the parameter instead of being silently ignored or reaching the
database as a 500 (NUL bytes, ids past 64 bits, dates past year 9999; tests/test_rest_fuzz.py).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from datetime import time as dt_time

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination

from routing.models import Provider, ProxyKey

_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}
_DIGITS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() also takes "²", which int() refuses
MAX_ID = 2**63 - 1  # the largest value a 64-bit id column holds


def _invalid(name: str, message: str) -> ValidationError:
    return ValidationError({name: [message]})


def _text(params, name: str) -> str:
    """A parameter's stripped value; NUL is refused here, as PostgreSQL would refuse it with a 500."""
    raw = params.get(name, "").strip()
    if "\x00" in raw:
        raise _invalid(name, "Must not contain NUL characters.")
    return raw


def _number(raw: str, name: str, *, low: int = 0, high: int = MAX_ID) -> int | None:
    """`raw` as an int in [low, high]; None when it is not ASCII digits; a 400 when out of range."""
    if not _DIGITS.fullmatch(raw):
        return None
    # Checked before int(): Python refuses to parse more than 4,300 digits, with a ValueError.
    if len(raw.lstrip("0")) > len(str(high)) or not low <= int(raw) <= high:
        raise _invalid(name, f"Expected a number from {low} to {high}.")
    return int(raw)


class Pagination(PageNumberPagination):
    """`?page=N` (or `last`), 100 rows a page by default, `?page_size=` up to 1000 (more is capped)."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def get_page_size(self, request) -> int:
        raw = _text(request.query_params, self.page_size_query_param)
        if not raw:
            return self.page_size
        size = _number(raw, self.page_size_query_param, low=1)
        if size is None:
            raise _invalid(self.page_size_query_param, "Expected a whole number from 1.")
        return min(size, self.max_page_size)

    def paginate_queryset(self, queryset, request, view=None):
        raw = _text(request.query_params, self.page_query_param)
        if raw and raw not in self.last_page_strings and _number(raw, self.page_query_param, low=1) is None:
            raise _invalid(self.page_query_param, "Expected a page number from 1, or 'last'.")
        return super().paginate_queryset(queryset, request, view)


def _boolean(params, name: str) -> bool | None:
    raw = _text(params, name).lower()
    if not raw:
        return None
    if raw in _TRUE | _FALSE:
        return raw in _TRUE
    raise _invalid(name, "Expected true or false.")


def _datetime(params, name: str) -> datetime | None:
    raw = _text(params, name)
    if not raw:
        return None
    try:
        value = parse_datetime(raw)
        # A naive value is read in the server's zone (UTC), never compared naive against aware columns.
        if value is not None and timezone.is_naive(value):
            value = timezone.make_aware(value)
        if value is not None:
            value.astimezone(UTC)  # 0001-01-01T00:00+01:00 is before the first representable instant
    except (ValueError, OverflowError):
        value = None
    if value is None:
        raise _invalid(name, "Expected an ISO 8601 datetime, e.g. 2025-01-31T00:00:00Z.")
    return value


def _user_q(params, name: str = "user") -> Q | None:
    """A user named by id (all digits) or by username."""
    raw = _text(params, name)
    if not raw:
        return None
    user_id = _number(raw, name)
    return Q(user_id=user_id) if user_id is not None else Q(user__username=raw)


def filter_keys(queryset: QuerySet, params) -> QuerySet:
    """`user` (id or username), `active` (not revoked and not expired), `revoked`."""
    if (user := _user_q(params)) is not None:
        queryset = queryset.filter(user)
    live = Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
    active = _boolean(params, "active")
    if active is not None:
        queryset = queryset.filter(live) if active else queryset.exclude(live)
    revoked = _boolean(params, "revoked")
    if revoked is not None:
        queryset = queryset.filter(revoked_at__isnull=not revoked)
    return queryset


def _status_q(params) -> Q | None:
    raw = _text(params, "status").lower()
    if not raw:
        return None
    if raw == "error":
        return Q(status__gte=400)
    if raw == "ok":
        return Q(status__lt=400)
    code = _number(raw, "status", low=100, high=599)
    if code is None:
        raise _invalid("status", "Expected an HTTP status code, 'ok' or 'error'.")
    return Q(status=code)


def _key_q(params) -> Q | None:
    """A key named by id (all digits) or by its displayed prefix, with or without the trailing ellipsis."""
    raw = _text(params, "key").rstrip("….")
    if not raw:
        return None
    key_id = _number(raw, "key")
    return Q(key_id=key_id) if key_id is not None else Q(key__prefix=raw)


def filter_usage(queryset: QuerySet, params) -> QuerySet:
    """Every usage filter at once; `since` is inclusive and `until` exclusive, so ranges tile."""
    since, until = _datetime(params, "since"), _datetime(params, "until")
    if since:
        queryset = queryset.filter(created_at__gte=since)
    if until:
        queryset = queryset.filter(created_at__lt=until)
    for q in (_user_q(params), _key_q(params), _status_q(params)):
        if q is not None:
            queryset = queryset.filter(q)
    if model := _text(params, "model"):
        queryset = queryset.filter(requested_model=model)
    if provider := _text(params, "provider"):
        queryset = queryset.filter(provider_name=provider)
    stream = _boolean(params, "stream")
    if stream is not None:
        queryset = queryset.filter(stream=stream)
    return queryset


def _local_day(moment: datetime | None):
    """The local date `moment` starts, or False when it is not a local midnight (no whole day)."""
    if moment is None:
        return None
    local = timezone.localtime(moment)
    return local.date() if local.time() == dt_time(0) else False


def filter_rollups(queryset: QuerySet, params) -> QuerySet | None:
    """The usage filters applied to daily rollups; None when they need the raw rows (`stream`, one
    exact status code, or `since`/`until` within a day)."""
    first, end = _local_day(_datetime(params, "since")), _local_day(_datetime(params, "until"))
    status = _text(params, "status").lower()
    if first is False or end is False or _boolean(params, "stream") is not None or status not in ("", "ok", "error"):
        _status_q(params)  # a malformed code is still a 400
        return None
    if first:
        queryset = queryset.filter(day__gte=first)
    if end:
        queryset = queryset.filter(day__lt=end)
    if status:
        queryset = queryset.filter(status_class__gte=4) if status == "error" else queryset.filter(status_class__lt=4)
    if (user := _user_q(params)) is not None:
        queryset = queryset.filter(user_id__in=get_user_model().objects.filter(_ids(user, "user_id")).values("pk"))
    if (key := _key_q(params)) is not None:
        queryset = queryset.filter(key_id__in=ProxyKey.objects.filter(_ids(key, "key_id")).values("pk"))
    if model := _text(params, "model"):
        queryset = queryset.filter(requested_model=model)
    if provider := _text(params, "provider"):
        queryset = queryset.filter(provider_id__in=Provider.objects.filter(name=provider).values("pk"))
    return queryset


def _ids(q: Q, id_field: str) -> Q:
    """A usage row's filter on a user or key (`user_id=3`, `user__username=ann`) as one on that table."""
    ((name, value),) = q.children
    return Q(pk=value) if name == id_field else Q(**{name.split("__", 1)[1]: value})


def _param(name: str, kind, description: str, **extra) -> OpenApiParameter:
    return OpenApiParameter(name, kind, OpenApiParameter.QUERY, description=description, **extra)


KEY_PARAMETERS = [
    _param("user", OpenApiTypes.STR, "User id or username."),
    _param("active", OpenApiTypes.BOOL, "Only keys that are (true) or are not (false) usable now."),
    _param("revoked", OpenApiTypes.BOOL, "Only revoked (true) or unrevoked (false) keys."),
]

USAGE_PARAMETERS = [
    _param("since", OpenApiTypes.DATETIME, "Rows at or after this time (ISO 8601; naive means UTC)."),
    _param("until", OpenApiTypes.DATETIME, "Rows before this time (exclusive)."),
    _param("user", OpenApiTypes.STR, "User id or username."),
    _param("key", OpenApiTypes.STR, "Key id or displayed prefix (sk-proxy-xxxxxx)."),
    _param("model", OpenApiTypes.STR, "The model the client asked for (requested_model)."),
    _param("provider", OpenApiTypes.STR, "Provider name."),
    _param("status", OpenApiTypes.STR, "An HTTP status code, `ok` (below 400) or `error` (400 and up)."),
    _param("stream", OpenApiTypes.BOOL, "Streamed (true) or not (false)."),
]
