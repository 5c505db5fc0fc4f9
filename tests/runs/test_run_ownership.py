"""One owner per run: a frozen executor that wakes after another took its run over is refused and
stops without writing; the database is the queue (a run queued while no worker runs, runs when one
starts); a stopped worker hands its run back and another continues it, with exactly the rows and
counters of a clean run."""

import asyncio
import socket
import subprocess
import sys
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import transaction
from django.utils import timezone

from tests.fakes.coins import make_coin, make_history, now_ms
from tests.helpers import coin_launch, queue_run, stored_tokens, wait_for
from tokens.models import LoadRun, Token
from tokens.runs import tasks
from tokens.runs.loader import claim_run, execute_claimed
from tokens.runs.queue import claim_next
from tokens.runs.watch import check_runs
from tokens.runs.worker import WorkerLoop
from tokens.store import lease as lease_module
from tokens.store.batches import current_cursor, next_cursor, store_batch
from tokens.store.filters import FilterRules
from tokens.store.lease import LeaseLost, RunCancelled, lease_of
from tokens.store.processing import NO_DETAILS, process_batch

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def not_handing_over():
    lease_module._handing_over = False
    yield
    lease_module._handing_over = False


def expire(run_id: int) -> None:
    LoadRun.objects.filter(pk=run_id).update(lease_expires_at=timezone.now() - timedelta(seconds=1))


def take_over(run_id: int):
    """The run's lease runs out and another worker claims it, with no renewal in between: a frozen
    executor renews nothing, but the one in this test still runs, so its renewal must wait for the
    claim (the row stays locked until both are committed) and then finds the run taken."""
    with transaction.atomic():
        expire(run_id)
        return claim_next()


def test_a_late_executors_batch_is_refused_whole(db):
    run = queue_run(days=1, source="recent")
    first = claim_run(run.pk)
    expire(run.pk)
    second = claim_next()
    assert second is not None and second.resume and second.run.lease_epoch == first.lease_epoch + 1
    with transaction.atomic():
        assert next_cursor() == 1
    with pytest.raises(LeaseLost, match="another executor holds it now"):
        store_batch(run_id=run.pk, lease_epoch=first.lease_epoch, records=[], invalid=3, failed=0,
                    estimated_total=None, checkpoint={"phase": "recent"})  # fmt: skip
    after = LoadRun.objects.get(pk=run.pk)
    assert (after.fetched, after.batches, after.checkpoint, after.recoveries) == (0, 0, None, 1)
    assert current_cursor() == 1  # the refused batch's cursor went back with it


def test_the_batch_of_a_run_being_cancelled_is_refused_whole(db):
    """The cancel is read under the run's lock, by the batch's own update: nothing of the batch stays."""
    run = queue_run(days=1, source="recent")
    claimed = claim_run(run.pk)
    launch = coin_launch(make_coin(1, created_ms=now_ms() - 60_000))
    rules = FilterRules(cutoff=timezone.now() - timedelta(days=1))
    records = process_batch([launch], rules=rules, now_ms=now_ms(), plan=NO_DETAILS).records
    LoadRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    with pytest.raises(RunCancelled):
        store_batch(run_id=run.pk, lease_epoch=claimed.lease_epoch, records=records, invalid=0, failed=0,
                    estimated_total=None, checkpoint={"phase": "recent"})  # fmt: skip
    after = LoadRun.objects.get(pk=run.pk)
    assert (after.fetched, after.accepted, after.batches, after.checkpoint) == (0, 0, 0, None)
    assert not Token.objects.exists() and current_cursor() == 0
    LoadRun.objects.filter(pk=run.pk).update(cancel_requested=False)  # the same batch, not cancelled: stored
    store_batch(run_id=run.pk, lease_epoch=claimed.lease_epoch, records=records, invalid=0, failed=0,
                estimated_total=None, checkpoint={"phase": "recent"})  # fmt: skip
    assert Token.objects.count() == 1 and current_cursor() == 1


async def test_a_frozen_executor_that_wakes_is_stopped_and_the_run_counts_once(pumpfun, settings):
    settings.RUN_STALE_AFTER = 0.6  # the lease; renewed every 0.2 s
    coins = make_history(60)
    pumpfun.coins = coins
    pumpfun.latency = 0.05
    run = await sync_to_async(queue_run)(days=1, batch_size=10, source="recent")
    claimed = await sync_to_async(claim_run)(run.pk)
    frozen = asyncio.Event()

    def freeze_after_the_first_batch(fake, params):
        if params["offset"] != "0":
            frozen.set()

    pumpfun.before_page = freeze_after_the_first_batch
    executor_a = asyncio.create_task(execute_claimed(claimed, resume=False, wait_for_details=False))
    await frozen.wait()
    # Executor A stops renewing (as a SIGSTOPped process would); another worker takes the run over.
    taken = await sync_to_async(take_over)(run.pk)
    assert taken is not None and taken.run.pk == run.pk
    final_a = await asyncio.wait_for(executor_a, timeout=20)
    assert final_a.lease_epoch == taken.run.lease_epoch  # A wrote nothing after the takeover
    assert final_a.status == LoadRun.Status.RUNNING
    pumpfun.before_page = None
    final = await execute_claimed(taken.run, resume=True, wait_for_details=False)
    assert final.status == LoadRun.Status.SUCCEEDED
    assert (final.fetched, final.accepted, final.recoveries) == (60, 60, 1)
    assert set(await stored_tokens()) == {coin["mint"] for coin in coins}


async def test_a_run_queued_while_no_worker_runs_runs_when_one_starts(pumpfun):
    pumpfun.coins = make_history(25)
    run = await sync_to_async(queue_run)(days=1, batch_size=10, source="recent")
    await asyncio.sleep(0.5)  # nobody is there; the run waits in its row
    assert (await LoadRun.objects.aget(pk=run.pk)).status == LoadRun.Status.QUEUED
    worker = WorkerLoop(poll_seconds=0.1)
    serving = asyncio.create_task(worker.run())
    await wait_for(lambda: LoadRun.objects.get(pk=run.pk).status == LoadRun.Status.SUCCEEDED)
    await worker.stop()
    serving.cancel()
    assert await Token.objects.acount() == 25


async def test_a_stopped_worker_hands_its_run_to_another_that_finishes_it_exactly(pumpfun):
    coins = make_history(80)
    pumpfun.coins = coins
    pumpfun.latency = 0.05
    run = await sync_to_async(queue_run)(days=1, batch_size=10, source="recent")
    first = WorkerLoop(poll_seconds=0.1)
    serving = asyncio.create_task(first.run())
    await wait_for(lambda: LoadRun.objects.get(pk=run.pk).batches >= 2)
    await first.stop()  # SIGTERM: the current batch is committed, the run goes back to the queue
    serving.cancel()
    handed = await LoadRun.objects.aget(pk=run.pk)
    assert handed.status == LoadRun.Status.QUEUED and handed.executed_by == "" and handed.checkpoint
    lease_module._handing_over = False  # a fresh process
    second = WorkerLoop(poll_seconds=0.1)
    serving = asyncio.create_task(second.run())
    await wait_for(lambda: LoadRun.objects.get(pk=run.pk).status == LoadRun.Status.SUCCEEDED, timeout=30)
    await second.stop()
    serving.cancel()
    final = await LoadRun.objects.aget(pk=run.pk)
    assert (final.fetched, final.accepted, final.resumes) == (80, 80, 1)
    assert set(await stored_tokens()) == {coin["mint"] for coin in coins}


def test_a_run_whose_executor_keeps_dying_is_given_up_after_the_limit(db, settings):
    settings.MAX_AUTO_RESUMES = 1
    run = queue_run(days=1, source="recent")
    claim_run(run.pk)
    expire(run.pk)
    assert claim_next() is not None  # taken over once
    expire(run.pk)
    assert claim_next() is None  # not again
    final = LoadRun.objects.get(pk=run.pk)
    assert final.status == LoadRun.Status.INTERRUPTED and "resume it by hand" in final.error
    assert lease_of(final).epoch == 2


async def test_without_workers_the_process_that_runs_runs_continues_a_dead_executors_run(pumpfun):
    pumpfun.coins = make_history(30)
    run = await sync_to_async(queue_run)(days=1, batch_size=10, source="recent")
    await sync_to_async(claim_run)(run.pk)  # claimed by a process that then died (a server restart)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    await LoadRun.objects.filter(pk=run.pk).aupdate(executed_by=f"{socket.gethostname()}:{dead.pid}")
    await check_runs(take_over=tasks.take_over)
    task = tasks.task_for(run.pk)
    assert task is not None
    final = await asyncio.wait_for(task, timeout=30)
    assert (final.status, final.fetched, final.recoveries) == (LoadRun.Status.SUCCEEDED, 30, 1)
