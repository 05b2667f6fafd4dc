from django.contrib import admin

from portal.models import PortalPolicy


@admin.register(PortalPolicy)
class PortalPolicyAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "priority",
        "may_create_keys",
        "max_keys",
        "max_rpm",
        "max_tpm",
        "max_budget_tokens",
        "key_days",
    )
    list_filter = ("may_create_keys",)
    list_select_related = ("group",)
    search_fields = ("group__name",)
    autocomplete_fields = ("group",)
    fieldsets = (
        (None, {"fields": ("group", "priority", "may_create_keys", "max_keys", "key_days", "allowed_models")}),
        (
            "Limits of each key",
            {
                "fields": (
                    ("default_rpm", "max_rpm"),
                    ("default_tpm", "max_tpm"),
                    ("default_budget_tokens", "max_budget_tokens"),
                    "budget_period",
                )
            },
        ),
    )
