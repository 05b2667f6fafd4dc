"""A changed file updates the rows it names: keys, hosts, targets, fallbacks, scope and membership."""

import pytest
from django.contrib.auth import get_user_model

from routing.models import ModelRoute, Provider, RouteTarget
from tests.config.conftest import EXAMPLE, apply
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_a_provider_moved_to_another_host_takes_the_files_key_with_it(config_file, secrets_env):
    apply(config_file(EXAMPLE))

    output = apply(config_file(EXAMPLE.replace("https://api.openai.com/v1", "https://eu.api.openai.com/v1")))

    assert output.splitlines()[1:] == ["  provider openai-main: base_url changed"]
    main = Provider.objects.get(name="openai-main")
    assert (main.base_url, main.api_key) == ("https://eu.api.openai.com/v1", "sk-openai-main-secret-0001")


def test_a_key_left_out_of_the_file_is_removed(config_file, secrets_env):
    apply(config_file(EXAMPLE))

    apply(config_file(EXAMPLE.replace("    api_key: ${OPENAI_API_KEY}\n", "")))

    assert Provider.objects.get(name="openai-main").api_key_encrypted == ""


def test_targets_follow_the_file_dropped_ones_deleted_kept_ones_reordered(config_file, secrets_env):
    apply(config_file(EXAMPLE))
    kept_id = RouteTarget.objects.get(route__name="sonnet", provider__name="azure-east").pk
    main, east = (
        "      - {provider: openai-main, model: gpt-5, weight: 3}\n",
        "      - {provider: azure-east, model: gpt-5, weight: 1}\n",
    )
    text = EXAMPLE.replace(main + east, east + "      - {provider: openai-main, model: gpt-5.1}\n")

    apply(config_file(text))

    targets = list(ModelRoute.objects.get(name="sonnet").targets.all())
    assert [(t.provider.name, t.model, t.weight, t.position) for t in targets] == [
        ("azure-east", "gpt-5", 1, 0),
        ("openai-main", "gpt-5.1", 1, 1),
    ]
    assert targets[0].pk == kept_id


def test_fallbacks_are_set_in_file_order(config_file, secrets_env):
    third = "  - {name: third, pattern: '*3*', targets: [{provider: openai-main, model: m3}]}\n"
    text = EXAMPLE.replace("groups:\n", third + "groups:\n", 1)
    text = text.replace("fallbacks: [everything]", "fallbacks: [third, everything]")
    apply(config_file(text))
    assert [f.fallback.name for f in ModelRoute.objects.get(name="sonnet").fallback_links.all()] == [
        "third",
        "everything",
    ]

    output = apply(config_file(text.replace("[third, everything]", "[everything, third]")))

    assert output.splitlines()[1:] == ["  route sonnet: fallbacks changed"]
    assert [f.fallback.name for f in ModelRoute.objects.get(name="sonnet").fallback_links.all()] == [
        "everything",
        "third",
    ]


def test_an_existing_user_is_updated_but_keeps_their_password_and_superuser(config_file, secrets_env):
    alice = make_user(username="alice", email="old@example.com", is_superuser=True)
    alice.set_password("correct horse")
    alice.save()

    output = apply(config_file(EXAMPLE))

    assert "  user alice: email, groups changed" in output.splitlines()
    alice = get_user_model().objects.get(username="alice")
    assert (alice.email, alice.is_superuser) == ("alice@example.com", True)
    assert alice.check_password("correct horse")
    assert [g.name for g in alice.groups.all()] == ["team-red"]


def test_route_scope_follows_the_file(config_file, secrets_env):
    apply(config_file(EXAMPLE))

    apply(
        config_file(
            EXAMPLE.replace("users: [alice]", "users: [bob]").replace(
                "groups: [team-red]\n  - name: every", "groups: []\n  - name: every"
            )
        )
    )

    sonnet = ModelRoute.objects.get(name="sonnet")
    assert [u.username for u in sonnet.users.all()] == ["bob"]
    assert list(sonnet.groups.all()) == []
