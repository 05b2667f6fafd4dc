"""`AiohttpTransport` against a real socket server on 127.0.0.1: what callers see must be httpx's.

The server is a few lines of asyncio: each request's path picks a canned behaviour, and the test
can count the TCP connections it accepted (to see keep-alive and dropped half-read streams).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import gzip
import ipaddress
import ssl
from collections.abc import AsyncIterator

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from api.providers.transport import AiohttpTransport

BODY = b'{"ok":true}'


def _reply(status: str, body: bytes, *headers: str) -> bytes:
    head = "\r\n".join([f"HTTP/1.1 {status}", f"content-length: {len(body)}", *headers])
    return head.encode() + b"\r\n\r\n" + body


async def _behave(path: str, request_body: bytes, writer: asyncio.StreamWriter) -> bool:
    """Answer one request; False closes the connection."""
    if path == "/ok":
        writer.write(_reply("200 OK", BODY, "content-type: application/json", "x-echo-len: "
                            f"{len(request_body)}", "set-cookie: a=1", "set-cookie: b=2"))
    elif path == "/gzip":
        writer.write(_reply("200 OK", gzip.compress(BODY), "content-encoding: gzip"))
    elif path == "/stream":
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        for i in range(50):
            part = f"data: {i}\n\n".encode()
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.write(b"0\r\n\r\n")
    elif path == "/stall-head":
        await asyncio.sleep(5)
    elif path == "/stall-body":
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial")
        await writer.drain()
        await asyncio.sleep(5)
    elif path == "/short-body":
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial")
        return False
    elif path == "/garbage":
        writer.write(b"this is not HTTP at all\r\n\r\n")
        return False
    elif path == "/hang-up":
        return False
    elif path == "/reset":
        writer.transport.abort()
        return False
    await writer.drain()
    return True


class Server:
    def __init__(self) -> None:
        self.connections = 0
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while line := await reader.readline():
                path = line.split()[1].decode()
                headers = {}
                while (h := await reader.readline()) not in (b"\r\n", b""):
                    name, value = h.decode().split(":", 1)
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                self.headers.append(headers)
                self.bodies.append(body)
                if not await _behave(path.split("?")[0], body, writer):
                    break
        writer.close()


@pytest.fixture
async def server() -> AsyncIterator[tuple[Server, str]]:
    state = Server()
    srv = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    yield state, f"http://127.0.0.1:{port}"
    srv.close()


def _client(max_connections: int = 10, read: float = 2.0, pool: float = 2.0, ca_bundle: str = "") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=AiohttpTransport(max_connections=max_connections, keepalive_expiry=60, ca_bundle=ca_bundle),
        timeout=httpx.Timeout(connect=2.0, read=read, write=2.0, pool=pool),
    )


async def test_a_request_and_its_reply_cross_unchanged(server):
    state, base = server
    async with _client() as client:
        response = await client.post(f"{base}/ok?a=1&b=%2F", content=b"hello", headers={"x-key": "v"})
    assert response.status_code == 200 and response.reason_phrase == "OK"
    assert response.json() == {"ok": True}
    assert response.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert response.headers["x-echo-len"] == "5"
    assert state.bodies == [b"hello"] and state.headers[0]["x-key"] == "v"


async def test_gzip_is_decoded_by_httpx_and_raw_bytes_stay_compressed(server):
    _, base = server
    async with _client() as client:
        assert (await client.get(f"{base}/gzip")).json() == {"ok": True}
        async with client.stream("GET", f"{base}/gzip") as response:
            raw = b"".join([part async for part in response.aiter_raw()])
    assert gzip.decompress(raw) == BODY


async def test_a_finished_reply_leaves_its_connection_for_the_next_request(server):
    state, base = server
    async with _client() as client:
        for _ in range(5):
            assert (await client.get(f"{base}/ok")).status_code == 200
    assert state.connections == 1


async def test_a_stream_arrives_in_pieces_as_sent(server):
    _, base = server
    async with _client() as client, client.stream("GET", f"{base}/stream") as response:
        parts = [part async for part in response.aiter_bytes()]
    assert b"".join(parts) == b"".join(f"data: {i}\n\n".encode() for i in range(50))
    assert len(parts) > 10  # not buffered into one piece


async def test_half_read_streams_are_dropped_not_pooled_and_never_exhaust_the_pool(server):
    state, base = server
    async with _client(max_connections=1, pool=1.0) as client:
        for _ in range(20):
            async with client.stream("GET", f"{base}/stream") as response:
                async for _part in response.aiter_bytes():
                    break
        assert (await client.get(f"{base}/ok")).status_code == 200
    assert state.connections == 21


async def test_a_read_cancelled_mid_stream_frees_the_connection(server):
    _, base = server
    async with _client(max_connections=1, pool=1.0) as client:
        for _ in range(5):
            response = await client.send(client.build_request("GET", f"{base}/stall-body"), stream=True)
            reader = asyncio.ensure_future(anext(response.aiter_bytes()))
            await asyncio.sleep(0.05)
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await reader
            await response.aclose()
        assert (await client.get(f"{base}/ok")).status_code == 200


FAILURES = [
    ("/stall-head", "send", httpx.ReadTimeout),
    ("/stall-body", "read", httpx.ReadTimeout),
    ("/short-body", "read", httpx.RemoteProtocolError),
    ("/garbage", "send", httpx.RemoteProtocolError),
    ("/hang-up", "send", httpx.RemoteProtocolError),
]


@pytest.mark.parametrize(("path", "phase", "expected"), FAILURES)
async def test_upstream_failures_raise_the_httpx_exception_for_them(server, path, phase, expected):
    _, base = server
    async with _client(read=0.3) as client:
        if phase == "send":
            with pytest.raises(expected):
                await client.send(client.build_request("GET", f"{base}{path}"), stream=True)
        else:
            response = await client.send(client.build_request("GET", f"{base}{path}"), stream=True)
            with pytest.raises(expected):
                await response.aread()
            await response.aclose()


async def test_a_reset_is_a_transport_error(server):
    _, base = server
    async with _client() as client:
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            await client.get(f"{base}/reset")


async def test_a_refused_connection_is_a_connect_error():
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    async with _client() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{port}/ok")


async def test_waiting_for_a_pool_slot_times_out_as_an_httpx_timeout(server):
    _, base = server
    async with _client(max_connections=1, pool=0.2) as client:
        held = await client.send(client.build_request("GET", f"{base}/stall-body"), stream=True)
        with pytest.raises(httpx.TimeoutException):
            await client.get(f"{base}/ok")
        await held.aclose()


def _self_signed(tmp_path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    # Valid whatever the day the test runs (and whatever clock `pytest --fake-now` gives Python).
    since, until = (datetime.datetime(year, 1, 1, tzinfo=datetime.UTC) for year in (2000, 2100))
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(since)
        .not_valid_after(until)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return context


async def test_tls_certificates_are_verified_against_the_ca_bundle(tmp_path):
    """A certificate no trusted CA signed is refused, never talked to; with its CA in the bundle
    (UPSTREAM_CA_BUNDLE) the same upstream answers."""
    state = Server()
    srv = await asyncio.start_server(state.handle, "127.0.0.1", 0, ssl=_self_signed(tmp_path))
    url = f"https://127.0.0.1:{srv.sockets[0].getsockname()[1]}/ok"
    try:
        async with _client() as client:
            with pytest.raises(httpx.ConnectError, match=r"(?i)certificate"):
                await client.get(url)
        assert state.bodies == []
        async with _client(ca_bundle=str(tmp_path / "cert.pem")) as client:
            assert (await client.get(url)).json() == {"ok": True}
    finally:
        srv.close()
