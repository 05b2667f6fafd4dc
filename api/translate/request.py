"""An Anthropic Messages request as an OpenAI Chat Completions request (protocol.md §1, §3).

The O body is built key by key from what the A body means; A keys are never copied blindly,
because strict upstreams (OpenAI) reject unrecognized arguments. Dropped on purpose:
`metadata` (O `user` is deprecated and `safety_identifier` is OpenAI-only; the gateway records
users itself), `context_management`, `service_tier`, `container`, `mcp_servers` (refused at
validation when non-empty) and anything unknown.
"""

from __future__ import annotations

from . import web_search
from .messages import convert_messages
from .profiles import Effort, Profile, clamp_effort
from .tools import clean_schema, convert_tools
from .types import JSON, Context

# Thinking budget -> effort, highest threshold first (litellm's buckets).
BUDGET_EFFORTS: tuple[tuple[int, Effort], ...] = (
    (16384, "max"),
    (8192, "xhigh"),
    (4096, "high"),
    (2048, "medium"),
    (1024, "low"),
)
THINKING_ON = frozenset({"enabled", "adaptive", "between_tools"})


def to_openai_request(
    body: JSON,
    *,
    upstream_model: str,
    profile: Profile,
    max_tokens_cap: int | None = None,
    cache_key: str | None = None,
) -> tuple[JSON, Context]:
    """The O body for a validated A body, and the context the response side needs.

    `max_tokens_cap` is the target model's output limit from config: Claude Code asks for 64000,
    which most O models reject. `cache_key` (`caching.prompt_cache_key`) is sent where the profile
    takes it. The caller fills `Context.input_tokens_estimate`.
    """
    context = Context(requested_model=body["model"])
    out: JSON = {"model": upstream_model, "messages": convert_messages(body, profile)}
    max_tokens: int = body["max_tokens"]
    if max_tokens_cap is not None:
        max_tokens = max(1, min(max_tokens, max_tokens_cap))
    out[profile.max_tokens_field] = max_tokens
    out.update(convert_tools(body, profile, context))
    if context.web_search and profile.web_search:
        out.update(web_search.chat_search_params(body, profile.web_search, upstream_model))
        context.search_upstream, context.search_query = True, web_search.last_user_text(body)
    _add_sampling(out, body, profile, context)
    _add_reasoning(out, body, profile, context)
    _add_response_format(out, body, profile)
    _add_stream(out, body, profile, context)
    if cache_key and profile.prompt_cache_key:
        out["prompt_cache_key"] = cache_key
    return out, context


def _add_sampling(out: JSON, body: JSON, profile: Profile, context: Context) -> None:
    """temperature/top_p unless the model rejects them; top_k and stop where supported."""
    if profile.sampling and not profile.reasoning_model:
        for key in ("temperature", "top_p"):
            if body.get(key) is not None:
                out[key] = body[key]
    if profile.top_k and body.get("top_k") is not None:
        out["top_k"] = body["top_k"]
    stops: list[str] = body.get("stop_sequences") or []
    context.stop_sequences = list(stops)  # kept for the response side even when not sent
    if 0 < len(stops) <= profile.stop_limit:
        out["stop"] = list(stops)


def requested_effort(body: JSON, profile: Profile, *, has_tools: bool) -> Effort | None:
    """The O reasoning effort for the A thinking settings (§1.6); None means omit it.

    Adaptive thinking takes `output_config.effort` as is; an enabled budget is bucketed; both
    are clamped to what the upstream accepts. `none` (for disabled thinking on models that reason
    by default, or gpt-5.4+ with tools) is sent as is.
    """
    if profile.effort_none_with_tools and has_tools:
        return "none"
    thinking = body.get("thinking") or {}
    kind = thinking.get("type")
    if kind == "enabled":
        budget: int = thinking["budget_tokens"]
        bucket = next((effort for floor, effort in BUDGET_EFFORTS if budget >= floor), "low")
        return clamp_effort(bucket, profile.efforts)
    if kind in THINKING_ON:
        effort = (body.get("output_config") or {}).get("effort")
        return clamp_effort(effort, profile.efforts) if effort else None
    return profile.effort_when_disabled


def _add_reasoning(out: JSON, body: JSON, profile: Profile, context: Context) -> None:
    """Reasoning parameters per profile style, and whether reasoning is surfaced to the client.

    `display: "omitted"` means the client does not want thinking text, so it is suppressed.
    """
    thinking = body.get("thinking") or {}
    context.thinking = thinking.get("type") in THINKING_ON and thinking.get("display") != "omitted"
    if profile.reasoning_style == "none":
        return
    effort = requested_effort(body, profile, has_tools="tools" in out)
    if effort is None:
        return
    if profile.reasoning_style == "openrouter":
        out["reasoning"] = {"effort": effort}
    else:
        out["reasoning_effort"] = effort


def _add_response_format(out: JSON, body: JSON, profile: Profile) -> None:
    """`output_config.format` (or legacy `output_format`) as a non-strict json_schema format.

    `strict` stays false: OpenAI's strict mode demands schema rules (every property required,
    `additionalProperties: false`) that A schemas need not follow.
    """
    fmt = (body.get("output_config") or {}).get("format") or body.get("output_format")
    if not fmt:
        return
    schema: JSON = fmt["schema"]
    if profile.clean_schema:
        schema = clean_schema(schema)
    out["response_format"] = {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": schema, "strict": False},
    }


def _add_stream(out: JSON, body: JSON, profile: Profile, context: Context) -> None:
    """`stream`, plus `stream_options.include_usage` (only legal on streams) where supported."""
    streaming = body.get("stream") is True
    context.stream_usage = streaming and profile.stream_usage
    if streaming:
        out["stream"] = True
        if profile.stream_usage:
            out["stream_options"] = {"include_usage": True}
