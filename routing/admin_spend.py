"""The admin of spend in money: prices (and which route targets have none), user and team budgets with
what is left of them, and the spend summary by user, team, model and provider with a per-day chart."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.validators import URLValidator
from django.template.response import TemplateResponse
from django.urls import path

from routing import credentials, spend_stats, usage_stats
from routing.models import AlertSettings, Price, TeamBudget, UsageLog, UserBudget
from routing.prices import MICRO


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    list_display = ("provider", "model", "input", "output", "cache_read", "cache_write", "effective_from")
    list_filter = ("provider",)
    list_select_related = ("provider",)
    search_fields = ("model", "provider__name")
    date_hierarchy = "effective_from"

    def changelist_view(self, request, extra_context=None):
        unpriced = spend_stats.unpriced_targets()
        if unpriced:
            names = ", ".join(sorted({f"{t.provider.name}/{t.model}" for t in unpriced}))
            messages.warning(request, f"Route targets without a price (their requests have no cost): {names}")
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [path("spend/", view(self.spend_view), name="routing_price_spend"), *super().get_urls()]

    def spend_view(self, request) -> TemplateResponse:
        if not self.admin_site.has_permission(request) or not request.user.has_perm("routing.view_usagelog"):
            return TemplateResponse(request, "admin/base_site.html", status=403)
        days = usage_stats.window_days(request.GET.get("days"))
        rows = usage_stats.since(days)
        daily = spend_stats.spend_per_day(rows, days)
        context = {
            **self.admin_site.each_context(request),
            "opts": UsageLog._meta,
            "title": f"Spend, last {days} days",
            "days": days,
            "total": sum((cost for _, cost in daily), spend_stats.ZERO),
            "groupings": [(g.title(), spend_stats.spend_by(rows, g)) for g in spend_stats.GROUPINGS],
            "daily": daily,
            "bars": usage_stats.bars([(d, int(cost / MICRO)) for d, cost in daily]),
            "teams": [(b, _status(b, "team", b.group_id)) for b in TeamBudget.objects.select_related("group")],
            "users": [(b, _status(b, "user", b.user_id)) for b in UserBudget.objects.select_related("user")],
        }
        return TemplateResponse(request, "admin/routing/spend.html", context)


def _status(budget, scope: str, owner_id: int) -> spend_stats.BudgetStatus:
    return spend_stats.budget_status(scope, owner_id, budget.usd, budget.tokens, budget.period)


class BudgetAdmin(admin.ModelAdmin):
    list_display = ("owner", "usd", "tokens", "period", "alert_at", "this_period")
    list_filter = ("period",)
    readonly_fields = ("this_period",)
    scope = ""

    @admin.display(description="This period")
    def this_period(self, obj) -> str:
        if not obj.pk:
            return "—"
        return str(_status(obj, self.scope, self.owner_id(obj)))


@admin.register(UserBudget)
class UserBudgetAdmin(BudgetAdmin):
    scope = "user"
    autocomplete_fields = ("user",)
    list_select_related = ("user",)
    search_fields = ("user__username", "user__email")

    @admin.display(description="User", ordering="user__username")
    def owner(self, obj: UserBudget) -> str:
        return str(obj.user)

    def owner_id(self, obj: UserBudget) -> int:
        return obj.user_id


@admin.register(TeamBudget)
class TeamBudgetAdmin(BudgetAdmin):
    scope = "team"
    autocomplete_fields = ("group",)
    list_select_related = ("group",)
    search_fields = ("group__name",)

    @admin.display(description="Team", ordering="group__name")
    def owner(self, obj: TeamBudget) -> str:
        return str(obj.group)

    def owner_id(self, obj: TeamBudget) -> int:
        return obj.group_id


class AlertSettingsForm(forms.ModelForm):
    webhook_url = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        validators=[URLValidator(schemes=["http", "https"])],
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Write-only: stored encrypted, never shown again. Leave blank to keep the current one;"
        " none stored: alerts go to ALERT_WEBHOOK_URL.",
    )
    clear_webhook_url = forms.BooleanField(required=False, help_text="Remove the stored URL.")

    class Meta:
        model = AlertSettings
        fields = ()

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("clear_webhook_url"):
            self.instance.webhook_url = ""
        elif cleaned.get("webhook_url"):
            self.instance.webhook_url = cleaned["webhook_url"]
        return cleaned


@admin.register(AlertSettings)
class AlertSettingsAdmin(admin.ModelAdmin):
    """One row: where budget alerts go. The URL is write-only, like a provider's key."""

    form = AlertSettingsForm
    list_display = ("__str__", "masked_webhook_url", "updated_at")
    readonly_fields = ("masked_webhook_url", "updated_at")
    fields = ("masked_webhook_url", "webhook_url", "clear_webhook_url", "updated_at")

    def has_add_permission(self, request) -> bool:
        return super().has_add_permission(request) and not AlertSettings.objects.exists()

    @admin.display(description="Webhook URL")
    def masked_webhook_url(self, obj: AlertSettings) -> str:
        try:
            return credentials.mask(obj.webhook_url) or "(none: ALERT_WEBHOOK_URL)"
        except credentials.CredentialError:
            return "(undecryptable)"
