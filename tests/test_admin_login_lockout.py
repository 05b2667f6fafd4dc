"""Admin sign-in is throttled (django-axes): a few wrong passwords for one username from one address lock
that pair out, the right password included, until the cool-off has passed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from axes.middleware import AxesMiddleware
from django.core.handlers.asgi import ASGIHandler
from django.test import Client

from proxy_site.handlers import ApiASGIHandler
from tests.factories import make_user

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
NOON = datetime(2030, 6, 1, 12, tzinfo=UTC)


@pytest.fixture
def root(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; the lock is the subject
    user = make_user(username="root", is_staff=True, is_superuser=True)
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture
def clock():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


def sign_in(client: Client, password: str, username: str = "root"):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_six_wrong_passwords_lock_the_login_even_for_the_right_one_until_the_cool_off(root, clock):
    client = Client(REMOTE_ADDR="127.0.0.3")
    statuses = [sign_in(client, f"guess-{i}").status_code for i in range(6)]
    assert statuses == [200, 200, 200, 200, 429, 429]  # the fifth failure locks
    locked = sign_in(client, PASSWORD)
    assert locked.status_code == 429 and not signed_in(client)
    page = locked.content.decode()
    assert "Sign-in locked" in page and "<b>root</b>" in page and "for 15 minutes" in page
    clock.shift(timedelta(minutes=15, seconds=1))
    opened = sign_in(client, PASSWORD)
    assert opened.status_code == 302 and opened["Location"] == "/admin/" and signed_in(client)


def test_the_lock_holds_one_username_from_one_address_only(root, clock):
    attacker = Client(REMOTE_ADDR="127.0.0.4")
    for i in range(6):
        sign_in(attacker, f"guess-{i}")
    assert sign_in(attacker, PASSWORD).status_code == 429
    elsewhere = Client(REMOTE_ADDR="127.0.0.5")  # the real admin is not locked out by someone else's guesses
    assert sign_in(elsewhere, PASSWORD).status_code == 302 and signed_in(elsewhere)


def test_a_successful_sign_in_resets_the_count(root, clock):
    client = Client(REMOTE_ADDR="127.0.0.3")
    for i in range(4):
        sign_in(client, f"guess-{i}")
    assert sign_in(client, PASSWORD).status_code == 302
    client.logout()
    statuses = [sign_in(client, f"again-{i}").status_code for i in range(4)]
    assert statuses == [200, 200, 200, 200]
    assert sign_in(client, PASSWORD).status_code == 302


def test_the_api_handler_runs_without_the_axes_middleware(monkeypatch):
    built = []
    original = AxesMiddleware.__init__

    def record(self, get_response):
        built.append(self)
        original(self, get_response)

    monkeypatch.setattr(AxesMiddleware, "__init__", record)
    ApiASGIHandler()
    assert built == []
    ASGIHandler()  # the admin's handler: the same settings build it in
    assert len(built) == 1


@pytest.mark.django_db(transaction=True)
async def test_the_lock_holds_under_asgi_as_served(root, clock, async_client):
    """uvicorn serves the admin through Django's ASGI handler, where the axes middleware runs async."""
    form = {"username": "root", "password": "wrong"}
    statuses = [(await async_client.post("/admin/login/", form)).status_code for _ in range(5)]
    locked = await async_client.post("/admin/login/", {"username": "root", "password": PASSWORD})
    assert statuses == [200, 200, 200, 200, 429]
    assert locked.status_code == 429 and "Sign-in locked" in locked.content.decode()
