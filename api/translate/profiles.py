"""Provider parameter profiles: the quirks of each OpenAI-compatible family (protocol.md section 3).

A profile is plain data. `profile_for(name, model)` picks the named profile and adjusts it for
model families whose rules differ inside one provider (OpenAI's o-series and gpt-5 reasoning models).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

Effort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]
EFFORT_ORDER: tuple[Effort, ...] = ("none", "minimal", "low", "medium", "high", "xhigh", "max")

PROFILE_NAMES = (
    "openai",
    "openai-reasoning",
    "azure",
    "ollama",
    "vllm",
    "deepseek",
    "gemini",
    "openrouter",
    "mistral",
    "generic",
)


@dataclass(frozen=True, slots=True)
class Profile:
    name: str = "generic"
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    reasoning_model: bool = False
    """Rejects temperature, top_p and stop (OpenAI o-series / gpt-5 with reasoning on)."""
    sampling: bool = True
    """Accepts temperature and top_p (OpenAI's search models answer "Model incompatible request argument")."""
    reasoning_style: Literal["effort", "openrouter", "none"] = "effort"
    """How thinking is requested: top-level `reasoning_effort`, OpenRouter's `reasoning` object, or not at all."""
    efforts: tuple[Effort, ...] = ("low", "medium", "high")
    """Effort values the upstream accepts; a requested effort is clamped to the nearest one."""
    effort_when_disabled: Effort | None = None
    """Sent when the client disables thinking (models that reason by default); None omits it."""
    effort_none_with_tools: bool = False
    """gpt-5.4+ on Chat Completions rejects function tools with any effort but `none`."""
    echo_reasoning: Literal["reasoning_content", "reasoning"] | None = None
    """Assistant-history thinking is sent back in this field; None drops it."""
    system_inline: bool = True
    """Mid-conversation system messages stay `system`; False turns them into marked user text."""
    leading_user: bool = False
    """Strict chat templates: the conversation must start with a user turn."""
    stream_usage: bool = True
    """Send `stream_options: {include_usage: true}` on streams."""
    image_media_types: frozenset[str] = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
    image_urls: bool = True
    """Accepts http(s) image URLs, not only data URLs."""
    pdf: bool = False
    """Accepts OpenAI `file` content parts for PDFs."""
    top_k: bool = False
    stop_limit: int = 4
    clean_schema: bool = False
    """Remove JSON-schema keywords the upstream rejects (Gemini)."""
    mistral_ids: bool = False
    """Tool-call ids must be exactly 9 alphanumerics."""
    null_assistant_content: bool = True
    """`content: null` is accepted on tool-call-only assistant messages; else `""` is sent."""
    prompt_cache_key: bool = False
    """Accepts OpenAI's `prompt_cache_key` (cache routing per caller and session)."""
    cache_control: bool = False
    """Honours A `cache_control` on content parts (OpenRouter to Anthropic and Gemini models)."""
    web_search: Literal["plugin", "options"] | None = None
    """How the upstream searches the web for A's `web_search_*` tool: OpenRouter's `web` plugin, or
    OpenAI search models' `web_search_options`; None: it cannot, and search calls are answered as unavailable."""


_ALL_EFFORTS: tuple[Effort, ...] = ("minimal", "low", "medium", "high", "xhigh", "max")

PROFILES: dict[str, Profile] = {
    "generic": Profile(),
    "openai": Profile(name="openai", reasoning_style="none", pdf=True, prompt_cache_key=True),
    "openai-reasoning": Profile(
        name="openai-reasoning",
        max_tokens_field="max_completion_tokens",
        reasoning_model=True,
        efforts=_ALL_EFFORTS,
        pdf=True,
        stop_limit=0,
        prompt_cache_key=True,
    ),
    "azure": Profile(name="azure", reasoning_style="none", pdf=True),
    "ollama": Profile(
        name="ollama",
        efforts=("low", "medium", "high"),
        effort_when_disabled="none",
        echo_reasoning="reasoning",
        system_inline=False,
        leading_user=True,
        image_media_types=frozenset({"image/jpeg", "image/png", "image/webp"}),
        image_urls=False,
        null_assistant_content=False,
    ),
    "vllm": Profile(
        name="vllm",
        echo_reasoning="reasoning",
        system_inline=False,
        leading_user=True,
        top_k=True,
    ),
    "deepseek": Profile(name="deepseek", reasoning_style="none", echo_reasoning="reasoning_content"),
    "gemini": Profile(
        name="gemini",
        efforts=("low", "medium", "high"),
        clean_schema=True,
        null_assistant_content=False,
    ),
    "openrouter": Profile(
        name="openrouter",
        reasoning_style="openrouter",
        efforts=_ALL_EFFORTS,
        top_k=True,
        pdf=True,
        web_search="plugin",
    ),
    "mistral": Profile(name="mistral", reasoning_style="none", mistral_ids=True),
}

# OpenAI reasoning families: o1/o3/o4 and gpt-5.x (but not gpt-5-chat*).
_OPENAI_REASONING = re.compile(r"^(o\d|gpt-5(?!-chat))", re.IGNORECASE)
# OpenRouter models whose providers read explicit cache breakpoints (OpenRouter prompt-caching docs).
_OPENROUTER_CACHE_CONTROL = re.compile(r"^(anthropic/|google/gemini)", re.IGNORECASE)
# OpenAI's search models on Chat Completions (gpt-4o-search-preview, gpt-4o-mini-search-preview, gpt-5-search-api).
_OPENAI_SEARCH = re.compile(r"-search-(preview|api)", re.IGNORECASE)
# gpt-5.4 and later reject function tools with reasoning on Chat Completions.
_GPT5_NO_TOOL_REASONING = re.compile(r"^gpt-5\.([4-9]|\d{2,})", re.IGNORECASE)


def profile_for(name: str, model: str) -> Profile:
    """The profile for a provider's parameter profile name, adjusted for the target model."""
    profile = PROFILES.get(name, PROFILES["generic"])
    bare = model.rsplit("/", 1)[-1]
    if name in ("openai", "azure") and _OPENAI_REASONING.match(bare):
        profile = replace(PROFILES["openai-reasoning"], name=profile.name, prompt_cache_key=profile.prompt_cache_key)
    if name == "openai" and _OPENAI_SEARCH.search(bare):
        profile = replace(profile, web_search="options", sampling=False)
    if name == "openrouter" and _OPENROUTER_CACHE_CONTROL.match(model):
        profile = replace(profile, cache_control=True)
    if profile.reasoning_model and _GPT5_NO_TOOL_REASONING.match(bare):
        profile = replace(profile, effort_none_with_tools=True)
    return profile


def clamp_effort(effort: Effort, allowed: tuple[Effort, ...]) -> Effort:
    """The allowed effort nearest to `effort`, preferring the lower one on ties."""
    if effort in allowed or not allowed:
        return effort
    rank = EFFORT_ORDER.index(effort)
    return min(allowed, key=lambda e: (abs(EFFORT_ORDER.index(e) - rank), EFFORT_ORDER.index(e)))
