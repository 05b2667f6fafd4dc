"""Cost of one `scrub` call (api/http/scrub.py) on a 1 KB and a 64 KB text, with and without an echo.

    .venv/bin/python -m bench.scrub_cost                 # 5 and 50 known secrets

Texts are a JSON request body of English prose (what LOG_BODIES stores) and random base64-ish
characters (a worst case for substring search); "echo" puts one known key in the middle. Medians
of 7 rounds are printed in microseconds per call.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import statistics
import string
import timeit

from api.http.scrub import Scrubber


def _texts(size: int) -> dict[str, str]:
    prose = json.dumps({"messages": [{"role": "user", "content": "The quick brown fox jumps over it. " * size}]})
    rng = random.Random(size)
    noise = "".join(rng.choice(string.ascii_letters + string.digits + "+/") for _ in range(size))
    return {"prose": prose[:size], "random": noise}


def _per_call_us(scrub, text: str) -> float:
    number = max(10, 200_000 // len(text))
    rounds = timeit.repeat(lambda: scrub(text), number=number, repeat=7)
    return statistics.median(rounds) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--secrets", type=int, nargs="+", default=[5, 50])
    args = parser.parse_args()
    print("secrets  size   text     clean_us  echo_us")
    for count in args.secrets:
        keys = ["sk-proj-" + secrets.token_urlsafe(36) for _ in range(count // 2)]
        keys += ["AIza" + secrets.token_urlsafe(27) for _ in range(count - len(keys))]
        scrub = Scrubber(frozenset(keys)).scrub
        for size in (1024, 64 * 1024):
            for kind, text in _texts(size).items():
                echoed = text[: size // 2] + keys[0] + text[size // 2 :]
                assert keys[0] not in scrub(echoed)
                clean, echo = _per_call_us(scrub, text), _per_call_us(scrub, echoed)
                print(f"{count:7d}  {size // 1024:3d}KB  {kind:7s} {clean:9.1f} {echo:8.1f}")


if __name__ == "__main__":
    main()
