"""Management API tokens in the admin: listed and revoked (deleted), never made here.

knox's own admin lets anyone with `knox.add_authtoken` make a token for any user, a superuser
included: an escalation the rest of the gateway forbids. Tokens come from `manage.py
create_api_token` instead, run by whoever operates the server.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone
from knox.models import AuthToken

admin.site.unregister(AuthToken)


@admin.register(AuthToken)
class AuthTokenAdmin(admin.ModelAdmin):
    list_display = ("token_key", "user", "created", "expiry", "status")
    list_filter = ("created", "expiry")
    list_select_related = ("user",)
    search_fields = ("token_key", "user__username")
    fields = ("token_key", "user", "created", "expiry")
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Status")
    def status(self, obj: AuthToken) -> str:
        return "expired" if obj.expiry and obj.expiry <= timezone.now() else "active"
