"""Django admin for providers, routes, keys and the usage log: the team admin's whole console."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils import timezone

from api.admission import testers
from api.forward import connection_test
from api.http.errors import GatewayError
from routing import (
    access,
    admin_explain,
    admin_health,
    admin_spend,  # noqa: F401  (registers prices, budgets and the spend page)
    admin_tokens,  # noqa: F401  (replaces knox's token admin: list and revoke only)
    admin_usage,  # noqa: F401  (registers the usage log and audit pages)
    keys,
    spend_stats,
    usage_stats,
)
from routing.models import ModelRoute, Provider, ProxyKey, RouteFallback, RouteTarget
from routing.snapshot import SECRET_HEADER_NAME

STORED = "(stored)"
"""What the admin shows instead of a credential header's value."""


class ProviderForm(forms.ModelForm):
    base_url = forms.URLField(
        max_length=500, assume_scheme="https", help_text=Provider._meta.get_field("base_url").help_text
    )
    api_key = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only: stored encrypted, never shown again. Leave blank to keep the current key.",
    )
    clear_api_key = forms.BooleanField(required=False, help_text="Remove the stored key.")

    class Meta:
        model = Provider
        fields = "__all__"
        help_texts = {
            "extra_headers": "Sent with every upstream call. Values of headers named like a credential (auth, key,"
            f" token, secret...) are write-only: they show as {STORED!r}; keep that to keep the value.",
            "circuit_failures": "Failures (connect, timeout, 5xx, 529, 429) within the window that cool it down;"
            " 0 turns its circuit off (errors then always reach the client as they come).",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored = self.instance.extra_headers if self.instance.pk else None
        if isinstance(stored, dict):
            self.initial["extra_headers"] = {
                name: STORED if SECRET_HEADER_NAME.search(str(name)) else value for name, value in stored.items()
            }

    def clean_extra_headers(self):
        """A credential header left as shown keeps its stored value; a new one must be given in full."""
        headers = self.cleaned_data.get("extra_headers")
        stored = (self.instance.extra_headers if self.instance.pk else None) or {}
        if not isinstance(headers, dict):
            return headers
        for name, value in headers.items():
            if value == STORED:
                if name not in stored:
                    raise forms.ValidationError(f"Enter the value of {name!r}: nothing is stored for it yet.")
                headers[name] = stored[name]
        return headers

    def clean(self):
        """Apply the key fields to the instance with the others, so the model's own rules
        (`Provider.clean`: a new host needs the key again) see what will be saved."""
        cleaned = super().clean()
        if cleaned.get("clear_api_key"):
            self.instance.api_key = ""
        elif cleaned.get("api_key"):
            self.instance.api_key = cleaned["api_key"]
        return cleaned


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    form = ProviderForm
    list_display = (
        "name",
        "kind",
        "profile",
        "base_url",
        "masked_key",
        "enabled",
        "health_state",
        "env_badge",
        "updated_at",
    )
    list_filter = ("kind", "profile", "enabled", "managed_by_env")
    search_fields = ("name", "base_url")
    readonly_fields = ("masked_key", "managed_by_env", "health", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "kind", "profile", "base_url", "enabled", "managed_by_env")}),
        ("Credentials", {"fields": ("masked_key", "api_key", "clear_api_key", "extra_headers", "api_version")}),
        (
            "Limits",
            {"fields": ("connect_timeout", "read_timeout", "first_byte_timeout", "max_retries", "max_output_tokens")},
        ),
        (
            "Account limits and health",
            {
                "fields": (
                    "health",
                    "rpm_limit",
                    "tpm_limit",
                    "circuit_failures",
                    "circuit_window",
                    "circuit_cooldown",
                    "allow_direct",
                )
            },
        ),
        (None, {"fields": ("created_at", "updated_at")}),
    )

    actions = ("test_connection",)

    def has_test_permission(self, request) -> bool:
        return access.may_test_providers(request.user)

    @admin.action(description="Test connection", permissions=["test"])
    def test_connection(self, request, queryset):
        """GET /test-connection for the selected providers: the same probe, rate limit and log line."""
        user = request.user
        tester = testers.Tester(who=f"user {user.get_username()} (admin)", rate_key=f"user:{user.pk}")
        try:
            async_to_sync(testers.check_tester_rate)(tester)
        except GatewayError as exc:
            self.message_user(request, exc.error.message, messages.ERROR)
            return
        selected = {p.pk: p.name for p in queryset}
        results = connection_test.probe_providers(set(selected))
        testers.log_tested(tester, request.META.get("REMOTE_ADDR") or "unknown", ",".join(selected.values()), results)
        for result in results:
            ok = result["status"] == "ok"
            detail = f"ok in {result['latency_ms']} ms" if ok else f"failed: {result['error']}"
            self.message_user(
                request,
                f"{result['provider']} ({result['model']}): {detail}",
                messages.SUCCESS if ok else messages.ERROR,
            )
        for name in sorted(set(selected.values()) - {r["provider"] for r in results}):
            self.message_user(request, f"{name}: not tested, it is disabled or has no enabled route", messages.WARNING)

    @admin.display(description="Health")
    def health_state(self, obj: Provider) -> str:
        return admin_health.state_badge(obj)

    @admin.display(description="Health")
    def health(self, obj: Provider) -> str:
        return admin_health.details(obj) if obj.pk else "—"

    @admin.display(description="API key")
    def masked_key(self, obj: Provider) -> str:
        return obj.masked_key or "—"

    @admin.display(description="Source", boolean=False)
    def env_badge(self, obj) -> str:
        return "environment" if obj.managed_by_env else "admin"


class RouteFallbackInline(admin.TabularInline):
    model = RouteFallback
    fk_name = "route"
    extra = 0
    autocomplete_fields = ("fallback",)


class TargetFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        """At least one target, all of one provider kind (a route is translated or passed through, not both)."""
        super().clean()
        kept = [f.cleaned_data for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        if not kept:
            raise forms.ValidationError("A route needs at least one target.")
        kinds = {row["provider"].kind for row in kept if row.get("provider")}
        if len(kinds) > 1:
            raise forms.ValidationError(
                "A route's targets must all be of one provider kind: " + ", ".join(sorted(kinds)) + "."
            )


class RouteTargetInline(admin.TabularInline):
    model = RouteTarget
    formset = TargetFormSet
    extra = 0
    min_num = 1
    fields = ("provider", "model", "weight", "position", "context_window", "share_last_hour")
    readonly_fields = ("share_last_hour",)

    @admin.display(description="Share of the last hour")
    def share_last_hour(self, obj: RouteTarget) -> str:
        if not obj.pk:
            return "—"
        return usage_stats.target_share(obj)


@admin.register(ModelRoute)
class ModelRouteAdmin(admin_explain.TryRequestMixin, admin.ModelAdmin):
    list_display = (
        "name",
        "pattern",
        "priority",
        "conditions_display",
        "targets_display",
        "strategy",
        "scope",
        "enabled",
        "source",
    )
    list_display_links = ("name",)
    list_editable = ("priority", "enabled")
    list_filter = ("enabled", "strategy", "targets__provider", "managed_by_env", "long_context")
    search_fields = ("name", "pattern", "targets__model", "note")
    filter_horizontal = ("users", "groups")
    readonly_fields = ("managed_by_env",)
    inlines = (RouteTargetInline, RouteFallbackInline)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("targets__provider")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET":
            unpriced = [t for t in spend_stats.unpriced_targets() if str(t.route_id) == str(object_id)]
            if unpriced:
                names = ", ".join(str(t) for t in unpriced)
                messages.warning(request, f"No price for {names}: its requests will have no cost (see Prices).")
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="Targets")
    def targets_display(self, obj: ModelRoute) -> str:
        return ", ".join(f"{t} (weight {t.weight})" if t.weight != 1 else str(t) for t in obj.targets.all())

    @admin.display(description="When")
    def conditions_display(self, obj: ModelRoute) -> str:
        given = obj.conditions if isinstance(obj.conditions, dict) else {}
        return ", ".join(f"{name}={value}" for name, value in given.items()) or "always"

    @admin.display(description="Scope")
    def scope(self, obj: ModelRoute) -> str:
        users, groups = obj.users.count(), obj.groups.count()
        return "everyone" if not (users or groups) else f"{users} users, {groups} groups"

    @admin.display(description="Source")
    def source(self, obj: ModelRoute) -> str:
        return "environment" if obj.managed_by_env else "admin"


class ProxyKeyForm(forms.ModelForm):
    requester = None  # the signed-in user, set by ProxyKeyAdmin.get_form

    class Meta:
        model = ProxyKey
        fields = (
            "user",
            "name",
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

    def clean(self):
        """The management API's rule (routing.access.key_refusal) on giving a key to a user or a power."""
        cleaned = super().clean()
        owner = cleaned.get("user")
        if owner is not None and {"user", "may_test_connection"} & set(self.changed_data):
            flag = cleaned.get("may_test_connection", self.instance.may_test_connection)
            refusal = access.key_refusal(self.requester, owner, may_test_connection=flag)
            if refusal:
                raise forms.ValidationError(refusal)
        return cleaned


@admin.register(ProxyKey)
class ProxyKeyAdmin(admin.ModelAdmin):
    form = ProxyKeyForm
    list_display = ("prefix_display", "name", "user", "status", "created_at", "last_used_at", "expires_at")
    list_filter = ("budget_period", ("revoked_at", admin.EmptyFieldListFilter), "may_test_connection")
    list_select_related = ("user",)
    search_fields = ("prefix", "name", "user__username", "user__email")
    readonly_fields = ("prefix_display", "created_at", "last_used_at", "usage_to_date", "remaining_budget")
    autocomplete_fields = ("user",)
    actions = ("revoke",)

    @admin.display(description="Key", ordering="prefix")
    def prefix_display(self, obj: ProxyKey) -> str:
        return f"{obj.prefix}…" if obj.prefix else "(issued on save)"

    @admin.display(description="Usage to date")
    def usage_to_date(self, obj: ProxyKey) -> str:
        if not obj.pk:
            return "—"
        usage = usage_stats.key_usage(obj)
        return f"{usage.tokens_to_date} tokens in {usage.requests_to_date} requests"

    @admin.display(description="Spend and remaining budget")
    def remaining_budget(self, obj: ProxyKey) -> str:
        if not obj.pk:
            return "—"
        return str(spend_stats.budget_status("key", obj.pk, obj.budget_usd, obj.budget_tokens, obj.budget_period))

    @admin.display(description="Status")
    def status(self, obj: ProxyKey) -> str:
        if obj.revoked_at:
            return "revoked"
        if obj.expires_at and obj.expires_at <= timezone.now():
            return "expired"
        return "active"

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)  # a new class on each call
        form.requester = request.user
        return form

    def get_readonly_fields(self, request, obj=None):
        if access.may_test_providers(request.user):
            return self.readonly_fields
        return (*self.readonly_fields, "may_test_connection")

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke(self, request, queryset):
        for key in queryset.filter(revoked_at__isnull=True):
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])
        self.message_user(request, "Revoked.")

    def save_model(self, request, obj: ProxyKey, form, change: bool) -> None:
        if not change:
            new = keys.make_key()
            obj.prefix, obj.secret_hash = new.prefix, new.digest
            request._issued_secret = new.secret  # shown once by response_add, stored nowhere
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        secret = getattr(request, "_issued_secret", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "key": obj,
            "secret": secret,
            "opts": self.model._meta,
            "title": "Key issued",
        }
        response = TemplateResponse(request, "admin/routing/key_issued.html", context)
        response["Cache-Control"] = "no-store"
        return response
