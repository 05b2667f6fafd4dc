"""Config-as-code tests: files written to tmp_path, applied and exported through the real commands."""

from __future__ import annotations

import io
import textwrap

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

EXAMPLE = """
providers:
  - name: openai-main
    kind: openai
    base_url: https://api.openai.com/v1
    api_key: ${OPENAI_API_KEY}
    rpm_limit: 500
    tpm_limit: 2000000
    timeouts: {connect: 5, read: 60, first_byte: 30}
    max_output_tokens: 32000
  - name: azure-east
    base_url: https://east.openai.azure.com/openai
    api_key: ${AZURE_EAST_KEY}
    extra_headers: {X-Team: red, X-Auth-Token: "${AZURE_EAST_TOKEN}"}
    api_version: "2024-10-21"
    allow_direct: true
routes:
  - name: sonnet
    pattern: "*sonnet*"
    priority: 10
    targets:
      - {provider: openai-main, model: gpt-5, weight: 3}
      - {provider: azure-east, model: gpt-5, weight: 1}
    strategy: least_busy
    max_tokens_cap: 16000
    fallbacks: [everything]
    users: [alice]
    groups: [team-red]
  - name: everything
    pattern: "*"
    targets: [{provider: openai-main, model: gpt-5-mini}]
    strategy: ordered
groups:
  - name: team-red
users:
  - name: alice
    email: alice@example.com
    groups: [team-red]
  - name: bob
    staff: true
"""

SECRETS = {
    "OPENAI_API_KEY": "sk-openai-main-secret-0001",
    "AZURE_EAST_KEY": "az-east-secret-0002",
    "AZURE_EAST_TOKEN": "tok-east-secret-0003",
}


@pytest.fixture
def secrets_env(monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    return SECRETS


@pytest.fixture
def config_file(tmp_path):
    """write(text) -> the path of a config file holding `text` (dedented)."""
    counter = iter(range(1000))

    def write(text: str, suffix: str = ".yaml"):
        path = tmp_path / f"gateway-{next(counter)}{suffix}"
        path.write_text(textwrap.dedent(text))
        return path

    return write


def apply(path, *options: str) -> str:
    """`manage.py apply_config PATH OPTIONS`; its standard output."""
    out = io.StringIO()
    call_command("apply_config", str(path), *options, stdout=out)
    return out.getvalue()


def apply_fails(path, *options: str) -> list[str]:
    """`manage.py apply_config` on a file that must fail; the problems it printed, one per line."""
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing was changed"):
        call_command("apply_config", str(path), *options, stdout=io.StringIO(), stderr=err)
    return err.getvalue().splitlines()


def export() -> str:
    out = io.StringIO()
    call_command("export_config", stdout=out)
    return out.getvalue()


def database_state() -> dict:
    """Every row a config file can touch, as plain values, to compare before and after."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from routing.models import (
        AlertSettings,
        ModelRoute,
        Price,
        Provider,
        RouteFallback,
        RouteTarget,
        TeamBudget,
        UserBudget,
    )

    User = get_user_model()
    return {
        "providers": list(Provider.objects.order_by("pk").values()),
        "routes": list(ModelRoute.objects.order_by("pk").values()),
        "targets": list(RouteTarget.objects.order_by("pk").values()),
        "fallbacks": list(RouteFallback.objects.order_by("pk").values()),
        "route_users": list(ModelRoute.users.through.objects.order_by("pk").values()),
        "route_groups": list(ModelRoute.groups.through.objects.order_by("pk").values()),
        "users": list(User.objects.order_by("pk").values()),
        "memberships": list(User.groups.through.objects.order_by("pk").values()),
        "groups": list(Group.objects.order_by("pk").values()),
        "prices": list(Price.objects.order_by("pk").values()),
        "team_budgets": list(TeamBudget.objects.order_by("pk").values()),
        "user_budgets": list(UserBudget.objects.order_by("pk").values()),
        "alert_settings": list(AlertSettings.objects.values()),
    }
