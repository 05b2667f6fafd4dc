"""CPU per request of routing by what a request needs, on the 75 KB Claude Code body, side by side.

    .venv/bin/python -m bench.needs_cost            # medians of 7 rounds

"before": the resolver over six routes with no conditions (what a request paid without this feature);
"after": reading the request's needs (the token bound, thinking, images, tools, headers) and the token
threshold, then the resolver over the same six routes carrying claude-code-router's conditions
(long context at 60,000 tokens, thinking, images, web search, the 1M beta header) and context windows.
The Claude Code body's bound stays under every threshold, so the tokenizer does not run (as in the gateway);
"tokenizer" is what counting it would cost instead.
"""

from __future__ import annotations

import statistics
import timeit

import orjson

from api.translate.tokens import count_tokens
from bench import claude_code_body
from routing.conditions import parse_conditions
from routing.needs import read_needs
from routing.resolve import ProviderInfo, RouteInfo, compile_pattern, resolve, token_threshold

PROVIDER = ProviderInfo(id=1, name="p", kind="openai", base_url="http://x", api_key="k")
CONDITIONS = (
    {"min_input_tokens": 60000},
    {"thinking": True, "header": {"x-route-thinking": "on"}},  # Claude Code always sends adaptive thinking
    {"has_images": True},
    {"tool": "web_search*"},
    {"header": {"anthropic-beta": "*context-1m-off*"}},
    {},
)


def _routes(with_conditions: bool) -> list[RouteInfo]:
    return [
        RouteInfo(
            id=i,
            priority=i,
            pattern="*sonnet*" if when else "*",
            provider=PROVIDER,
            target_model=f"m{i}",
            conditions=parse_conditions(when if with_conditions else None),
            context_window=(1_000_000 if i == 0 else 200_000) if with_conditions else None,
            regex=compile_pattern("*sonnet*" if when else "*"),
        )
        for i, when in enumerate(CONDITIONS)
    ]


def _per_call_us(call, number: int) -> float:
    return statistics.median(timeit.repeat(call, number=number, repeat=7)) / number * 1e6


def main() -> None:
    body = claude_code_body.body("Say hello. [bench]", stream=False)
    size = len(orjson.dumps(body))
    headers = dict(claude_code_body.HEADERS)
    plain, conditioned = _routes(False), _routes(True)
    model = body["model"]

    def before():
        return resolve(model, plain)

    def after():
        needs = read_needs(body, headers, size)
        assert needs.input_tokens < token_threshold(conditioned, needs.max_tokens)  # no tokenizer
        return resolve(model, conditioned, needs=needs)

    assert before().id == after().id == 5
    b, a = _per_call_us(before, 20_000), _per_call_us(after, 5_000)
    print(f"body {size / 1024:.0f} KB, bound {read_needs(body, headers, size).input_tokens} tokens")
    print(f"before (no conditions)   {b:8.1f} us CPU/request")
    print(f"after (needs + resolve)  {a:8.1f} us CPU/request   (+{a - b:.1f} us)")
    print(f"tokenizer, for scale     {_per_call_us(lambda: count_tokens(body), 20):8.1f} us CPU/request")


if __name__ == "__main__":
    main()
