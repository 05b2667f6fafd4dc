"""A presented key that `make_key` could not have made is refused at once: no key lookup, no query.

Through the views, the key cache (routing/snapshot.py) is the probe: it remembers every digest it looked
up, misses too, so a digest absent from it after the request is a lookup that never happened. Called
from sync code, `authenticate`'s lookup runs on the test's own thread, where queries can be counted.
"""

import hashlib
import json

import pytest
from asgiref.sync import async_to_sync
from django.test import RequestFactory

from api.admission.auth import authenticate
from api.http.errors import GatewayError
from routing import snapshot
from routing.keys import KEY_PREFIX
from tests.integration.conftest import UPSTREAM, completion, messages_body, usage_rows

WELL_FORMED = KEY_PREFIX + "A" * 43
MALFORMED = [
    pytest.param("sk-ant-api03-" + "x" * 90, id="an-anthropic-key"),
    pytest.param(KEY_PREFIX + "A" * 42, id="one-character-short"),
    pytest.param(KEY_PREFIX + "A" * 44, id="one-character-long"),
    pytest.param(KEY_PREFIX + "A" * 42 + "!", id="a-character-outside-base64url"),
    pytest.param(KEY_PREFIX + "A" * 42 + "\u00e9", id="a-non-ascii-character"),
    pytest.param("sk-proxy_" + "A" * 43, id="a-wrong-prefix"),
    pytest.param("x" * 4000, id="four-thousand-characters"),
]


def looked_up(secret: str) -> bool:
    return hashlib.sha256(secret.encode()).hexdigest() in snapshot.keys._entries


async def post(async_client, secret: str):
    return await async_client.post(
        "/v1/messages", data=json.dumps(messages_body()), content_type="application/json", headers={"x-api-key": secret}
    )


@pytest.mark.parametrize("secret", MALFORMED)
async def test_a_malformed_key_is_a_401_without_a_lookup(gateway, async_client, secret):
    response = await post(async_client, secret)

    assert response.status_code == 401 and response.json()["error"]["type"] == "authentication_error"
    assert not looked_up(secret), "a key that cannot be ours was looked up"
    [row] = await usage_rows()
    assert (row.status, row.key_id) == (401, None)


async def test_a_well_formed_unknown_key_is_looked_up_once_and_refused(gateway, async_client):
    """The control: the probe above does see a lookup when one happens."""
    response = await post(async_client, WELL_FORMED)

    assert response.status_code == 401
    assert looked_up(WELL_FORMED)


async def test_an_issued_key_still_authenticates(gateway, async_client, upstream):
    upstream.post(f"{UPSTREAM}/chat/completions").respond(200, json=completion({"content": "ok"}))

    response = await post(async_client, gateway["secret"])

    assert response.status_code == 200, response.content
    [row] = await usage_rows()
    assert row.key_id == gateway["key"].id


def authenticate_now(secret: str):
    return async_to_sync(authenticate)(RequestFactory().post("/v1/messages", headers={"x-api-key": secret}))


@pytest.mark.parametrize("secret", MALFORMED)
def test_authenticating_a_malformed_key_makes_no_query(gateway, django_assert_num_queries, secret):
    with django_assert_num_queries(0), pytest.raises(GatewayError) as refused:
        authenticate_now(secret)
    assert refused.value.error.status == 401


def test_authenticating_a_well_formed_unknown_key_makes_one_query(gateway, django_assert_num_queries):
    with django_assert_num_queries(1), pytest.raises(GatewayError):
        authenticate_now(WELL_FORMED)
