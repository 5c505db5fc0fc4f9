"""The live tail on the chain: logsSubscribe, gap fill after a dropped websocket, polling without one."""

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async

from tests.fakes.chain import Launch, history
from tests.helpers import queue_run, update_settings, wait_for
from tokens.models import LoadRun, Token
from tokens.runs.loader import execute_run
from tokens.runs.requests import request_cancel

pytestmark = pytest.mark.django_db(transaction=True)


def tailing(run_id: int):
    return lambda: (LoadRun.objects.get(pk=run_id).checkpoint or {}).get("phase") == "tail"


def stored_count(count: int):
    return lambda: Token.objects.count() == count


def new_launches(start: int, count: int, **options) -> list[Launch]:
    now = int(time.time())
    return [Launch(index=start + i, block_time=now, **options) for i in range(count)]


async def start_following(solana, backfill: int = 20) -> tuple[LoadRun, asyncio.Task]:
    await sync_to_async(update_settings)(tail_interval_seconds=1)
    solana.add(*history(backfill, spacing_s=30), notify=False)
    run = await sync_to_async(queue_run)(days=1, batch_size=10, follow=True, upstream="chain")
    task = asyncio.create_task(execute_run(run_id=run.pk))
    await wait_for(tailing(run.pk))
    return run, task


async def stop(run: LoadRun, task: asyncio.Task) -> LoadRun:
    await sync_to_async(request_cancel)(run_id=run.pk)
    return await asyncio.wait_for(task, timeout=15)


async def test_the_chain_tail_delivers_every_new_launch_once_across_a_dropped_websocket(solana):
    run, task = await start_following(solana, backfill=20)
    # Subscribed, and its gap fill past: launches from now on come over the websocket alone (added
    # before that list is read, they would be in it too, and fetched from it).
    await wait_for(lambda: len(solana.subscribers) == 1 and solana.gap_lists_read >= 1)
    first = new_launches(1_000, 5)
    solana.add(*first)  # over the websocket
    await wait_for(stored_count(25))

    solana.drop_websockets()
    missed = new_launches(2_000, 7)  # launched while the tail is disconnected: only the gap fill sees them
    solana.add(*missed)
    await wait_for(lambda: len(solana.subscribers) == 1)
    after = new_launches(3_000, 4, emit="inner")  # logs truncated: the transaction is fetched
    solana.add(*after)
    await wait_for(stored_count(36))

    final = await stop(run, task)
    assert final.status == LoadRun.Status.SUCCEEDED  # stopping a tail is how it ends
    mints = await sync_to_async(lambda: set(Token.objects.values_list("mint", flat=True)))()
    assert {launch.mint for launch in first + missed + after} <= mints
    assert final.fetched == 36 and final.accepted == 36  # nothing twice
    assert solana.notifications_sent >= 5
    # Complete logs are decoded as they come; truncated ones send the tail to the transaction.
    assert all(launch.signature not in solana.asked for launch in first)
    assert all(solana.asked.get(launch.signature) == 1 for launch in after)


async def test_an_old_layout_on_the_tail_takes_its_time_from_the_transaction(solana):
    run, task = await start_following(solana, backfill=2)
    await wait_for(lambda: len(solana.subscribers) == 1)
    [old_layout] = new_launches(4_000, 1, layout="2024")
    solana.add(old_layout)
    await wait_for(stored_count(3))
    final = await stop(run, task)
    token = await Token.objects.aget(mint=old_layout.mint)
    assert token.created_at.timestamp() == old_layout.block_time and final.accepted == 3


async def test_failed_creates_and_non_creates_on_the_tail_are_not_launches(solana):
    run, task = await start_following(solana, backfill=3)
    await wait_for(lambda: len(solana.subscribers) == 1)
    solana.add(*new_launches(5_000, 1, kind="failed"), *new_launches(5_100, 1, kind="noop"))
    solana.add(*new_launches(5_200, 1, kind="lookalike"), *new_launches(5_300, 2))
    await wait_for(stored_count(5))
    final = await stop(run, task)
    assert (final.accepted, final.invalid, final.failed) == (5, 0, 0)


async def test_without_a_websocket_the_tail_polls_signatures(solana, settings):
    settings.SOLANA_WS_URL = "ws://127.0.0.1:9/"  # nothing listens: the tail polls instead
    run, task = await start_following(solana, backfill=4)
    solana.add(*new_launches(6_000, 3))
    await wait_for(stored_count(7))
    solana.add(*new_launches(6_100, 2))
    await wait_for(stored_count(9))
    final = await stop(run, task)
    assert final.fetched == 9


async def test_sigterm_on_a_tail_ends_it_succeeded(solana):
    run, task = await start_following(solana, backfill=5)
    await wait_for(lambda: len(solana.subscribers) == 1)
    solana.add(*new_launches(7_000, 3))
    await wait_for(stored_count(8))
    task.cancel()  # the process stops (SIGTERM, Ctrl-C): its backfill was complete, so the run succeeded
    with pytest.raises(asyncio.CancelledError):
        await task
    final = await LoadRun.objects.aget(pk=run.pk)
    assert final.status == LoadRun.Status.SUCCEEDED and final.error == "" and final.fetched == 8
