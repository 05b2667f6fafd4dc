"""Explain: `manage.py explain_route` and the admin's "try a request" page say, route by route, why each
matches or not and which serves the request."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.factories import make_key, make_provider, make_route, make_staff, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def routes():
    provider = make_provider()
    make_route(
        provider,
        pattern="*sonnet*",
        name="long",
        target_model="gpt-long",
        priority=10,
        conditions={"min_input_tokens": 60000},
    )
    make_route(
        provider, pattern="*sonnet*", name="think", target_model="gpt-think", priority=20, conditions={"thinking": True}
    )
    make_route(
        provider,
        pattern="*sonnet*",
        name="beta",
        target_model="gpt-1m",
        priority=30,
        conditions={"header": {"anthropic-beta": "*context-1m*"}},
    )
    bob = make_user(username="bob")
    make_route(provider, pattern="*", name="bobs", target_model="gpt-bob", priority=40).users.add(bob)
    make_route(provider, pattern="*", name="everyone", target_model="gpt-4o", priority=50)
    return {"bob": bob}


def _explain(tmp_path, body, *args):
    path = tmp_path / "body.json"
    path.write_text(json.dumps(body))
    out = StringIO()
    call_command("explain_route", str(path), *args, stdout=out)
    return out.getvalue()


THINKING = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 4096,
    "thinking": {"type": "enabled", "budget_tokens": 2048},
    "messages": [{"role": "user", "content": "hi"}],
}


def test_it_says_why_each_route_matches_or_not_and_which_serves(tmp_path, routes):
    out = _explain(tmp_path, THINKING)
    assert "needs min_input_tokens 60000; the request has about" in out
    assert "think [priority 20, '*sonnet*' when thinking=True] -> openai-main/gpt-think" in out
    assert "MATCHES: serves the request" in out
    assert "needs headers anthropic-beta: '*context-1m*'; the request sends anthropic-beta: None" in out
    assert "bobs [priority 40" in out and "scoped to other users or groups" in out
    assert "matches, but an earlier route serves the request" in out
    assert out.rstrip().endswith(
        "served by think: openai-main/gpt-think (first target; the weighted strategy picks among 1)"
    )


def test_a_user_and_a_header_change_the_answer(tmp_path, routes):
    plain = {**THINKING, "thinking": {"type": "disabled"}}
    assert "served by bobs" in _explain(tmp_path, plain, "--user", "bob")
    out = _explain(tmp_path, plain, "--header", "anthropic-beta: context-1m-2025-08-07")
    assert "served by beta: openai-main/gpt-1m" in out


def test_a_key_reports_its_allowlist_refusal(tmp_path, routes):
    key, _ = make_key(routes["bob"], allowed_models="*haiku*")
    out = _explain(tmp_path, THINKING, "--key", key.prefix)
    assert f"key {key.prefix}: its allowlist (*haiku*) refuses 'claude-sonnet-4-5' (403)" in out


def test_a_body_that_is_no_request_is_an_error(tmp_path, routes):
    with pytest.raises(CommandError, match="not a valid Messages request"):
        _explain(tmp_path, {"model": "m"})
    with pytest.raises(CommandError, match="no user named 'carol'"):
        _explain(tmp_path, THINKING, "--user", "carol")


def test_the_admin_page_shows_the_same_report(client, routes):
    client.force_login(make_staff("viewer", "routing.view_modelroute"))
    page = client.post("/admin/routing/modelroute/try/", {"body": json.dumps(THINKING), "user": "", "headers": ""})
    assert page.status_code == 200
    text = page.content.decode()
    assert "served by think: openai-main/gpt-think" in text
    assert "Try a request" in client.get("/admin/routing/modelroute/").content.decode()


def test_the_admin_page_is_for_those_who_may_view_routes(client, routes):
    client.force_login(make_staff("keys-only", "routing.view_proxykey"))
    page = client.post("/admin/routing/modelroute/try/", {"body": json.dumps(THINKING)})
    assert page.status_code == 403
    assert "served by" not in page.content.decode()


def test_a_direct_request_is_explained_by_its_provider(tmp_path, routes):
    make_provider(name="openrouter", base_url="http://open.test/v1", allow_direct=True)
    out = _explain(tmp_path, {**THINKING, "model": "openrouter,deepseek/deepseek-chat"})
    assert out.strip() == "direct request for provider 'openrouter': taken"
    out = _explain(tmp_path, {**THINKING, "model": "openai-main,gpt-4o"})
    assert out.strip() == "direct request for provider 'openai-main': refused (404)"
