"""Fuzzing the request path: any decoded JSON body either translates or raises TranslationError.

Bodies are generated near the valid shape (known block types with random field values) so that
most reach the translator, plus fully random JSON for the validator. Translated bodies must also
keep the O ordering invariants of protocol.md §2.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.translate.profiles import PROFILES, profile_for
from api.translate.request import to_openai_request
from api.translate.types import TranslationError
from api.translate.validate import validate_request

FUZZ = settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.none() | st.booleans() | st.integers(-5, 70_000) | st.floats(allow_nan=False) | st.text(max_size=8)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def mostly(valid: st.SearchStrategy[Any], odds: int = 12) -> st.SearchStrategy[Any]:
    """`valid` most of the time, arbitrary JSON now and then, so most bodies reach the translator."""
    return st.integers(0, odds).flatmap(lambda n: json_values if n == 0 else valid)


def block(kind: str, **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"type": st.just(kind), **fields})


SCHEMA = {
    "type": "object",
    "properties": {"a": {"const": 1}, "b": {"$ref": "#/$defs/B"}, "c": {"type": ["string", "null"]}},
    "$defs": {"B": {"type": "array", "items": {"$ref": "#/$defs/B"}}},
    "required": ["a", "z"],
}
texts = st.sampled_from(["", " ", "hi", "go on", "x" * 70])
ids = st.sampled_from(["t1", "t2", "functions.Bash:0", "toolu_01"])
names = st.sampled_from(["Bash", "Read", "mcp__server__" + "n" * 80])
text_block = block("text", text=mostly(texts))
image_source = st.fixed_dictionaries(
    {
        "type": st.just("base64"),
        "media_type": st.sampled_from(["image/png", "image/gif", "image/webp", "image/bmp"]),
        "data": st.just("AAAA"),
    }
) | st.fixed_dictionaries({"type": st.just("url"), "url": st.just("https://x/a.png")})
image_block = block("image", source=mostly(image_source))
document_source = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("base64"), "media_type": st.just("application/pdf"), "data": st.just("JVBE")}
    ),
    st.fixed_dictionaries({"type": st.just("text"), "media_type": st.just("text/plain"), "data": texts}),
    st.fixed_dictionaries({"type": st.just("content"), "content": texts | st.lists(text_block | image_block)}),
    st.fixed_dictionaries({"type": st.sampled_from(["url", "file"]), "url": texts}),
)
document_block = block("document", source=mostly(document_source), title=texts)
search_block = block("search_result", title=texts, source=texts, content=mostly(st.lists(text_block, max_size=2)))
nested = st.one_of(text_block, image_block, document_block, search_block, block("tool_reference"))
tool_result_block = block(
    "tool_result",
    tool_use_id=mostly(ids),
    content=mostly(texts | st.lists(nested, max_size=3)),
    is_error=st.booleans(),
)
mid_system = block("mid_conv_system", content=mostly(texts | st.lists(text_block, max_size=2)))
user_blocks = mostly(
    st.one_of(
        text_block,
        image_block,
        document_block,
        search_block,
        tool_result_block,
        tool_result_block,
        mid_system,
        block("container_upload"),
        block("hologram"),
    )
)
assistant_blocks = mostly(
    st.one_of(
        text_block,
        block("thinking", thinking=mostly(texts), signature=texts),
        block("redacted_thinking", data=texts),
        block("tool_use", id=mostly(ids), name=mostly(names), input=mostly(st.dictionaries(texts, scalars))),
        block("tool_use", id=mostly(ids), name=mostly(names), input=mostly(st.dictionaries(texts, scalars))),
        block("server_tool_use", id=ids, name=st.just("web_search"), input=json_values),
        block("web_search_tool_result", tool_use_id=ids, content=json_values),
        block("compaction", content=texts | st.none()),
    )
)
messages = mostly(
    st.one_of(
        st.fixed_dictionaries({"role": st.just("user"), "content": texts | st.lists(user_blocks, max_size=4)}),
        st.fixed_dictionaries(
            {"role": st.just("assistant"), "content": texts | st.lists(assistant_blocks, max_size=4)}
        ),
        st.fixed_dictionaries({"role": st.just("system"), "content": texts | st.lists(text_block, max_size=2)}),
    ),
    odds=30,
)
tools = mostly(
    st.fixed_dictionaries(
        {"name": names},
        optional={
            "type": st.sampled_from(["custom", "web_search_20250305", "bash_20250124", "text_editor_20250728"]),
            "description": texts,
            "input_schema": st.just(SCHEMA) | json_values,
            "strict": st.booleans(),
        },
    )
)
bodies = st.fixed_dictionaries(
    {
        "model": mostly(st.just("claude-opus-4-8"), odds=40),
        "max_tokens": mostly(st.integers(1, 100_000), odds=40),
        "messages": mostly(st.lists(messages, min_size=1, max_size=6), odds=40),
    },
    optional={
        "system": mostly(texts | st.lists(text_block, max_size=2)),
        "tools": mostly(st.lists(tools, max_size=3)),
        "tool_choice": mostly(
            st.fixed_dictionaries(
                {"type": mostly(st.sampled_from(["auto", "any", "tool", "none"]))},
                optional={"name": mostly(names), "disable_parallel_tool_use": mostly(st.booleans())},
            )
        ),
        "thinking": mostly(
            st.fixed_dictionaries(
                {"type": mostly(st.sampled_from(["enabled", "disabled", "adaptive", "between_tools"]))},
                optional={
                    "budget_tokens": mostly(st.integers(1024, 40_000)),
                    "display": mostly(st.just("omitted")),
                },
            )
        ),
        "output_config": mostly(
            st.fixed_dictionaries(
                {},
                optional={
                    "effort": mostly(st.sampled_from(["low", "medium", "high", "xhigh", "max"])),
                    "format": mostly(
                        st.fixed_dictionaries(
                            {"type": mostly(st.just("json_schema")), "schema": mostly(st.just(SCHEMA))}
                        )
                    ),
                },
            )
        ),
        "stop_sequences": mostly(st.lists(texts, max_size=6)),
        "temperature": mostly(st.floats(0, 1)),
        "top_p": mostly(st.floats(0, 1)),
        "top_k": mostly(st.integers(0, 100)),
        "stream": mostly(st.booleans()),
        "metadata": mostly(st.fixed_dictionaries({"user_id": texts})),
        "mcp_servers": mostly(st.just([])),
    },
)
profiles = st.sampled_from([*PROFILES.values(), profile_for("openai", "gpt-5.4")])


def assert_openai_ordering(messages: list[dict[str, Any]]) -> None:
    """§2 invariants: calls answered right away, no stray tool messages, no same-role runs."""
    pending: list[str] = []
    previous_role = None
    for message in messages:
        role = message["role"]
        if role == "tool":
            assert message["tool_call_id"] in pending, message
            pending.remove(message["tool_call_id"])
        else:
            assert not pending, f"unanswered calls {pending} before {role}"
            assert role != previous_role, f"two {role} messages in a row"
            pending = [call["id"] for call in message.get("tool_calls", [])]
        previous_role = role
    assert not pending


@FUZZ
@given(body=bodies, profile=profiles, cap=st.none() | st.integers(1, 100_000))
def test_any_near_valid_body_translates_or_raises_a_translation_error(body: Any, profile: Any, cap: Any) -> None:
    try:
        out, context = to_openai_request(
            validate_request(body), upstream_model="m", profile=profile, max_tokens_cap=cap
        )
    except TranslationError as error:
        assert error.status == 400
        return
    json.dumps(out)
    assert_openai_ordering(out["messages"])
    assert context.requested_model == body["model"]
    if "tools" not in out:
        assert "tool_choice" not in out and "parallel_tool_calls" not in out


@FUZZ
@given(body=json_values)
def test_any_json_value_is_validated_or_refused_cleanly(body: Any) -> None:
    with contextlib.suppress(TranslationError):
        validate_request(body)
