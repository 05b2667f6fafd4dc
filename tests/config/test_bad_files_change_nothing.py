"""A file with any problem changes nothing, and each problem is named by its path in the file."""

import pytest

from tests.config.conftest import EXAMPLE, apply, apply_fails, database_state
from tests.factories import make_provider

pytestmark = pytest.mark.django_db

ROUTE = "routes:\n  - name: r\n    pattern: '*'\n    targets: [{provider: p, model: m}]\n"
PROVIDER = "providers:\n  - name: p\n    base_url: http://llm.test/v1\n"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param(PROVIDER + "    colour: red\n", "providers[0].colour: unknown key", id="unknown-key"),
        pytest.param("provider:\n  - name: p\n", "provider: unknown key", id="unknown-section"),
        pytest.param(PROVIDER + "    kind: azure\n", "providers[0].kind: must be one of openai, anthropic", id="kind"),
        pytest.param(
            PROVIDER + "    rpm_limit: '5'\n", "providers[0].rpm_limit: must be a whole number", id="a-string"
        ),
        pytest.param(PROVIDER + "    enabled: 1\n", "providers[0].enabled: must be true or false", id="not-a-bool"),
        pytest.param(
            PROVIDER + "    timeouts: {read: -1}\n", "providers[0].timeouts.read: must be a number >= 0", id="negative"
        ),
        pytest.param(
            "providers:\n  - name: p\n    base_url: file:///etc/passwd\n",
            "providers[0].base_url: must be an http:// or https:// URL",
            id="url-scheme",
        ),
        pytest.param("providers:\n  - name: p\n", "providers[0].base_url: required", id="required"),
        pytest.param(
            "providers:\n  - {name: bad name, base_url: 'http://x.test'}\n",
            "providers[0].name: must be a slug (letters, digits, - and _)",
            id="slug",
        ),
        pytest.param(
            PROVIDER + "    extra_headers: {Authorization: Bearer x}\n",
            "providers[0].extra_headers: 'Authorization' cannot be set as an extra header:",
            id="auth-header",
        ),
        pytest.param(
            "prices:\n  - {provider: p, model: m, input: -1}\n", "prices[0].input: must be a number >= 0", id="price"
        ),
        pytest.param(
            ROUTE.replace("targets: [{provider: p, model: m}]", "targets: []"),
            "routes[0].targets: must not be empty",
            id="no-targets",
        ),
        pytest.param(
            ROUTE + "    strategy: random\n", "routes[0].strategy: must be one of weighted, ordered", id="strategy"
        ),
        pytest.param(
            ROUTE + "    when: {thinking: maybe}\n", "routes[0].when.thinking: must be true or false", id="when-typed"
        ),
        pytest.param(
            "groups:\n  - name: g\n    budget: {period: month}\n",
            "groups[0].budget: a budget needs usd, tokens or both",
            id="budget",
        ),
        pytest.param(
            "groups:\n  - {name: g, alert_at: [0.5, 1.5]}\n", "groups[0].alert_at[1]: must be a number <= 1", id="alert"
        ),
        pytest.param(
            "users:\n  - {name: u, email: not-mail}\n", "users[0].email: Enter a valid email address.", id="email"
        ),
        pytest.param("- just a list\n", "(file): must be a mapping", id="not-a-mapping"),
        pytest.param("providers: [\n", "(file): not valid YAML or JSON", id="not-yaml"),
        pytest.param(
            PROVIDER + "    enabled: true\n    enabled: false\n",
            "(file): not valid YAML or JSON: line 5, column 5: key 'enabled' appears twice",
            id="double-key",
        ),
    ],
)
def test_a_malformed_file_is_refused_with_the_path_of_its_problem(config_file, text, problem):
    problems = apply_fails(config_file(text))

    assert any(line.startswith(problem) for line in problems), problems


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param(
            PROVIDER + ROUTE.replace("provider: p,", "provider: azure-est,"),
            'routes[0].targets[0].provider: no provider named "azure-est"',
            id="no-provider",
        ),
        pytest.param(
            PROVIDER + ROUTE + "    fallbacks: [nowhere]\n",
            'routes[0].fallbacks[0]: no route named "nowhere"',
            id="fallback",
        ),
        pytest.param(
            PROVIDER + ROUTE + "    fallbacks: [r]\n",
            "routes[0].fallbacks[0]: a route cannot fall back to itself",
            id="self",
        ),
        pytest.param(
            PROVIDER + ROUTE + "    users: [nobody]\n", 'routes[0].users[0]: no user named "nobody"', id="user"
        ),
        pytest.param(
            PROVIDER + ROUTE + "    groups: [nogroup]\n", 'routes[0].groups[0]: no group named "nogroup"', id="group"
        ),
        pytest.param("users:\n  - {name: u, groups: [g]}\n", 'users[0].groups[0]: no group named "g"', id="membership"),
        pytest.param(
            PROVIDER + PROVIDER[len("providers:\n") :],
            'providers[1].name: "p" is already defined at providers[0]',
            id="twice",
        ),
        pytest.param(
            PROVIDER + ROUTE.replace("[{provider: p, model: m}]", "[{provider: p, model: m}, {provider: p, model: m}]"),
            "routes[0].targets[1]: p / m is already a target of this route",
            id="double-target",
        ),
        pytest.param(
            PROVIDER
            + "  - {name: q, kind: anthropic, base_url: 'http://a.test'}\n"
            + ROUTE.replace("[{provider: p, model: m}]", "[{provider: p, model: m}, {provider: q, model: m}]"),
            'routes[0].targets[1].provider: "q" is of kind anthropic but the first target\'s is openai',
            id="mixed-kinds",
        ),
    ],
)
def test_a_file_naming_what_does_not_exist_is_refused_with_the_path(config_file, text, problem):
    problems = apply_fails(config_file(text))

    assert any(line.startswith(problem) for line in problems), problems


def test_every_problem_is_reported_and_a_valid_part_is_not_applied(config_file, secrets_env):
    make_provider(name="kept", api_key="sk-kept-secret-1111")
    before = database_state()
    broken = EXAMPLE.replace("provider: azure-east, model: gpt-5", "provider: azure-est, model: gpt-5").replace(
        "users: [alice]", "users: [alice, zed]"
    )

    problems = apply_fails(config_file(broken))

    assert problems == [
        'routes[0].targets[1].provider: no provider named "azure-est"',
        'routes[0].users[1]: no user named "zed"',
    ]
    assert database_state() == before  # openai-main, the users and the groups were valid, and were not made


def test_a_missing_environment_variable_is_an_error_naming_the_field(config_file, secrets_env, monkeypatch):
    monkeypatch.delenv("AZURE_EAST_TOKEN")
    before = database_state()

    problems = apply_fails(config_file(EXAMPLE))

    assert problems == ["providers[1].extra_headers.X-Auth-Token: environment variable AZURE_EAST_TOKEN is not set"]
    assert database_state() == before


def test_a_variable_holding_a_line_break_cannot_smuggle_a_header(config_file, secrets_env, monkeypatch):
    monkeypatch.setenv("AZURE_EAST_TOKEN", "x\r\nX-Injected: 1")

    problems = apply_fails(config_file(EXAMPLE))

    assert problems == ["providers[1].extra_headers.X-Auth-Token: the value of 'X-Auth-Token' must be text on one line"]


def test_an_unreadable_file_is_an_error(tmp_path):
    assert apply_fails(tmp_path / "missing.yaml")[0].startswith("(file): cannot read")


def test_a_refused_file_leaves_an_earlier_setup_as_it_was(config_file, secrets_env):
    apply(config_file(EXAMPLE))
    before = database_state()

    apply_fails(config_file(EXAMPLE.replace("weight: 3", "weight: 4") + "bogus: 1\n"))

    assert database_state() == before


@pytest.mark.parametrize("name", ["PROXY_ENCRYPTION_KEY", "SECRET_KEY", "DATABASE_URL", "ANTHROPIC_API_KEY"])
def test_a_file_cannot_send_the_gateways_own_secrets_upstream(config_file, monkeypatch, name):
    monkeypatch.setenv(name, "gateway-own-secret-value")
    text = f"providers:\n  - name: p\n    base_url: http://attacker.test/v1\n    api_key: Bearer ${{{name}}}\n"

    problems = apply_fails(config_file(text))

    assert problems == [f"providers[0].api_key: {name} is the gateway's own secret, not one to send upstream"]
