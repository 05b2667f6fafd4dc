"""Three real OpenAI-compatible fake upstreams on loopback, each one deployment of the same route, that a
test can take offline and bring back on the same port."""

from __future__ import annotations

import contextlib
import json
from collections import Counter

import pytest
from asgiref.sync import sync_to_async

from api.providers import clients
from routing.models import ModelRoute
from tests.factories import make_provider
from tests.fakes.openai_upstream import FakeUpstream
from tests.integration.conftest import messages_body


class Deployment:
    """One fake upstream; `stop()` refuses connections on its port until `start()` serves it again."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.fake = FakeUpstream()
        self.port = 0
        self._serving: contextlib.AbstractContextManager | None = None

    def start(self) -> Deployment:
        self._serving = self.fake.running(port=self.port)
        self._serving.__enter__()
        self.port = int(self.fake.base_url.rsplit(":", 1)[1].split("/")[0])
        return self

    def stop(self) -> None:
        if self._serving is not None:
            self._serving.__exit__(None, None, None)
            self._serving = None

    @property
    def served(self) -> int:
        return len(self.fake.chat_requests())


async def deploy(route: ModelRoute, deployments: list[Deployment], weights, strategy="weighted", **fields) -> dict:
    """Point `route` at the deployments (one provider each) in this order; target id -> deployment."""

    def work() -> dict:
        route.strategy = strategy
        route.save()
        route.targets.all().delete()
        found = {}
        for position, (deployment, weight) in enumerate(zip(deployments, weights, strict=True)):
            provider = make_provider(name=deployment.name, base_url=deployment.fake.base_url, **fields)
            target = route.targets.create(provider=provider, model="gpt-4o", weight=weight, position=position)
            found[target.id] = deployment
        return found

    return await sync_to_async(work)()


async def post(async_client, secret: str, conversation: str | None = None, **body):
    if conversation is not None:
        body["metadata"] = {"user_id": conversation}
    return await async_client.post(
        "/v1/messages",
        data=json.dumps(messages_body(**body)),
        content_type="application/json",
        headers={"x-api-key": secret},
    )


def shares(deployments: list[Deployment]) -> Counter:
    return Counter({d.name: d.served for d in deployments})


@pytest.fixture
def deployments():
    """east, west and north, serving."""
    found = [Deployment(name).start() for name in ("east", "west", "north")]
    yield found
    for deployment in found:
        deployment.stop()


@pytest.fixture(autouse=True)
async def _close_upstream_pools():
    yield
    await clients.close_all()
