"""A key acts as its owner: nobody gives a key to someone more privileged, or a power they lack themselves.

Only a superuser issues (or reassigns) a key for a superuser, and only a holder of
`routing.test_provider` lets a key call /test-connection: in the management API and in the admin alike.
"""

from __future__ import annotations

import pytest
from django.test import Client

from routing.models import ProxyKey
from tests.factories import make_key, make_staff, make_user

pytestmark = pytest.mark.django_db

ISSUER = ("routing.add_proxykey", "routing.view_proxykey", "routing.change_proxykey")


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def issuer():
    return signed_in(make_staff("issuer", *ISSUER))


@pytest.fixture
def root():
    return make_user(username="root", is_staff=True, is_superuser=True)


def api_issue(client: Client, **fields):
    return client.post("/api/v1/keys/", fields, "application/json")


def admin_issue(client: Client, **fields):
    return client.post("/admin/routing/proxykey/add/", {"budget_period": "month", **fields})


def test_a_staff_user_with_add_proxykey_cannot_issue_a_key_for_a_superuser_through_the_api(issuer, root):
    response = api_issue(issuer, user=root.pk, name="mine now")
    assert response.status_code == 403
    assert response.json() == {"detail": "Only a superuser may issue or reassign a key for a superuser."}
    assert not ProxyKey.objects.filter(user=root).exists()


def test_a_staff_user_with_add_proxykey_cannot_issue_a_key_for_a_superuser_in_the_admin(issuer, root):
    response = admin_issue(issuer, user=root.pk)
    assert response.status_code == 200
    assert "Only a superuser may issue or reassign a key for a superuser." in response.content.decode()
    assert not ProxyKey.objects.filter(user=root).exists()


def test_the_same_staff_user_issues_keys_for_ordinary_users_and_staff(issuer):
    bob, staff = make_user(username="bob"), make_staff("helper", "routing.view_proxykey")
    assert api_issue(issuer, user=bob.pk).status_code == 201
    assert admin_issue(issuer, user=staff.pk).status_code == 200
    assert ProxyKey.objects.filter(user__in=[bob, staff]).count() == 2


def test_a_superuser_issues_a_key_for_a_superuser(root):
    other = make_user(username="root2", is_staff=True, is_superuser=True)
    client = signed_in(root)
    assert api_issue(client, user=other.pk).status_code == 201
    assert "Key issued" in admin_issue(client, user=other.pk).content.decode()
    assert ProxyKey.objects.filter(user=other).count() == 2


def test_an_existing_key_cannot_be_reassigned_to_a_superuser_in_the_admin(issuer, root):
    key, _ = make_key(make_staff("issuer2"), name="known secret")
    response = issuer.post(
        f"/admin/routing/proxykey/{key.pk}/change/", {"user": root.pk, "name": key.name, "budget_period": "month"}
    )
    assert response.status_code == 200
    assert "Only a superuser may issue or reassign a key for a superuser." in response.content.decode()
    key.refresh_from_db()
    assert key.user.username == "issuer2"


def test_a_key_may_test_connections_only_if_its_issuer_may(issuer):
    bob = make_user(username="bob")
    response = api_issue(issuer, user=bob.pk, may_test_connection=True)
    assert response.status_code == 403
    assert "routing.test_provider" in response.json()["detail"]
    # In the admin the field is read-only for them: a forged form value is ignored.
    admin_issue(issuer, user=bob.pk, may_test_connection="on")
    assert list(ProxyKey.objects.filter(user=bob).values_list("may_test_connection", flat=True)) == [False]


def test_a_holder_of_test_provider_issues_a_key_that_may_test_connections():
    tester = signed_in(make_staff("tester", *ISSUER, "routing.test_provider"))
    bob = make_user(username="bob")
    response = api_issue(tester, user=bob.pk, may_test_connection=True)
    assert response.status_code == 201 and response.json()["may_test_connection"] is True
    admin_issue(tester, user=bob.pk, may_test_connection="on")
    assert list(ProxyKey.objects.filter(user=bob).values_list("may_test_connection", flat=True)) == [True, True]
