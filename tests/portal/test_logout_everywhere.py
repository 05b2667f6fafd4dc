"""The "sign out everywhere" button ends every session of hers (on every device), only hers, only by a
CSRF-checked POST, and leaves an audit entry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.sessions.models import Session
from django.test import Client

from tests.portal.conftest import PASSWORD, person

pytestmark = pytest.mark.django_db
NOW = datetime(2031, 3, 15, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


def signed_in(username: str) -> Client:
    client = Client()
    response = client.post("/portal/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def is_signed_in(client: Client) -> bool:
    response = client.get("/portal/")
    return response.status_code == 200 and 'id="signed-in-as"' in response.content.decode()


@pytest.fixture
def devices(alice):
    person("bob")
    return signed_in("alice"), signed_in("alice"), signed_in("bob")


def test_her_other_session_is_signed_out_on_its_next_request(devices, alice):
    laptop, phone, bob = devices
    assert is_signed_in(phone)

    response = laptop.post("/portal/logout/everywhere/")

    assert response.status_code == 302 and response["Location"] == "/portal/login/"
    phone_page = phone.get("/portal/")
    assert phone_page.status_code == 302 and phone_page["Location"].startswith("/portal/login/")
    assert not is_signed_in(laptop)
    assert is_signed_in(bob)  # someone else's session is untouched
    assert [s.get_decoded().get("_auth_user_id") for s in Session.objects.all()].count(str(alice.pk)) == 0


def test_it_is_in_the_audit_log_with_who_and_from_where(devices, alice):
    laptop, _, _ = devices

    laptop.post("/portal/logout/everywhere/", REMOTE_ADDR="203.0.113.9")

    entry = LogEntry.objects.get(user=alice, action_flag=CHANGE)
    assert entry.object_id == str(alice.pk)
    assert entry.change_message == "Signed out everywhere in the portal from 203.0.113.9."


def test_a_cross_site_post_without_the_csrf_token_signs_no_one_out(devices):
    laptop, phone, _ = devices
    laptop.handler.enforce_csrf_checks = True

    refused = laptop.post("/portal/logout/everywhere/")

    assert refused.status_code == 403
    assert is_signed_in(phone) and is_signed_in(laptop)
    assert not LogEntry.objects.exists()
    token = laptop.cookies["csrftoken"].value  # what the page's form carries
    assert laptop.post("/portal/logout/everywhere/", {"csrfmiddlewaretoken": token}).status_code == 302
    assert not is_signed_in(phone)


def test_a_get_cannot_sign_her_out(devices):
    laptop, phone, _ = devices

    assert laptop.get("/portal/logout/everywhere/").status_code == 405
    assert is_signed_in(phone)


def test_the_button_posts_with_the_csrf_token(devices):
    laptop, _, _ = devices

    html = laptop.get("/portal/").content.decode()

    assert 'id="sign-out-everywhere" formaction="/portal/logout/everywhere/"' in html
    assert 'name="csrfmiddlewaretoken"' in html
