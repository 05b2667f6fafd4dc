"""Route conditions in the admin: refused with the condition named when they could never be read; an
emptied field is no conditions."""

import json

import pytest

from routing.models import ModelRoute
from tests.factories import make_provider, make_user

pytestmark = pytest.mark.django_db


def test_the_admin_refuses_a_route_with_unreadable_conditions(client):
    client.force_login(make_user(username="root", is_staff=True, is_superuser=True))
    provider = make_provider()
    form = {
        "priority": "10",
        "pattern": "*sonnet*",
        "strategy": "weighted",
        "enabled": "on",
        "conditions": json.dumps({"min_input_tokens": "lots"}),
        "targets-TOTAL_FORMS": "1",
        "targets-INITIAL_FORMS": "0",
        "targets-0-provider": provider.pk,
        "targets-0-model": "gpt-4o",
        "targets-0-weight": "1",
        "targets-0-position": "0",
        "fallback_links-TOTAL_FORMS": "0",
        "fallback_links-INITIAL_FORMS": "0",
    }
    page = client.post("/admin/routing/modelroute/add/", form)
    assert page.status_code == 200 and "min_input_tokens: must be a whole number" in page.content.decode()
    assert not ModelRoute.objects.exists()
    form["conditions"] = json.dumps({"min_input_tokens": 60000})
    assert client.post("/admin/routing/modelroute/add/", form).status_code == 302
    assert ModelRoute.objects.get().conditions == {"min_input_tokens": 60000}


def test_an_emptied_conditions_field_saves_as_no_conditions(client):
    client.force_login(make_user(username="root", is_staff=True, is_superuser=True))
    provider = make_provider()
    form = {
        "priority": "10",
        "pattern": "*sonnet*",
        "strategy": "weighted",
        "enabled": "on",
        "conditions": "",
        "targets-TOTAL_FORMS": "1",
        "targets-INITIAL_FORMS": "0",
        "targets-0-provider": provider.pk,
        "targets-0-model": "gpt-4o",
        "targets-0-weight": "1",
        "targets-0-position": "0",
        "fallback_links-TOTAL_FORMS": "0",
        "fallback_links-INITIAL_FORMS": "0",
    }
    assert client.post("/admin/routing/modelroute/add/", form).status_code == 302
    assert ModelRoute.objects.get().conditions == {}
