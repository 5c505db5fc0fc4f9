"""Pages of `getTransactionsForAddress` decoded in the decoding process (tokens/sources/offload.py)
come out exactly as they do in the loader's own: the real recordings, hostile answers, a whole
backfill; and a worker that dies leaves the decoding to the loader, said once."""

import asyncio
import logging
import os
import signal
import time

import orjson
import pytest

from tests.fakes.chain import Launch, history, transaction_json
from tests.fakes.processes import process_id
from tests.helpers import run_load, stored_tokens
from tokens.sources.chain.source import _FULL_PAGE, DecodedPage
from tokens.sources.offload import OFFLOAD_BYTES, DecodingPool
from tokens.sources.rpc import read_typed

pytestmark = pytest.mark.django_db(transaction=True)


async def ready_pool() -> DecodingPool:
    pool = DecodingPool(processes=1)
    pool.start()
    deadline = time.monotonic() + 60
    while not pool.ready:
        assert time.monotonic() < deadline, "the decoding process did not start"
        await asyncio.sleep(0.05)
    return pool


def page_of(transactions: list, *, token: str | None = "next") -> bytes:
    result = {"data": transactions, **({"paginationToken": token} if token else {})}
    return orjson.dumps({"jsonrpc": "2.0", "id": 1, "result": result})


def real_page() -> bytes:
    """Every `json`-encoded real transaction, then fake creates until the page is worth sending."""
    from tests.sources.test_typed_transactions import REAL_TRANSACTIONS, typed

    real = [tx for _, tx in REAL_TRANSACTIONS if typed(tx) is not None]  # a page the typed read takes whole
    now = int(time.time())
    filler = [transaction_json(Launch(index=i, block_time=now - i), slot=10**8 - i) for i in range(40)]
    content = page_of([*real, *filler])
    assert len(content) >= OFFLOAD_BYTES and len(real) >= 5
    return content


async def test_a_page_decoded_in_the_worker_is_what_this_process_decodes():
    pool = await ready_pool()
    try:
        content = real_page()
        assert await pool.run(process_id, size=OFFLOAD_BYTES) != os.getpid()  # it is another process
        found, page = await pool.run(read_typed, _FULL_PAGE, content, size=len(content))
        assert pool.sent == 2
    finally:
        pool.close()
    assert (found, page) == _FULL_PAGE.read(content)
    assert isinstance(page, DecodedPage) and page.token == "next"
    assert sum(len(tx.events) for tx in page.transactions) >= 41  # the real creates and the filler's


@pytest.mark.parametrize(
    "content",
    [
        page_of([{"transaction": "not an object"}] * 3_000),  # not the typed shape: read as JSON
        page_of([]).replace(b'"next"', b'"\xff\xfe"') + b" " * OFFLOAD_BYTES,  # bad UTF-8
        b'{"jsonrpc":"2.0","id":1,"error":{"code":-32005,"message":"slow down"}}' + b" " * OFFLOAD_BYTES,
        b"[" * OFFLOAD_BYTES,  # nested deeper than any reader goes
    ],
    ids=["wrong shape", "bad utf-8", "an error", "deep nesting"],
)
async def test_hostile_answers_come_back_from_the_worker_as_they_would_here(content):
    pool = await ready_pool()
    try:
        answer = await pool.run(read_typed, _FULL_PAGE, content, size=len(content))
    finally:
        pool.close()
    assert answer == _FULL_PAGE.read(content) == (False, None)


async def test_small_answers_and_a_worker_not_started_yet_are_decoded_here():
    pool = DecodingPool(processes=1)
    try:
        assert await pool.run(process_id, size=OFFLOAD_BYTES) == os.getpid()  # starting: not ready yet
        started = await ready_pool()
        try:
            assert await started.run(process_id, size=OFFLOAD_BYTES - 1) == os.getpid()
            assert started.sent == 0
        finally:
            started.close()
    finally:
        pool.close()
    off = DecodingPool(processes=0)
    off.start()
    assert not off.ready and await off.run(process_id, size=10 * OFFLOAD_BYTES) == os.getpid()


async def test_a_worker_that_dies_leaves_decoding_here_said_once(caplog):
    pool = await ready_pool()
    content = real_page()
    for worker in list(pool._pool._processes):
        os.kill(worker, signal.SIGKILL)
    with caplog.at_level(logging.WARNING, logger="tokens.sources.offload"):
        first = await pool.run(read_typed, _FULL_PAGE, content, size=len(content))
        second = await pool.run(read_typed, _FULL_PAGE, content, size=len(content))
    assert first == second == _FULL_PAGE.read(content)
    assert pool.broken and not pool.ready
    warnings = [r.getMessage() for r in caplog.records if r.name == "tokens.sources.offload"]
    assert len(warnings) == 1 and "decoding in this process from now on" in warnings[0]
    pool.start()  # not started again
    assert pool._pool is None


async def test_a_backfill_with_its_pages_decoded_in_the_worker_stores_the_same_launches(solana, settings):
    """Pages of a hundred launches (about 400 kB each) go to the worker once it is up."""
    from tokens.sources import clients

    settings.DECODE_PROCESSES = 1
    pool = clients.decoding_pool()
    pool.start()
    assert await asyncio.to_thread(pool.wait_until_ready, timeout=60), "the decoding process did not start"
    sent = pool.sent
    solana.offer_transactions_for_address = True
    now = int(time.time())
    launches = history(400, newest_s=now - 5, spacing_s=5)
    solana.add(*launches)
    run = await run_load(days=1, batch_size=100, source="recent", upstream="chain")
    assert run.accepted == 400 and run.status == "succeeded"
    stored = await stored_tokens()
    assert set(stored) == {launch.mint for launch in launches}
    assert {stored[launch.mint].name for launch in launches} == {launch.name for launch in launches}
    assert pool.sent > sent  # pages went to the worker


PARENT = """
import asyncio, sys, time
from tokens.sources.offload import DecodingPool
pool = DecodingPool(processes=1)
pool.start()
while not pool.ready:
    time.sleep(0.05)
print(*pool._pool._processes, flush=True)
time.sleep(600)
"""


def test_a_worker_whose_loader_is_killed_leaves_too():
    import subprocess
    import sys

    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        workers = [int(pid) for pid in parent.stdout.readline().split()]
    finally:
        parent.kill()
        parent.wait()
    assert workers
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in workers):
        assert time.monotonic() < deadline, "the worker outlived its loader"
        time.sleep(0.1)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False
