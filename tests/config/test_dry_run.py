"""--dry-run prints what would change and changes nothing."""

import pytest

from routing import snapshot
from tests.config.conftest import EXAMPLE, apply, database_state
from tests.factories import make_provider, make_route

pytestmark = pytest.mark.django_db


def test_a_dry_run_lists_the_changes_and_writes_nothing(config_file, secrets_env):
    before = database_state()

    output = apply(config_file(EXAMPLE), "--dry-run")

    assert output.splitlines() == [
        "would change (dry run, nothing was changed):",
        "  provider openai-main: created",
        "  provider azure-east: created",
        "  group team-red: created",
        "  user alice: created",
        "  user bob: created",
        "  route sonnet: created",
        "  route everything: created",
    ]
    assert database_state() == before


def test_a_dry_run_names_the_fields_that_would_change_and_no_secret(config_file, secrets_env, monkeypatch):
    apply(config_file(EXAMPLE))
    before = database_state()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-rotated-secret-4242")
    changed = EXAMPLE.replace("rpm_limit: 500", "rpm_limit: 600").replace("strategy: ordered", "strategy: weighted")

    output = apply(config_file(changed), "--dry-run", "--prune")

    assert output.splitlines()[1:] == [
        "  provider openai-main: rpm_limit, api_key changed",
        "  route everything: strategy changed",
    ]
    assert "sk-rotated-secret-4242" not in output
    assert database_state() == before


def test_a_dry_run_prune_leaves_unnamed_rows_enabled(config_file, secrets_env):
    make_route(make_provider(name="old-account"), name="old-route")
    before = database_state()

    output = apply(config_file(EXAMPLE), "--dry-run", "--prune")

    assert "  route old-route: disabled (not in the file)" in output.splitlines()
    assert database_state() == before
    assert [r.name for r in snapshot.routes.get_sync()] == ["old-route"]
