"""The OpenID Connect backend's rules, fed the claims a provider's userinfo endpoint returns: a verified
email of an allowed domain, and the user's groups set from the configured claim on every sign-in."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from portal.auth import GatewayOIDCBackend
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def backend(settings) -> GatewayOIDCBackend:
    settings.OIDC_OP_TOKEN_ENDPOINT = "https://idp.example.test/token"
    settings.OIDC_OP_USER_ENDPOINT = "https://idp.example.test/userinfo"
    settings.OIDC_OP_JWKS_ENDPOINT = "https://idp.example.test/jwks"
    settings.OIDC_RP_CLIENT_ID, settings.OIDC_RP_CLIENT_SECRET = "gateway", "secret"
    settings.OIDC_ALLOWED_EMAIL_DOMAINS = ["example.test"]
    settings.OIDC_GROUPS_CLAIM = "groups"
    return GatewayOIDCBackend()


@pytest.mark.parametrize(
    ("claims", "accepted"),
    [
        pytest.param({"email": "erin@example.test", "email_verified": True}, True, id="verified"),
        pytest.param({"email": "erin@Example.TEST"}, True, id="domain-any-case"),
        pytest.param({"email": "erin@example.test", "email_verified": False}, False, id="unverified"),
        pytest.param({"email": "erin@evil.test"}, False, id="other-domain"),
        pytest.param({"email": "erin@example.test.evil.test"}, False, id="suffix-trick"),
        pytest.param({"sub": "42"}, False, id="no-email"),
    ],
)
def test_only_verified_emails_of_allowed_domains_sign_in(backend, claims, accepted):
    assert backend.verify_claims(claims) is accepted


def test_a_new_user_is_named_by_email_has_no_password_and_lands_in_the_claimed_groups(backend):
    Group.objects.create(name="team-alpha")

    user = backend.create_user({"email": "Erin@example.test", "groups": ["team-alpha", "team-new"]})

    stored = get_user_model().objects.get(pk=user.pk)
    assert (stored.username, stored.has_usable_password(), stored.is_staff) == ("erin@example.test", False, False)
    assert sorted(stored.groups.values_list("name", flat=True)) == ["team-alpha", "team-new"]
    assert Group.objects.filter(name="team-alpha").count() == 1


def test_the_groups_follow_the_directory_at_each_sign_in(backend):
    user = make_user(username="erin", email="erin@example.test")
    user.groups.add(Group.objects.create(name="old-team"))

    backend.update_user(user, {"email": "erin@example.test", "groups": "new-team"})

    assert list(user.groups.values_list("name", flat=True)) == ["new-team"]


def test_without_a_groups_claim_the_groups_are_left_alone(backend):
    user = make_user(username="erin", email="erin@example.test")
    user.groups.add(Group.objects.create(name="set-by-admin"))

    backend.update_user(user, {"email": "erin@example.test"})

    assert list(user.groups.values_list("name", flat=True)) == ["set-by-admin"]
