"""Who sees and does what through the management API: the admin's model permissions (routing/access.py).

A holder of a model's view (or change) permission sees every row; anyone else, staff or not, sees only
the rows they own. Ownership is enforced by scoping the queryset (`visible_to`), so another user's key
is a 404, not a 403 that would confirm it exists. Each action needs its own permission (`Holds`); owners
may always revoke their own keys (`OwnerOrHolds`).
"""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework.permissions import BasePermission

from routing import access


def visible_to(user, queryset: QuerySet) -> QuerySet:
    """The rows of `queryset` (with a `user` field) that `user` may read."""
    return queryset if access.may_view_all(user, queryset.model) else queryset.filter(user_id=user.pk)


def permission_name(action: str, model) -> str:
    return f"{model._meta.app_label}.{action}_{model._meta.model_name}"


class Holds(BasePermission):
    """The caller holds `action` on `model`, as the admin requires (issuing keys: add)."""

    def __init__(self, action: str, model) -> None:
        self.action, self.model = action, model
        self.message = f"You need the {permission_name(action, model)} permission."

    def has_permission(self, request, view) -> bool:
        return access.holds(request.user, self.action, self.model)


class OwnerOrHolds(Holds):
    """Per object: its owner, or a holder of `action` on its model (revoking another user's key)."""

    def has_permission(self, request, view) -> bool:
        return True

    def has_object_permission(self, request, view, obj) -> bool:
        return obj.user_id == request.user.pk or access.holds(request.user, self.action, self.model)
