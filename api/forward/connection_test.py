"""`GET /test-connection`: one minimal real call per enabled provider, reported without credentials."""

from __future__ import annotations

import asyncio
import time

import httpx
import orjson
from asgiref.sync import async_to_sync

from api.forward.passthrough import upstream_headers, upstream_url
from api.http.errors import GatewayError
from api.http.scrub import scrub
from api.providers import openai
from api.providers.clients import client_for
from api.providers.errors import from_status
from routing import snapshot
from routing.resolve import ProviderInfo, RouteInfo


def probe_body(provider: ProviderInfo, model: str) -> dict:
    """The smallest real request in the provider's API (16 is the Responses API's least `max_output_tokens`)."""
    if provider.kind == "openai-responses":
        return {"model": model, "input": "ping", "max_output_tokens": 16, "store": False}
    body: dict = {"model": model, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 8}
    if provider.kind == "openai" and provider.profile in ("openai-reasoning",):
        body["max_completion_tokens"] = body.pop("max_tokens")
    return body


def probe_path(provider: ProviderInfo) -> str:
    return openai.RESPONSES_PATH if provider.kind == "openai-responses" else openai.CHAT_PATH


async def probe(provider: ProviderInfo, model: str) -> dict:
    started = time.perf_counter()
    result = {"provider": provider.name, "kind": provider.kind, "model": model}
    try:
        client = client_for(provider)
        if provider.kind == "anthropic":
            request = client.request(
                "POST",
                upstream_url(provider, "messages", ""),
                content=orjson.dumps(probe_body(provider, model)),
                headers=upstream_headers(None, provider),
            )
            response = await client.send(request)
            try:
                raw = await response.aread()
            finally:
                await response.aclose()
            if response.status_code != 200:
                raise from_status(response.status_code, raw, response.headers)
        else:
            await openai.complete(client, provider, probe_body(provider, model), probe_path(provider))
        result["status"] = "ok"
    except GatewayError as exc:
        result.update(status="failed", error=scrub(exc.error.message))
    except httpx.HTTPError as exc:
        result.update(status="failed", error=type(exc).__name__)
    result["latency_ms"] = int((time.perf_counter() - started) * 1000)
    return result


async def probe_all(routes: tuple[RouteInfo, ...], name: str | None, ids: set[int] | None = None) -> list[dict]:
    """Each provider (or the one named, or those of `ids`) tried with the model of its first target."""
    targets: dict[int, tuple[ProviderInfo, str]] = {}
    for target in (t for route in routes for t in route.targets):
        if (name is None or target.provider.name == name) and (ids is None or target.provider.id in ids):
            targets.setdefault(target.provider.id, (target.provider, target.model))
    return list(await asyncio.gather(*(probe(p, m) for p, m in targets.values())))


def probe_providers(provider_ids: set[int]) -> list[dict]:
    """For the admin's action (a sync view): these providers, each with its first enabled route's model.
    Under ASGI the probes run on the server's event loop, so they use its connection pools."""
    return async_to_sync(probe_all)(snapshot.routes.get_sync(), None, provider_ids)
