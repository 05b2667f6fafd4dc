"""The classic single-provider setup keeps passing upstream errors through: a new `env` provider has no
circuit, and a circuit an admin turns on for it survives the next start."""

from __future__ import annotations

import pytest

from routing.env_sync import sync_env_provider
from routing.models import Provider

pytestmark = pytest.mark.django_db


def test_a_new_env_provider_has_its_circuit_off_and_an_admins_choice_survives_a_restart(settings):
    settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = "sk-env-key-123456", ""
    assert sync_env_provider().circuit_failures == 0
    Provider.objects.filter(name="env").update(circuit_failures=5)
    sync_env_provider()
    assert Provider.objects.get(name="env").circuit_failures == 5


def test_an_admins_provider_gets_a_circuit_by_default():
    assert Provider(name="azure-east").circuit_failures == 3
