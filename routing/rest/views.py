"""Views of the management API: keys and the usage log (routing/rest/permissions.py says who may do what)."""

from __future__ import annotations

from django.contrib.admin.models import ADDITION, CHANGE
from django.contrib.auth import get_user_model
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from knox.views import LogoutView
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from routing import access, audit, spend_stats, usage_stats
from routing.models import ProxyKey, UsageLog, UsageRollup
from routing.rest import filters, permissions, serializers

# group_by value -> the fields a group is made of, over rollups and (for filters only the raw rows
# answer) over the log.
GROUPS = {
    "user": (((), {"user_ref": F("user_id")}), ((), {"user_ref": F("user_id")})),
    "model": (((), {"model": F("requested_model")}), ((), {"model": F("requested_model")})),
    "day": ((("day",), {}), ((), {"day": TruncDate("created_at")})),
}
RAW_TOTALS = {
    "requests": Count("id"),
    "errors": Count("id", filter=Q(status__gte=400)),
    "input": Coalesce(Sum("input_tokens"), 0),
    "output": Coalesce(Sum("output_tokens"), 0),
    "cache_read": Coalesce(Sum("cache_read_tokens"), 0),
    "cache_write": Coalesce(Sum("cache_creation_tokens"), 0),
    "tokens": Coalesce(
        Sum(F("input_tokens") + F("output_tokens") + F("cache_read_tokens") + F("cache_creation_tokens")), 0
    ),
}
"""The rollups' aggregates (usage_stats.TOTALS) over raw rows, for filters finer than a rollup."""
# The aggregates' names as the usage rows name their columns. Renamed after the query: an annotation
# that shadowed a column would break the sums that read it.
API_NAMES = {
    "input": "input_tokens",
    "output": "output_tokens",
    "cache_read": "cache_read_tokens",
    "cache_write": "cache_creation_tokens",
    "tokens": "total_tokens",
    "cost": "cost_usd",
}
COST = {"cost": spend_stats.SPEND["cost"]}
"""Rows and rollups both carry `cost_usd`."""


def api_names(totals: dict) -> dict:
    """Totals under the usage rows' column names; a cost as exact text, like the rows' own `cost_usd`."""
    return {API_NAMES.get(name, name): f"{value:.6f}" if name == "cost" else value for name, value in totals.items()}


def with_usernames(groups: list[dict]) -> list[dict]:
    """Each group's `user_ref` (0 or None: no user) as `user` and `username` (None if deleted)."""
    names = dict(
        get_user_model().objects.filter(pk__in=[g["user_ref"] or 0 for g in groups]).values_list("pk", "username")
    )
    return [{"user": g["user_ref"] or None, "username": names.get(g.pop("user_ref")), **g} for g in groups]


def summarise(queryset: QuerySet, group_by: str, *, raw: bool) -> dict:
    """Totals per group (busiest first, days in order) and over all filtered rows, in two queries:
    over daily rollups, or over the raw rows when `raw`."""
    fields, expressions = GROUPS[group_by][raw]
    names = [*fields, *expressions]
    aggregates = {**(RAW_TOTALS if raw else usage_stats.TOTALS), **COST}
    ordering = names if group_by == "day" else ["-requests", *names]
    groups = list(queryset.order_by().values(*fields, **expressions).annotate(**aggregates).order_by(*ordering))
    if group_by == "user":
        groups = with_usernames(groups)
    return {
        "group_by": group_by,
        "results": [api_names(group) for group in groups],  # one entry per group, not per usage row
        "totals": api_names(queryset.aggregate(**aggregates)),
    }


@extend_schema_view(
    list=extend_schema(summary="List keys", parameters=filters.KEY_PARAMETERS),
    retrieve=extend_schema(summary="Read one key"),
    create=extend_schema(
        summary="Issue a key (routing.add_proxykey)",
        request=serializers.KeyCreateSerializer,
        responses={201: serializers.IssuedKeySerializer},
        description="The response carries `secret`, the only time it is ever shown. Store it now.",
    ),
)
class KeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    serializer_class = serializers.ProxyKeySerializer

    def get_queryset(self) -> QuerySet:
        # A unique ordering: rows with the same timestamp must not swap places between pages.
        keys = ProxyKey.objects.select_related("user").order_by("-created_at", "-id")
        keys = permissions.visible_to(self.request.user, keys)
        return filters.filter_keys(keys, self.request.query_params) if self.action == "list" else keys

    def get_permissions(self):
        if self.action == "create":
            return [IsAuthenticated(), permissions.Holds("add", ProxyKey)]
        if self.action == "revoke":
            return [IsAuthenticated(), permissions.OwnerOrHolds("change", ProxyKey)]
        return [IsAuthenticated()]  # reading: the queryset shows each caller what they may see

    def get_serializer_class(self):
        return serializers.KeyCreateSerializer if self.action == "create" else self.serializer_class

    def create(self, request: Request, *args, **kwargs) -> Response:
        incoming = self.get_serializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        wanted = incoming.validated_data
        refusal = access.key_refusal(
            request.user, wanted["user"], may_test_connection=wanted.get("may_test_connection", False)
        )
        if refusal:
            raise PermissionDenied(refusal)
        key = incoming.save()
        audit.record(request, key, ADDITION, "Issued through the management API")
        body = serializers.IssuedKeySerializer(key, context=self.get_serializer_context()).data
        # The secret is in this body only: keep it out of every cache between here and the caller.
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})

    @extend_schema(
        operation_id="keys_revoke",
        summary="Revoke a key",
        request=None,
        responses={200: serializers.ProxyKeySerializer},
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk=None) -> Response:
        """Sets `revoked_at` once; revoking a revoked key changes nothing and still answers 200."""
        key = self.get_object()
        if key.revoked_at is None:
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])
            audit.record(request, key, CHANGE, "Revoked through the management API")
        return Response(serializers.ProxyKeySerializer(key, context=self.get_serializer_context()).data)


@extend_schema_view(list=extend_schema(summary="List usage rows, newest first", parameters=filters.USAGE_PARAMETERS))
class UsageViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = serializers.UsageLogSerializer

    def get_queryset(self) -> QuerySet:
        rows = UsageLog.objects.select_related("user", "key").order_by("-created_at", "-id")
        rows = permissions.visible_to(self.request.user, rows)
        return filters.filter_usage(rows, self.request.query_params)

    @extend_schema(
        operation_id="usage_summary",
        summary="Usage totals per user, model or day",
        parameters=[
            OpenApiParameter("group_by", OpenApiTypes.STR, enum=list(GROUPS), default="user"),
            *filters.USAGE_PARAMETERS,
        ],
        responses={200: serializers.UsageSummarySerializer},
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def summary(self, request: Request) -> Response:
        group_by = request.query_params.get("group_by", "user").strip() or "user"
        if group_by not in GROUPS:
            raise ValidationError({"group_by": [f"Expected one of: {', '.join(GROUPS)}."]})
        rollups = filters.filter_rollups(visible_usage(request.user, UsageRollup.objects.all()), request.query_params)
        if rollups is not None:
            return Response(summarise(rollups, group_by, raw=False))
        # Only the aggregates are read, so the joins that list rows need are dropped.
        return Response(summarise(self.get_queryset().select_related(None), group_by, raw=True))


def visible_usage(user, rollups: QuerySet) -> QuerySet:
    """The rollups of the usage rows `user` may read (permissions.visible_to, judged on UsageLog)."""
    return rollups if access.may_view_all(user, UsageLog) else rollups.filter(user_id=user.pk)


@extend_schema_view(
    post=extend_schema(
        operation_id="token_revoke",
        summary="Revoke the management API token this request carries",
        request=None,
        responses={204: None},
    )
)
class RevokeOwnToken(LogoutView):
    """A leaked or finished token ends here at once (knox deletes its row); sessions get a 401."""
