"""Who sees what: staff see everything, everyone else only rows they own.

Ownership is enforced by scoping the queryset (`visible_to`), so another user's key is a 404, not a
403 that would confirm it exists. `IsOwnerOrStaff` repeats the rule per object as a second guard.
"""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework.permissions import BasePermission


def is_staff(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)


def visible_to(user, queryset: QuerySet) -> QuerySet:
    """The rows of `queryset` (with a `user` field) that `user` may read."""
    return queryset if is_staff(user) else queryset.filter(user_id=user.pk)


class IsStaff(BasePermission):
    """Staff only: issuing keys, for anyone including themselves."""

    message = "Only staff may issue keys."

    def has_permission(self, request, view) -> bool:
        return is_staff(request.user)


class IsOwnerOrStaff(BasePermission):
    def has_object_permission(self, request, view, obj) -> bool:
        return is_staff(request.user) or obj.user_id == request.user.pk
