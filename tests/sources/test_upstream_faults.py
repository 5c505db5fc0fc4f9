"""The upstream clients under faults: what is retried, what is not, Retry-After, rate limits."""

import asyncio
import re
import time

import pytest

from tests.fakes.coins import make_history, mint_for
from tests.fakes.das import FakeDas
from tests.fakes.http import RESET, Reply
from tests.fakes.pumpfun import FakePumpFun
from tokens.sources.holders import HolderCounter, HolderLookupError
from tokens.sources.pumpfun_api.client import PumpFunClient, PumpFunError, PumpFunRefused, get_recent_pump_tokens
from tokens.sources.resilience import RetryPolicy, retry_after_seconds

FAST = RetryPolicy(attempts=3, wait_initial=0.01, wait_max=0.05, wait_jitter=0.01)


@pytest.fixture
def server():
    fake = FakePumpFun(make_history(120)).start()
    yield fake
    fake.stop()


@pytest.fixture
def rpc():
    fake = FakeDas().start()
    yield fake
    fake.stop()


async def fetch(server, *, policy=FAST, timeout=2.0, rate=None):
    async with PumpFunClient(base_url=server.url, retry=policy, timeout=timeout, requests_per_second=rate) as client:
        return await get_recent_pump_tokens(1, client=client)


FAULTS = {
    "503": Reply(503, {"message": "Service Unavailable"}),
    "429": Reply(429, {"message": "Too Many Requests"}),
    "cloudflare 530": Reply(530, None, raw=b"<html>error code: 1016</html>"),
    "timeout": Reply(200, [], delay=0.6),
    "connection reset": RESET,
    "malformed JSON": Reply(200, None, raw=b'[{"mint": "abc", '),
    "error object": Reply(200, {"message": "internal"}),
}


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
async def test_a_transient_fault_is_retried_and_nothing_is_lost(server, fault):
    server.fault_plan = lambda n: fault if n in (1, 3) else None
    tokens = await fetch(server, timeout=0.3)
    assert [t.mint for t in tokens] == [c["mint"] for c in server.coins]
    assert server.faults_served == 2


async def test_retry_after_is_honoured(server):
    server.fail_next(Reply(429, {"message": "slow down"}, headers={"Retry-After": "1"}))
    started = time.monotonic()
    tokens = await fetch(server)
    assert time.monotonic() - started >= 1.0  # the policy alone would have waited ~10 ms
    assert len(tokens) == 120


async def test_a_retry_after_beyond_reason_fails_at_once_and_says_so(server):
    server.fail_next(Reply(429, {"message": "come back tomorrow"}, headers={"Retry-After": "86400"}))
    with pytest.raises(PumpFunError, match="asked to wait 86400 s"):
        await fetch(server)
    assert server.requests_seen == 1


async def test_when_the_budget_is_spent_the_error_says_what_and_how_often(server):
    server.fault_plan = lambda n: Reply(503, {"message": "down"})
    with pytest.raises(PumpFunError, match=r"pump.fun at offset 0: answered HTTP 503 \(gave up after 3 attempts\)"):
        await fetch(server)
    assert server.requests_seen == 3


async def test_a_refusal_is_not_retried_and_says_what_to_do(server):
    server.fail_next(Reply(403, {"message": "forbidden"}))
    with pytest.raises(PumpFunRefused, match=r"refuses this server: HTTP 403\. Set SOLANA_RPC_URL") as refused:
        await fetch(server)
    assert server.url in str(refused.value)
    assert server.requests_seen == 1


async def test_a_cloudflare_challenge_page_is_a_refusal(server):
    challenge = b"<!DOCTYPE html><title>Just a moment...</title><div id='challenge-platform'></div>"
    server.fail_next(Reply(503, raw=challenge, headers={"Content-Type": "text/html; charset=UTF-8"}))
    with pytest.raises(PumpFunRefused, match="HTTP 503 with a challenge page"):
        await fetch(server)
    assert server.requests_seen == 1


async def test_a_plain_404_is_an_error_but_not_a_refusal(server):
    server.fail_next(Reply(404, {"message": "Not Found"}))
    with pytest.raises(PumpFunError, match="answered HTTP 404") as error:
        await fetch(server)
    assert not isinstance(error.value, PumpFunRefused)


async def test_the_request_rate_is_shared_by_concurrent_clients(server):
    """Three clients, one process, 20 requests a second between them: a bucket of 20 lets the
    first 20 through at once, and every later one waits for it to drain."""
    server.coins = make_history(600)
    arrivals: list[float] = []
    server.before_page = lambda fake, params: arrivals.append(time.monotonic())
    await asyncio.gather(*(fetch(server, rate=20) for _ in range(3)))
    assert len(arrivals) == 3 * 15  # 600 coins: 15 pages each, overlapping by 3
    assert max(arrivals) - min(arrivals) >= (45 - 20) / 20 - 0.15


def test_retry_after_accepts_seconds_and_http_dates():
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470) == 10.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


async def test_holder_rpc_rate_limit_errors_are_retried(rpc):
    mint = mint_for(1)
    rpc.accounts_by_mint[mint] = [("a", 1), ("b", 1)]
    rpc.fault_plan = lambda n: (
        Reply(200, {"jsonrpc": "2.0", "id": 1, "error": {"code": -32429, "message": "rate limited"}}) if n == 1
        else Reply(429, {"message": "Too Many Requests"}) if n == 2
        else None
    )  # fmt: skip
    async with HolderCounter(rpc_url=rpc.url, retry=FAST) as counter:
        assert await counter.count(mint) == 2
    assert rpc.faults_served == 2


async def test_holder_rpc_gives_up_with_a_lookup_error_that_hides_the_key(rpc):
    rpc.fault_plan = lambda n: Reply(503, {"message": "down"})
    async with HolderCounter(rpc_url=rpc.url + "/?api-key=super-secret-key", retry=FAST) as counter:
        with pytest.raises(HolderLookupError) as caught:
            await counter.count(mint_for(2))
    assert "gave up after 3 attempts" in str(caught.value)
    assert "super-secret-key" not in str(caught.value)


async def test_each_retry_is_one_readable_line_and_the_failure_names_the_setting(server, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    server.fail_next(Reply(503, {"message": "busy"}), RESET, Reply(503, {"message": "busy"}))
    with pytest.raises(PumpFunError) as failed:
        await fetch(server)
    retries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("retrying ")]
    assert len(retries) == 2
    assert re.fullmatch(r"retrying pump.fun at offset 0: answered HTTP 503; attempt 2 of 3 in [0-9.]+ s", retries[0])
    # A reset mid-answer reads as one of httpx's transport errors, whichever the timing gives.
    assert re.fullmatch(
        r"retrying pump.fun at offset 0: connection failed \(\w+\); attempt 3 of 3 in [0-9.]+ s", retries[1]
    )
    assert not [r for r in caplog.records if r.name.startswith("stamina")]  # no bare stamina lines
    assert str(failed.value).endswith(f"(gave up after 3 attempts); PUMPFUN_API_URL is {server.url}")
