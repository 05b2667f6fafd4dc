import pytest
from tests.fakes.openai_upstream import Text

@pytest.mark.e2e
def test_smoke(gateway, client, fake_upstream):
    fake_upstream.script(Text("Hello there.", chunks=2))
    m = client.messages.create(model="claude-opus-4-8", max_tokens=100, messages=[{"role":"user","content":"hi"}])
    print(m)
    print(fake_upstream.requests)
    print(gateway.usage_rows())
    with client.messages.stream(model="claude-haiku-4-5", max_tokens=100, messages=[{"role":"user","content":"hi"}]) as s:
        print(list(s.text_stream)); print(s.get_final_message())
    print(fake_upstream.requests[-1])
    assert 0
