"""Serializers of the management API. None of them has a `secret_hash` field, so none can leak it.

The secret of a new key exists only in `IssuedKeySerializer`'s output, built once from the value
`routing.keys.make_key` returns; it is never read back from a model.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework import serializers

from routing import keys
from routing.models import ProxyKey, UsageLog

KEY_FIELDS = (
    "id",
    "user",
    "username",
    "name",
    "prefix",
    "is_active",
    "created_at",
    "last_used_at",
    "expires_at",
    "revoked_at",
    "allowed_models",
    "rpm_limit",
    "tpm_limit",
    "budget_tokens",
    "budget_usd",
    "budget_period",
    "may_test_connection",
)


class ProxyKeySerializer(serializers.ModelSerializer):
    """A key as listed: its displayed prefix, owner, limits and state; never the secret."""

    username = serializers.CharField(source="user.username", read_only=True)
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = ProxyKey
        fields = KEY_FIELDS
        read_only_fields = KEY_FIELDS


class KeyCreateSerializer(serializers.ModelSerializer):
    """What a holder of add_proxykey sends to issue a key; the hash and prefix are made here, the secret
    returned once. Who may get a key like this is the view's check (`routing.access.key_refusal`)."""

    user = serializers.PrimaryKeyRelatedField(queryset=get_user_model().objects.filter(is_active=True))

    class Meta:
        model = ProxyKey
        fields = (
            "user",
            "name",
            "expires_at",
            "allowed_models",
            "rpm_limit",
            "tpm_limit",
            "budget_tokens",
            "budget_usd",
            "budget_period",
            "may_test_connection",
        )

    def validate_expires_at(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("Must be in the future.")
        return value

    def create(self, validated_data) -> ProxyKey:
        new = keys.make_key()
        key = ProxyKey.objects.create(prefix=new.prefix, secret_hash=new.digest, **validated_data)
        key.issued_secret = new.secret  # on this instance only, for the one create response
        return key


class IssuedKeySerializer(ProxyKeySerializer):
    """The create response: the listed fields plus `secret`, which no other response carries."""

    secret = serializers.CharField(source="issued_secret", read_only=True)

    class Meta(ProxyKeySerializer.Meta):
        fields = (*KEY_FIELDS, "secret")
        read_only_fields = fields


class UsageLogSerializer(serializers.ModelSerializer):
    """One request's usage row. Request and response bodies stay in the admin: large and sensitive."""

    username = serializers.CharField(source="user.username", read_only=True, allow_null=True, default=None)
    key_prefix = serializers.CharField(source="key.prefix", read_only=True, allow_null=True, default=None)

    class Meta:
        model = UsageLog
        fields = (
            "id",
            "created_at",
            "request_id",
            "user",
            "username",
            "key",
            "key_prefix",
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
        read_only_fields = fields


class UsageTotalsSerializer(serializers.Serializer):
    requests = serializers.IntegerField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    cache_read_tokens = serializers.IntegerField()
    cache_creation_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField(help_text="Input, output and both cache counts together.")
    errors = serializers.IntegerField(help_text="Rows with status 400 or above.")
    cost_usd = serializers.DecimalField(
        max_digits=18, decimal_places=6, help_text="USD, the sum of the rows' costs (unpriced rows add nothing)."
    )


class UsageGroupSerializer(UsageTotalsSerializer):
    """One group's totals; only the field named by `group_by` (and `username` for users) is present."""

    user = serializers.IntegerField(required=False, allow_null=True)
    username = serializers.CharField(required=False, allow_null=True)
    model = serializers.CharField(required=False)
    day = serializers.DateField(required=False)


class UsageSummarySerializer(serializers.Serializer):
    group_by = serializers.ChoiceField(choices=["user", "model", "day"])
    results = UsageGroupSerializer(many=True)
    totals = UsageTotalsSerializer()
