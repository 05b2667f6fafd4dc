"""Query parameters of the management API: pagination and the key and usage filters.

Hand-written rather than django-filter: a dozen parameters do not justify another dependency, and a
bad value is a 400 that names the parameter instead of being silently ignored.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination

_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


class Pagination(PageNumberPagination):
    """`?page=N`, 100 rows a page by default, `?page_size=` up to 1000."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


def _boolean(params, name: str) -> bool | None:
    raw = params.get(name, "").strip().lower()
    if not raw:
        return None
    if raw in _TRUE | _FALSE:
        return raw in _TRUE
    raise ValidationError({name: ["Expected true or false."]})


def _datetime(params, name: str) -> datetime | None:
    raw = params.get(name, "").strip()
    if not raw:
        return None
    try:
        value = parse_datetime(raw)
    except ValueError:
        value = None
    if value is None:
        raise ValidationError({name: ["Expected an ISO 8601 datetime, e.g. 2025-01-31T00:00:00Z."]})
    # A naive value is read in the server's zone (UTC), never compared naive against aware columns.
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def _user_q(raw: str, field: str = "user") -> Q:
    """A user named by id (all digits) or by username."""
    return Q(**{f"{field}_id": int(raw)}) if raw.isdigit() else Q(**{f"{field}__username": raw})


def filter_keys(queryset: QuerySet, params) -> QuerySet:
    """`user` (id or username), `active` (not revoked and not expired), `revoked`."""
    if user := params.get("user", "").strip():
        queryset = queryset.filter(_user_q(user))
    live = Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
    active = _boolean(params, "active")
    if active is not None:
        queryset = queryset.filter(live) if active else queryset.exclude(live)
    revoked = _boolean(params, "revoked")
    if revoked is not None:
        queryset = queryset.filter(revoked_at__isnull=not revoked)
    return queryset


def _status_q(raw: str) -> Q:
    if raw == "error":
        return Q(status__gte=400)
    if raw == "ok":
        return Q(status__lt=400)
    if raw.isdigit():
        return Q(status=int(raw))
    raise ValidationError({"status": ["Expected an HTTP status code, 'ok' or 'error'."]})


def filter_usage(queryset: QuerySet, params) -> QuerySet:
    """Every usage filter at once; `since` is inclusive and `until` exclusive, so ranges tile."""
    since, until = _datetime(params, "since"), _datetime(params, "until")
    if since:
        queryset = queryset.filter(created_at__gte=since)
    if until:
        queryset = queryset.filter(created_at__lt=until)
    if user := params.get("user", "").strip():
        queryset = queryset.filter(_user_q(user))
    if key := params.get("key", "").strip().rstrip("…."):
        queryset = queryset.filter(key_id=int(key)) if key.isdigit() else queryset.filter(key__prefix=key)
    if model := params.get("model", "").strip():
        queryset = queryset.filter(requested_model=model)
    if provider := params.get("provider", "").strip():
        queryset = queryset.filter(provider_name=provider)
    if status := params.get("status", "").strip().lower():
        queryset = queryset.filter(_status_q(status))
    stream = _boolean(params, "stream")
    if stream is not None:
        queryset = queryset.filter(stream=stream)
    return queryset


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
