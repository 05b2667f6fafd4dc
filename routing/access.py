"""Who may manage what: one rule set for the admin and the management API (docs/management-api.md).

A *holder* of a permission is who Django's admin lets act: an active staff user with the model
permission (superusers hold them all). A non-staff user with permissions holds nothing here, as the
admin will not let them in. Everyone else is an ordinary user and manages only what they own.
"""

from __future__ import annotations

from django.contrib.auth import get_permission_codename
from django.db.models import Model


def holds(user, action: str, model: type[Model]) -> bool:
    """The admin's test for `action` ("view", "add", "change", "delete", or a custom one) on `model`."""
    if not (user and user.is_authenticated and user.is_active and user.is_staff):
        return False
    opts = model._meta
    return user.has_perm(f"{opts.app_label}.{get_permission_codename(action, opts)}")


def may_view_all(user, model: type[Model]) -> bool:
    """The admin's changelist rule (`ModelAdmin.has_view_permission`): view or change."""
    return holds(user, "view", model) or holds(user, "change", model)


def may_test_providers(user) -> bool:
    from routing.models import Provider

    return holds(user, "test", Provider)


def key_refusal(requester, owner, *, may_test_connection: bool) -> str | None:
    """Why `requester` may not give `owner` a key like this, or None.

    A key acts as its owner, so a key for someone more privileged is an escalation: only a superuser
    gives one to a superuser. Nor may a key carry a power its issuer lacks (testing connections).
    """
    if owner.is_superuser and not requester.is_superuser:
        return "Only a superuser may issue or reassign a key for a superuser."
    if may_test_connection and not may_test_providers(requester):
        return "Only holders of routing.test_provider may let a key test connections."
    return None
