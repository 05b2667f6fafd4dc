"""Which policy holds for a user: their groups' policy of lowest priority, else the default, else none
(self-service as PORTAL_SELF_SERVICE_KEYS says); one policy per group and one default."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from portal.models import PortalPolicy
from portal.policy import policy_for
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_the_groups_policy_of_lowest_priority_wins_over_the_default():
    user = make_user()
    first, second = Group.objects.create(name="a"), Group.objects.create(name="b")
    user.groups.add(first, second)
    PortalPolicy.objects.create(group=None, max_keys=9)
    PortalPolicy.objects.create(group=first, priority=20, max_keys=1)
    PortalPolicy.objects.create(group=second, priority=10, max_keys=2)

    assert policy_for(user).max_keys == 2


def test_a_user_in_no_policy_group_gets_the_default_and_without_one_the_settings(settings):
    user = make_user()
    settings.PORTAL_SELF_SERVICE_KEYS = False
    built_in = policy_for(user)
    PortalPolicy.objects.create(group=None, max_keys=3)

    assert (built_in.pk, built_in.may_create_keys, built_in.max_keys) == (None, False, None)
    assert policy_for(user).max_keys == 3


def test_there_is_one_default_policy_and_one_per_group():
    PortalPolicy.objects.create(group=None)
    with pytest.raises(ValidationError, match="default policy already"):
        PortalPolicy(group=None).full_clean()
    with pytest.raises(IntegrityError):
        PortalPolicy.objects.create(group=None)


def test_a_default_limit_above_its_maximum_is_refused():
    with pytest.raises(ValidationError) as refused:
        PortalPolicy(max_budget_tokens=100, default_budget_tokens=200, max_rpm=5).full_clean()

    assert set(refused.value.message_dict) == {"default_budget_tokens", "default_rpm"}


def test_admins_set_policies_beside_the_other_models(client):
    root = make_user(username="root", is_staff=True, is_superuser=True)
    client.force_login(root)
    team = Group.objects.create(name="team")

    response = client.post(
        "/admin/portal/portalpolicy/add/",
        {"group": team.pk, "priority": 10, "may_create_keys": "on", "max_keys": 2, "budget_period": "month"},
    )

    assert response.status_code == 302
    assert PortalPolicy.objects.get().group == team
    assert client.get("/admin/portal/portalpolicy/").status_code == 200
