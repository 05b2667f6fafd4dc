import pytest
from django.test import Client

from tests.factories import make_user

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _fast_hashes(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def person(username: str, **overrides):
    user = make_user(username=username, email=f"{username}@example.test", **overrides)
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture
def alice(db):
    return person("alice")


@pytest.fixture
def alice_client(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client
