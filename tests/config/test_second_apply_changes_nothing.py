"""Applying the same file twice: the second run says "no changes" and writes nothing (updated_at stays)."""

import pytest
import time_machine

from routing.models import ModelRoute, Provider, RouteTarget
from tests.config.conftest import EXAMPLE, apply, database_state

pytestmark = pytest.mark.django_db


def test_the_second_apply_prints_no_changes_and_leaves_every_row_as_it_was(config_file, secrets_env):
    path = config_file(EXAMPLE)
    with time_machine.travel("2026-03-01 10:00:00Z", tick=False):
        apply(path)
    before = database_state()

    with time_machine.travel("2026-03-02 10:00:00Z", tick=False):
        output = apply(path)

    assert output.strip() == "no changes"
    assert database_state() == before  # the same api_key_encrypted too: not re-encrypted
    assert {p.updated_at.day for p in Provider.objects.all()} == {1}
    assert {r.updated_at.day for r in ModelRoute.objects.all()} == {1}


def test_a_dry_run_of_an_applied_file_prints_no_changes(config_file, secrets_env):
    path = config_file(EXAMPLE)
    apply(path)

    assert apply(path, "--dry-run").strip() == "no changes"


def test_a_changed_weight_updates_that_target_in_place_and_nothing_else(config_file, secrets_env):
    apply(config_file(EXAMPLE))
    ids = list(RouteTarget.objects.order_by("pk").values_list("pk", flat=True))
    provider_rows = list(Provider.objects.order_by("pk").values())

    output = apply(config_file(EXAMPLE.replace("weight: 3", "weight: 5")))

    assert output.splitlines()[1:] == ["  route sonnet: targets changed"]
    assert list(RouteTarget.objects.order_by("pk").values_list("pk", flat=True)) == ids  # kept their rows
    assert RouteTarget.objects.get(route__name="sonnet", provider__name="openai-main").weight == 5
    assert list(Provider.objects.order_by("pk").values()) == provider_rows


def test_an_empty_file_changes_nothing(config_file, secrets_env):
    apply(config_file(EXAMPLE))
    before = database_state()

    assert apply(config_file("")).strip() == "no changes"
    assert database_state() == before
