"""Local passwords: on for everyone by default, off for ordinary users or staff by setting, never for
superusers; throttled by django-axes like the admin's; sign-out is a POST."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.portal.conftest import PASSWORD, person

pytestmark = pytest.mark.django_db


def sign_in(client: Client, username: str, password: str = PASSWORD):
    return client.post("/portal/login/?next=/portal/", {"username": username, "password": password})


def signed_in_as(client: Client) -> str | None:
    response = client.get("/portal/")
    return response.context["user"].username if response.status_code == 200 else None


def test_a_user_signs_in_with_a_password_and_out_with_a_post(client, alice):
    response = sign_in(client, "alice")

    assert response.status_code == 302 and response["Location"] == "/portal/"
    assert signed_in_as(client) == "alice"
    assert client.get("/portal/logout/").status_code == 405
    assert client.post("/portal/logout/").status_code == 302
    assert signed_in_as(client) is None


@pytest.mark.parametrize(
    ("flags", "who", "allowed"),
    [
        pytest.param({"PORTAL_LOCAL_LOGIN": False}, {}, False, id="users-off"),
        pytest.param({"PORTAL_LOCAL_LOGIN": False}, {"is_staff": True}, True, id="users-off-staff-on"),
        pytest.param({"SSO_REQUIRED_FOR_STAFF": True}, {"is_staff": True}, False, id="staff-must-sso"),
        pytest.param({"SSO_REQUIRED_FOR_STAFF": True}, {}, True, id="staff-rule-spares-users"),
        pytest.param(
            {"PORTAL_LOCAL_LOGIN": False, "SSO_REQUIRED_FOR_STAFF": True},
            {"is_staff": True, "is_superuser": True},
            True,
            id="superusers-always",
        ),
    ],
)
def test_local_passwords_follow_the_settings(client, settings, flags, who, allowed):
    for name, value in flags.items():
        setattr(settings, name, value)
    person("carol", **who)

    sign_in(client, "carol")

    assert (signed_in_as(client) == "carol") is allowed


def test_staff_who_must_use_sso_are_refused_at_the_admin_login_too(client, settings):
    settings.SSO_REQUIRED_FOR_STAFF = True
    person("dave", is_staff=True)

    response = client.post("/admin/login/?next=/admin/", {"username": "dave", "password": PASSWORD})

    assert response.status_code == 200 and response.context["form"].errors
    assert client.get("/admin/").status_code == 302


def test_the_portal_login_is_locked_after_repeated_wrong_passwords_even_for_the_right_one(client, alice, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        sign_in(client, "alice", "wrong password")

    response = sign_in(client, "alice")

    assert response.status_code == 429
    assert signed_in_as(client) is None


def test_the_sso_button_shows_only_when_single_sign_on_is_configured(client, settings):
    assert b"sso-login" not in client.get("/portal/login/").content
    settings.SSO_ENABLED = True
    assert b'href="/oidc/authenticate/?next=/portal/"' in client.get("/portal/login/").content
