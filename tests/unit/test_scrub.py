"""The scrubber: which echoes of a known secret it redacts, which text it leaves alone."""

from __future__ import annotations

import json

import pytest

from api.http.scrub import ErrorEventScrubber, Scrubber

KEY = "sk-proj-Q7vLm2/Xc9+Rt4Wz8Kp1"
OTHER = "AIzaSyD3kq0TRmc8Yx1vN5bH7uJ2"
SCRUB = Scrubber(frozenset({KEY, OTHER, "ollama"})).scrub


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(f"Incorrect API key provided: {KEY}.", "Incorrect API key provided: [redacted]", id="whole"),
        pytest.param(f"trace=req{KEY}zz9;", "trace=[redacted];", id="inside-a-longer-token"),
        pytest.param(f"invalid x-api-key: {OTHER}", "invalid x-api-key: [redacted]", id="x-api-key"),
        pytest.param("key=sk-proj-Q7vLm2%2FXc9%2BRt4Wz8Kp1&x=1", "key=[redacted]&x=1", id="url-encoded"),
        pytest.param("key=sk-proj-Q7vLm2/Xc9%2BRt4Wz8Kp1", "key=[redacted]", id="url-encoded-keeping-slashes"),
        pytest.param('{"k":"sk-proj-Q7vLm2\\/Xc9+Rt4Wz8Kp1"}', '{"k":"[redacted]"}', id="json-escaped-slash"),
        pytest.param(f"key {KEY[:10]}... is invalid", "key [redacted] is invalid", id="a-10-character-head"),
        pytest.param(f"key ...{KEY[-8:]} is invalid", "key [redacted] is invalid", id="an-8-character-tail"),
        pytest.param(f"{OTHER[:12]}****{OTHER[-9:]}", "[redacted]****[redacted]", id="head-and-tail-around-a-mask"),
        pytest.param(f"{KEY} and {OTHER}", "[redacted] and [redacted]", id="two-keys"),
        pytest.param(f"{KEY}{KEY}", "[redacted]", id="adjacent-echoes-merge"),
    ],
)
def test_every_echo_of_a_known_secret_is_redacted(text, expected):
    assert SCRUB(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(f"key ...{KEY[-4:]} is invalid", id="a-4-character-tail"),
        pytest.param(f"{KEY[:7]} is a prefix", id="a-7-character-head"),
        pytest.param(KEY[5:20], id="the-middle-of-a-key"),
        pytest.param("model 'ollama' not found", id="a-secret-under-8-characters"),
        pytest.param("The quick brown fox. " * 50, id="ordinary-text"),
    ],
)
def test_short_fragments_and_ordinary_text_are_left_alone(text):
    assert SCRUB(text) == text


@pytest.mark.parametrize(
    "probe",
    [
        pytest.param(lambda c: f"no route for model {OTHER[:8]}{c}x", id="guessing-the-character-after-the-head"),
        pytest.param(lambda c: f"no route for model x{c}{OTHER[-8:]}", id="guessing-the-character-before-the-tail"),
        pytest.param(lambda c: f"Not found: /v1/{OTHER[:-1]}{c}", id="guessing-the-last-character"),
    ],
)
def test_where_the_redaction_stops_tells_nothing_about_the_key(probe):
    """A client whose text is quoted back could otherwise read the key one character at a time."""
    outputs = {SCRUB(probe(c)) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_"}
    assert len(outputs) == 1 and OTHER[:8] not in outputs.pop()


def test_a_redacted_json_body_stays_valid_json():
    body = json.dumps({"m": f'bad "{KEY}"\n{KEY}\\{KEY[:9]}', "k": f"{KEY[-9:]}"})
    scrubbed = SCRUB(body)
    # An escape touching a key (a newline, a backslash) goes with it; quotes and the JSON stay whole.
    assert json.loads(scrubbed) == {"m": 'bad "[redacted]"[redacted]', "k": "[redacted]"}


def test_many_overlapping_echoes_in_one_run_become_one_redaction():
    text = KEY[:8] * 8192  # 64 KB of overlapping heads, no separator
    assert SCRUB(text) == "[redacted]"


def test_with_no_secrets_known_text_comes_back_as_the_same_object():
    text = "x" * 1000
    assert Scrubber(frozenset()).scrub(text) is text and SCRUB(text) is text


def _frames(key: str) -> list[bytes]:
    """A text delta that happens to contain `key`, then an error event quoting it."""
    delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": key}}
    error = {"type": "error", "error": {"type": "overloaded_error", "message": f"key {key}"}}
    return [
        b"event: content_block_delta\ndata: " + json.dumps(delta).encode() + b"\n\n",
        b"event: error\ndata: " + json.dumps(error).encode() + b"\n\n",
    ]


def test_an_error_event_cut_inside_the_key_is_scrubbed_and_model_output_is_not(monkeypatch):
    monkeypatch.setattr("routing.snapshot.known_secrets", frozenset({KEY}))  # as a route load leaves it
    stream = b"".join(_frames(KEY))
    cut = stream.rindex(KEY.encode()) + 6
    scrubber = ErrorEventScrubber()
    out = [scrubber.feed(stream[:cut]), scrubber.feed(stream[cut:]), scrubber.flush()]
    assert out[0] == _frames(KEY)[0]  # the finished frame goes out at once, model output untouched
    assert out[1] == _frames("[redacted]")[1] and out[2] == b""


def test_an_unended_frame_waits_for_its_end_but_not_past_the_cap():
    scrubber = ErrorEventScrubber()
    assert scrubber.feed(b"event: ping\ndata: {}") == b""
    assert scrubber.feed(b"\n\nevent: pi") == b"event: ping\ndata: {}\n\n"
    assert scrubber.flush() == b"event: pi"
    huge = b"data: " + b"x" * ErrorEventScrubber.MAX_PENDING
    assert scrubber.feed(huge) == huge
