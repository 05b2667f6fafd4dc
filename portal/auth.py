"""Who may sign in how: local passwords (within the settings' rules) and OpenID Connect single sign-on."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

logger = logging.getLogger(__name__)


def may_use_local_password(user) -> bool:
    """Superusers always may (the way back in when the identity provider is down); staff unless
    SSO_REQUIRED_FOR_STAFF; everyone else while PORTAL_LOCAL_LOGIN is on."""
    if user.is_superuser:
        return True
    if user.is_staff:
        return not settings.SSO_REQUIRED_FOR_STAFF
    return settings.PORTAL_LOCAL_LOGIN


class LocalPasswordBackend(ModelBackend):
    """Django's password check, for the users `may_use_local_password` lets through (admin and portal alike)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        user = super().authenticate(request, username=username, password=password, **kwargs)
        return user if user is not None and may_use_local_password(user) else None


def email_domain_allowed(email: str) -> bool:
    domains = settings.OIDC_ALLOWED_EMAIL_DOMAINS
    return not domains or email.rpartition("@")[2].lower() in domains


def claimed_groups(claims: dict) -> list[str] | None:
    """Group names the directory gives the user, or None when no claim is configured or sent."""
    name = settings.OIDC_GROUPS_CLAIM
    value = claims.get(name) if name else None
    if value is None:
        return None
    names = [value] if isinstance(value, str) else value
    return [str(n).strip() for n in names if str(n).strip()]


class GatewayOIDCBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc with the gateway's rules: a verified email of an allowed domain, and the user's
    groups set from the directory's claim on every sign-in (made when missing)."""

    def verify_claims(self, claims: dict) -> bool:
        email = claims.get("email") or ""
        if not email or claims.get("email_verified") is False:
            logger.warning("single sign-on refused: no verified email in the claims")
            return False
        if not email_domain_allowed(email):
            logger.warning("single sign-on refused: email domain of %s not allowed", email)
            return False
        return True

    def create_user(self, claims: dict):
        return self.update_user(super().create_user(claims), claims)  # made without a usable password

    def update_user(self, user, claims: dict):
        names = claimed_groups(claims)
        if names is not None:
            user.groups.set([Group.objects.get_or_create(name=name)[0] for name in names])
        return user


def username_from_claims(email: str, claims: dict | None = None) -> str:
    """New single sign-on users are named by their email (the claim they are matched on), not a hash."""
    return email.lower()
