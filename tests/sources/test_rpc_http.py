"""The Solana RPC's HTTP (aiohttp, tokens/sources/rpc_http.py) fails as the other upstream clients do:
what is worth another try is retried (a reset mid-answer, a refused connection, a stalled or trickling
answer, 429 after its Retry-After, 5xx), every failure is one readable line that never shows the URL's
key, and an answer comes back whole. Each against a raw socket server that misbehaves on purpose."""

import re
import time
import traceback

import pytest

from tests.fakes.scripted import ANSWER, Scripted, whole
from tests.live import free_port
from tokens.sources.resilience import RetryPolicy
from tokens.sources.rpc import RpcError, RpcRefused, SolanaRpc

KEY = "/?api-key=super-secret-key"
FAST = RetryPolicy(attempts=2, wait_initial=0.01, wait_max=0.01, wait_jitter=0, deadline=1.5)


@pytest.fixture
def scripted():
    servers = []

    def start(*steps) -> Scripted:
        servers.append(Scripted(*steps))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


async def call(url: str, *, timeout: float = 5.0, policy: RetryPolicy = FAST):
    async with SolanaRpc(url=url + KEY, timeout=timeout, retry=policy) as rpc:
        return await rpc.call("getSlot", [])


async def test_an_answer_cut_short_is_retried(scripted):
    server = scripted("reset", whole(ANSWER))
    assert await call(server.url) == 42
    assert server.requests == 2


async def test_a_429_is_retried_after_its_retry_after(scripted):
    server = scripted(whole(b'{"message": "slow down"}', "429 Too Many Requests", "Retry-After: 1\r\n"), whole(ANSWER))
    started = time.monotonic()
    assert await call(server.url, policy=RetryPolicy(attempts=2, wait_initial=0.01, wait_jitter=0)) == 42
    assert time.monotonic() - started >= 0.9 and server.requests == 2


async def test_every_failure_is_one_line_without_the_key(scripted):
    failures = {
        "answered HTTP 503": scripted(whole(b"{}", "503 Service Unavailable")),
        r"connection failed \(\w+\)": scripted("reset"),
        r"no whole answer within 1\.5 s": scripted("trickle"),
        "timed out": scripted("stall"),
    }
    for message, server in failures.items():
        with pytest.raises(RpcError) as failed:
            await call(server.url, timeout=0.5)
        text = str(failed.value)
        assert "\n" not in text and "gave up after 2 attempts" in text, text
        assert text.startswith("Solana RPC getSlot") and f"SOLANA_RPC_URL is {server.url}/***" in text
        assert re.search(message, text), (message, text)
        # Nor anywhere in what a log of the error would print: its causes, aiohttp's among them.
        assert "super-secret-key" not in "".join(traceback.format_exception(failed.value))
        assert server.requests == 2, message


async def test_a_refused_connection_is_retried_and_said():
    started = time.monotonic()
    with pytest.raises(RpcError, match=r"connection failed \(\w+\).*gave up after 2 attempts"):
        await call(f"http://127.0.0.1:{free_port()}")
    assert time.monotonic() - started < 5


async def test_a_refusal_says_to_check_the_key_and_is_not_retried(scripted):
    server = scripted(whole(b'{"message": "unauthorized"}', "401 Unauthorized"))
    with pytest.raises(RpcRefused, match="check the API key in SOLANA_RPC_URL"):
        await call(server.url)
    assert server.requests == 1


async def test_calls_one_after_another_keep_one_connection(scripted):
    server = scripted(whole(ANSWER))
    async with SolanaRpc(url=server.url + KEY, retry=FAST) as rpc:
        for _ in range(3):
            assert await rpc.call("getSlot", []) == 42
    assert (server.requests, server.connections) == (3, 1)


async def test_a_redirect_is_an_answer_not_followed(scripted):
    elsewhere = scripted(whole(ANSWER))
    server = scripted(whole(b"", "307 Temporary Redirect", f"Location: {elsewhere.url}/\r\n"))
    with pytest.raises(RpcError, match="answered HTTP 307"):
        await call(server.url)
    assert (server.requests, elsewhere.requests) == (1, 0)


async def test_the_environments_proxy_is_used_unless_no_proxy_names_the_host(scripted, monkeypatch):
    rpc, proxy = scripted(whole(ANSWER)), scripted(whole(ANSWER))
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert await call(rpc.url) == 42
    assert (rpc.requests, proxy.requests) == (0, 1)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert await call(rpc.url) == 42
    assert (rpc.requests, proxy.requests) == (1, 1)


async def test_a_closed_client_posts_nothing_more(scripted):
    server = scripted(whole(ANSWER))
    rpc = SolanaRpc(url=server.url + KEY, retry=FAST)
    assert await rpc.call("getSlot", []) == 42
    await rpc.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await rpc.call("getSlot", [])
    assert server.requests == 1
