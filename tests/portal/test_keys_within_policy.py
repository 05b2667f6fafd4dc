"""Creating a key in the portal: within the user's policy, checked on the server whatever the form sent."""

from __future__ import annotations

import re

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth.models import Group

from portal.models import PortalPolicy
from routing.keys import hash_key
from routing.models import ProxyKey
from tests.factories import make_key

pytestmark = pytest.mark.django_db


def create(client, **fields):
    return client.post("/portal/keys/new/", {"name": "laptop", **fields})


def test_without_a_policy_a_user_creates_a_key_and_sees_its_secret_once_with_the_setup_line(alice_client, alice):
    response = create(alice_client)

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    html = response.content.decode()
    secret = re.search(r'id="issued-secret">(sk-proxy-[\w-]{43})<', html)[1]
    assert f"ANTHROPIC_BASE_URL=http://testserver ANTHROPIC_API_KEY={secret} claude" in html
    assert "&quot;ANTHROPIC_API_KEY&quot;: &quot;" + secret in html
    [key] = ProxyKey.objects.filter(user=alice)
    assert (key.name, key.secret_hash, key.budget_tokens, key.expires_at) == ("laptop", hash_key(secret), None, None)
    assert secret not in alice_client.get("/portal/").content.decode()
    assert secret not in alice_client.get(f"/portal/keys/{key.pk}/").content.decode()


def test_the_setup_line_names_the_configured_gateway_address(alice_client, settings):
    settings.PORTAL_GATEWAY_URL = "https://gateway.example.test"

    assert (
        b"ANTHROPIC_BASE_URL=https://gateway.example.test ANTHROPIC_API_KEY=sk-proxy-" in create(alice_client).content
    )


def test_a_key_creation_is_in_the_audit_log_with_who_and_from_where(alice_client, alice):
    create(alice_client, REMOTE_ADDR="10.1.2.3")  # a form field, not the address: the log must not trust it
    [key] = ProxyKey.objects.all()
    [entry] = LogEntry.objects.all()
    assert (entry.user, entry.object_id, entry.action_flag) == (alice, str(key.pk), ADDITION)
    assert entry.get_change_message() == "Issued in the portal from 127.0.0.1."


def test_with_self_service_off_and_no_policy_nobody_creates_a_key(alice_client, settings):
    settings.PORTAL_SELF_SERVICE_KEYS = False

    response = create(alice_client)

    assert response.status_code == 403
    assert b"does not let you create keys" in response.content
    assert not ProxyKey.objects.exists()


@pytest.fixture
def team_policy(alice):
    team = Group.objects.create(name="team")
    alice.groups.add(team)
    return PortalPolicy.objects.create(
        group=team,
        max_keys=2,
        default_budget_tokens=500,
        max_budget_tokens=1000,
        max_rpm=60,
        default_rpm=30,
        allowed_models="*haiku*",
        key_days=30,
    )


def test_the_form_carries_the_policy_bounds_for_the_browser(alice_client, team_policy):
    html = alice_client.get("/portal/keys/new/").content.decode()

    assert re.search(r'<input[^>]*name="budget_tokens"[^>]*value="500"', html)
    assert re.search(r'<input[^>]*name="budget_tokens"[^>]*max="1000"', html)
    assert re.search(r'<input[^>]*name="rpm_limit"[^>]*max="60"', html)
    assert re.search(r'<input[^>]*name="expires_in_days"[^>]*max="30"', html)


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"budget_tokens": "1001", "rpm_limit": "30", "expires_in_days": "30"}, id="budget-over"),
        pytest.param({"budget_tokens": "", "rpm_limit": "30", "expires_in_days": "30"}, id="budget-unlimited"),
        pytest.param({"budget_tokens": "10", "rpm_limit": "61", "expires_in_days": "30"}, id="rpm-over"),
        pytest.param({"budget_tokens": "10", "rpm_limit": "30", "expires_in_days": "31"}, id="expiry-too-late"),
        pytest.param({"budget_tokens": "10", "rpm_limit": "30", "expires_in_days": ""}, id="never-expiring"),
    ],
)
def test_the_server_refuses_limits_beyond_the_policy_whatever_the_form_sent(alice_client, team_policy, fields):
    response = create(alice_client, **fields)

    assert response.status_code == 200
    assert b"under your policy" in response.content or b"This field is required" in response.content
    assert b"issued-secret" not in response.content
    assert not ProxyKey.objects.exists()


def test_a_key_within_the_policy_gets_its_models_period_and_expiry(alice_client, alice, team_policy):
    response = create(alice_client, budget_tokens="1000", rpm_limit="60", expires_in_days="30")

    assert b"issued-secret" in response.content
    [key] = ProxyKey.objects.filter(user=alice)
    assert (key.budget_tokens, key.rpm_limit, key.allowed_models, key.budget_period) == (1000, 60, "*haiku*", "month")
    assert 29 <= (key.expires_at - key.created_at).days <= 30


def test_the_max_keys_counts_active_keys_only_and_is_refused_on_the_server(alice_client, alice, team_policy):
    from django.utils import timezone

    make_key(alice, revoked_at=timezone.now())
    make_key(alice)
    make_key(alice)

    page = alice_client.get("/portal/").content.decode()
    response = create(alice_client, budget_tokens="10", rpm_limit="30", expires_in_days="30")

    assert 'id="new-key"' not in page and "2 active keys, the most your policy allows" in page
    assert response.status_code == 403
    assert ProxyKey.objects.filter(user=alice).count() == 3


def test_a_group_policy_that_forbids_keys_wins_over_the_default(alice_client, team_policy):
    PortalPolicy.objects.create(group=None, may_create_keys=True)
    team_policy.may_create_keys = False
    team_policy.save()

    assert create(alice_client, budget_tokens="10", rpm_limit="30", expires_in_days="30").status_code == 403
    assert not ProxyKey.objects.exists()
