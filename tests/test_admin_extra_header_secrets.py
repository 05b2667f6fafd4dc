"""Credential-like extra headers are write-only in the admin, like the provider's key: whoever may view
a provider sees `(stored)`, never the value, and saving the form as shown keeps the value."""

import json

import pytest
from django.contrib.auth.models import Permission

from routing.admin import STORED
from routing.models import Provider
from tests.factories import make_provider, make_user, provider_form

pytestmark = pytest.mark.django_db

TOKEN = "AIzaSyD-extra-header-credential-42"
HEADERS = {"X-Goog-Api-Key": TOKEN, "X-Title": "Team Gateway"}


@pytest.fixture
def provider():
    return make_provider(extra_headers=HEADERS)


@pytest.fixture
def staff(client):
    user = make_user(username="ops", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_provider", "change_provider"]))
    client.force_login(user)
    return client


def _save(client, provider: Provider, headers: dict):
    data = provider_form(provider, extra_headers=json.dumps(headers))
    return client.post(f"/admin/routing/provider/{provider.pk}/change/", data)


def test_the_change_page_shows_a_credential_headers_value_as_stored(staff, provider):
    page = staff.get(f"/admin/routing/provider/{provider.pk}/change/").content.decode()
    assert TOKEN not in page and TOKEN[:12] not in page
    assert "Team Gateway" in page and STORED in page


def test_saving_the_form_as_shown_keeps_the_stored_value(staff, provider):
    assert _save(staff, provider, {"X-Goog-Api-Key": STORED, "X-Title": "Renamed"}).status_code == 302
    provider.refresh_from_db()
    assert provider.extra_headers == {"X-Goog-Api-Key": TOKEN, "X-Title": "Renamed"}


def test_a_new_value_replaces_it(staff, provider):
    assert (
        _save(staff, provider, {"X-Goog-Api-Key": "AIza-new-value-0001", "X-Title": "Team Gateway"}).status_code == 302
    )
    provider.refresh_from_db()
    assert provider.extra_headers["X-Goog-Api-Key"] == "AIza-new-value-0001"


def test_a_new_credential_header_cannot_be_left_as_stored(staff, provider):
    response = _save(staff, provider, {**HEADERS, "X-Goog-Api-Key": STORED, "X-Other-Token": STORED})
    assert response.status_code == 200 and "nothing is stored for it yet" in response.content.decode()
    provider.refresh_from_db()
    assert provider.extra_headers == HEADERS
