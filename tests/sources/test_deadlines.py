"""Slow upstreams end: a server that trickles a byte at a time meets the request's total deadline,
a hanging holder RPC trips its circuit breaker (later lookups fail at once and stay unknown), and a
run whose every holder lookup failed ends with a warning that says so."""

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async

from tests.fakes.coins import make_history
from tests.fakes.das import FakeDas
from tests.fakes.scripted import Scripted
from tests.helpers import queue_run
from tokens.models import LoadRun
from tokens.runs.loader import execute_run
from tokens.sources.holders import HolderCounter, HolderLookupError
from tokens.sources.pumpfun_api.client import PumpFunClient, PumpFunError, get_recent_pump_tokens
from tokens.sources.resilience import RetryPolicy

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def trickle():
    server = Scripted("trickle")  # a 200 whose body comes a byte at a time, for ever
    yield server
    server.stop()


async def test_a_trickling_server_meets_the_total_deadline(trickle):
    policy = RetryPolicy(attempts=2, wait_initial=0.01, wait_max=0.01, wait_jitter=0, deadline=0.8)
    started = time.monotonic()
    async with PumpFunClient(base_url=trickle.url, retry=policy, timeout=0.5) as client:
        with pytest.raises(PumpFunError, match=r"no whole answer within 0\.8 s \(gave up after 2 attempts\)"):
            await get_recent_pump_tokens(1, client=client)
    assert time.monotonic() - started < 4  # two attempts of 0.8 s, not for ever


async def test_a_hanging_holder_rpc_opens_its_circuit_and_later_lookups_fail_at_once():
    das = FakeDas(latency=5.0).start()  # every call hangs far past the deadline
    policy = RetryPolicy(attempts=1, wait_initial=0.01, deadline=0.3, circuit_failures=3, circuit_cooldown=60)
    try:
        async with HolderCounter(rpc_url=das.url, retry=policy, concurrency=1) as counter:
            started = time.monotonic()
            errors = []
            for mint in [f"mint{i}" for i in range(10)]:
                with pytest.raises(HolderLookupError) as raised:
                    await counter.count(mint)
                errors.append(str(raised.value))
            elapsed = time.monotonic() - started
    finally:
        das.stop()
    assert all("no whole answer within 0.3 s" in e for e in errors[:3])
    assert all("not called, the Solana RPC failed 3 times in a row" in e for e in errors[3:])
    assert elapsed < 3  # three deadlines, then nothing waits
    assert len(das.calls) == 3


async def test_a_run_whose_every_holder_lookup_failed_says_so(pumpfun, das, settings):
    settings.UPSTREAM_DEADLINE = 0.3
    settings.UPSTREAM_RETRY_ATTEMPTS = 1
    settings.DETAIL_RETRY_WAIT = 0.01
    das.latency = 2.0
    pumpfun.coins = make_history(6)
    run = await sync_to_async(queue_run)(days=1, source="recent", upstream="api")
    started = time.monotonic()
    final = await asyncio.wait_for(execute_run(run_id=run.pk), timeout=60)
    assert final.status == LoadRun.Status.SUCCEEDED and final.accepted == 6
    assert final.holder_errors == 6
    assert "every holder lookup failed (6); holder counts stay unknown, check SOLANA_RPC_URL" in final.warning
    assert time.monotonic() - started < 30
