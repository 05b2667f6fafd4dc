"""Which policy holds for a user, what it lets them do, and issuing a key within it.

The form shows the limits (and the browser enforces them as input bounds), but every rule is checked
again here on the server, inside the transaction that creates the key.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from portal.models import PortalPolicy
from routing import keys
from routing.models import ProxyKey


class PolicyRefusal(Exception):
    """Creating this key would break the user's policy; the message says which rule."""


def policy_for(user) -> PortalPolicy:
    """Their groups' policy of lowest priority, else the default, else the built-in (no limits)."""
    found = PortalPolicy.objects.filter(group__in=user.groups.all()).order_by("priority", "group__name").first()
    found = found or PortalPolicy.objects.filter(group=None).first()
    return found or PortalPolicy(may_create_keys=settings.PORTAL_SELF_SERVICE_KEYS)


def active_keys(user) -> QuerySet[ProxyKey]:
    now = timezone.now()
    return ProxyKey.objects.filter(user=user, revoked_at=None).filter(Q(expires_at=None) | Q(expires_at__gt=now))


def creation_refusal(user, policy: PortalPolicy) -> str | None:
    """Why `user` may not create another key now, or None."""
    if not policy.may_create_keys:
        return "Your policy does not let you create keys: ask an admin."
    if policy.max_keys is not None and active_keys(user).count() >= policy.max_keys:
        return f"You have {policy.max_keys} active keys, the most your policy allows: revoke one first."
    return None


def limit_refusal(policy: PortalPolicy, wanted: dict) -> dict[str, str]:
    """Field name -> why `wanted`'s value breaks the policy (a missing value is "no limit")."""
    errors = {}
    for field, most in (
        ("rpm_limit", policy.max_rpm),
        ("tpm_limit", policy.max_tpm),
        ("budget_tokens", policy.max_budget_tokens),
    ):
        value = wanted.get(field)
        if most is not None and (value is None or value > most):
            errors[field] = f"At most {most} under your policy."
    days = wanted.get("expires_in_days")
    if policy.key_days is not None and (days is None or days > policy.key_days):
        errors["expires_in_days"] = f"At most {policy.key_days} days under your policy."
    return errors


def issue_key(user, policy: PortalPolicy, wanted: dict) -> tuple[ProxyKey, str]:
    """A new key for `user` within `policy`, and its secret (shown once, stored only as a hash).

    The user's row is locked while counting, so two requests at once cannot both take the last key.
    """
    if errors := limit_refusal(policy, wanted):
        raise PolicyRefusal("; ".join(errors.values()))
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        if refusal := creation_refusal(user, policy):
            raise PolicyRefusal(refusal)
        new = keys.make_key()
        days = wanted.get("expires_in_days")
        key = ProxyKey.objects.create(
            user=user,
            name=wanted.get("name", ""),
            prefix=new.prefix,
            secret_hash=new.digest,
            rpm_limit=wanted.get("rpm_limit"),
            tpm_limit=wanted.get("tpm_limit"),
            budget_tokens=wanted.get("budget_tokens"),
            budget_period=policy.budget_period,
            allowed_models=policy.allowed_models,
            expires_at=timezone.now() + timedelta(days=days) if days else None,
        )
    return key, new.secret
