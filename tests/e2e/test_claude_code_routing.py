"""The real Claude Code CLI reaches the model its route names by what it sends: thinking (Claude Code
2.1.330 sends `thinking: {"type": "adaptive"}` on every main request, whatever MAX_THINKING_TOKENS says),
a long prompt past a route's `min_input_tokens` (20,000 here: a CLI argument holds at most 128 KB,
about 24,000 tokens, over the ~10,000 of Claude Code's own system prompt and tools).

A gateway of its own (routes read on every request: CACHE_SECONDS=0) with two conditional routes in front
of provider `env`'s routes; the fake upstream records which model each request asked for.
"""

from __future__ import annotations

import pytest

from tests.e2e.servers import gateway_env, serving
from tests.e2e.test_claude_code import user_text
from tests.fakes.openai_upstream import Text

pytestmark = pytest.mark.e2e
# The CLI's fixtures (tests/e2e/conftest.py) run against this module's own `gateway`.

ROUTES = """
from routing.models import ModelRoute, Provider
env = Provider.objects.get(name="env")
for name, priority, when, model in [
    ("long", 1, {"min_input_tokens": 20000}, "fake-long"),
    ("think", 2, {"thinking": True}, "fake-think"),
]:
    ModelRoute.objects.create(name=name, pattern="*", priority=priority, conditions=when).targets.create(
        provider=env, model=model
    )
"""


@pytest.fixture(scope="module")
def gateway(fake_upstream, tmp_path_factory):
    """This module's gateway (test_claude_code's `claude` runs against it), its routes in place."""
    tmp = tmp_path_factory.mktemp("routed")
    with serving(tmp, {**gateway_env(tmp, fake_upstream.base_url), "CACHE_SECONDS": "0"}) as gw:
        gw.manage("shell", "-c", ROUTES)
        yield gw


def test_a_thinking_request_from_claude_code_reaches_the_thinking_route(claude, fake_upstream):
    fake_upstream.script(Text("Thought about it.", model="fake-think"))
    result = claude("Think about this, then answer.")
    assert "Thought about it." in result.stdout
    [main] = [r for r in fake_upstream.chat_requests(model="fake-think") if "Think about this" in user_text(r)]
    assert main.body["model"] == "fake-think"


def test_a_long_prompt_from_claude_code_reaches_the_long_context_route(claude, fake_upstream):
    fake_upstream.script(Text("Read it all.", model="fake-long"))
    prompt = "Summarise these notes. " + "The meeting notes say the quarterly review moved to Friday. " * 2000
    result = claude(prompt)
    assert "Read it all." in result.stdout
    assert any("Summarise these notes." in user_text(r) for r in fake_upstream.chat_requests(model="fake-long"))
    short = claude("Say hi.")
    assert "Read it all." not in short.stdout
    assert not any("Say hi." in user_text(r) for r in fake_upstream.chat_requests(model="fake-long"))
