"""The smaller faults of the hardening review, each a user-visible wrong answer or a 500 before, each
with the test that failed then: the half-open circuit, far-future times in the API, a refused claim
in the run queue, a malformed websocket frame, a 401 on a JSON-RPC batch, exception text reaching
readers, detail retries and fresh details, one stage per process, windows in words, retries shown
to a page opened meanwhile."""

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django.utils import timezone

from tests.fakes.chain import Launch, history
from tests.fakes.coins import make_coin, make_history, now_ms
from tests.fakes.http import Reply
from tests.helpers import allow_writes, coin_launch, queue_run, refuse_writes, update_settings, wait_for
from tests.sources.test_chain_tail import start_following, stop
from tokens.details.queue import DetailResult, claim_tasks, finish_tasks
from tokens.live.messages import run_payload
from tokens.models import DetailTask, LoadRun, Token
from tokens.runs.loader import execute_run
from tokens.runs.queue import claim_next
from tokens.sources.resilience import CircuitBreaker, CircuitOpen, RetriesExhausted, RetryPolicy, TransientError
from tokens.sources.resilience import call_with_retries as call
from tokens.store.batches import store_batch
from tokens.store.filters import HOLDERS, FilterRules
from tokens.store.processing import DetailPlan, process_batch

pytestmark = pytest.mark.django_db(transaction=True)


# ---- the half-open circuit lets one probe through ------------------------------------------------


async def test_a_half_open_circuit_lets_one_probe_through_and_the_rest_fail_at_once():
    policy = RetryPolicy(attempts=1, circuit_failures=2, circuit_cooldown=0.05)
    breaker = CircuitBreaker("the test upstream")

    async def down():
        raise TransientError("connection refused")

    for _ in range(2):
        with pytest.raises(RetriesExhausted):
            await call(down, policy=policy, limiter=None, what="a call", breaker=breaker)
    await asyncio.sleep(0.06)  # the cool-down is over
    sent = 0

    async def slow_ok():
        nonlocal sent
        sent += 1
        await asyncio.sleep(0.1)
        return "answer"

    results = await asyncio.gather(
        *(call(slow_ok, policy=policy, limiter=None, what="a call", breaker=breaker) for _ in range(5)),
        return_exceptions=True,
    )
    assert sent == 1  # one probe reached the upstream
    assert results.count("answer") == 1 and sum(isinstance(r, CircuitOpen) for r in results) == 4
    assert await call(slow_ok, policy=policy, limiter=None, what="a call", breaker=breaker) == "answer"  # closed


async def test_a_call_from_before_the_circuit_opened_does_not_let_a_second_probe_through():
    policy = RetryPolicy(attempts=1, circuit_failures=1, circuit_cooldown=0.01)
    breaker = CircuitBreaker("the test upstream")
    release = asyncio.Event()

    async def slow_failure():
        await release.wait()
        raise TransientError("reset")

    early = asyncio.ensure_future(call(slow_failure, policy=policy, limiter=None, what="x", breaker=breaker))
    await asyncio.sleep(0)

    async def down():
        raise TransientError("reset")

    with pytest.raises(RetriesExhausted):
        await call(down, policy=policy, limiter=None, what="x", breaker=breaker)  # opens it
    await asyncio.sleep(0.02)
    probe = asyncio.ensure_future(call(asyncio.Event().wait, policy=policy, limiter=None, what="x", breaker=breaker))
    await asyncio.sleep(0)
    release.set()  # the early call fails now, while the probe is out
    with pytest.raises(RetriesExhausted):
        await early
    await asyncio.sleep(0.02)
    with pytest.raises(CircuitOpen, match="one call is trying it now"):
        await call(down, policy=policy, limiter=None, what="x", breaker=breaker)
    probe.cancel()


async def test_a_cancelled_probe_lets_the_next_call_probe():
    policy = RetryPolicy(attempts=1, circuit_failures=1, circuit_cooldown=0.01)
    breaker = CircuitBreaker("the test upstream")

    async def down():
        raise TransientError("reset")

    with pytest.raises(RetriesExhausted):
        await call(down, policy=policy, limiter=None, what="a call", breaker=breaker)
    await asyncio.sleep(0.02)
    probe = asyncio.ensure_future(call(asyncio.Event().wait, policy=policy, limiter=None, what="x", breaker=breaker))
    await asyncio.sleep(0.01)
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe

    async def ok():
        return 1

    assert await call(ok, policy=policy, limiter=None, what="a call", breaker=breaker) == 1


# ---- far-future times in the API ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["since", "until"])
def test_a_time_past_the_year_9999_is_a_clear_400(name):
    response = Client().get(f"/api/tokens/?{name}=999999999999999")
    assert response.status_code == 400
    assert "past the year 9999" in response.json()["error"]


# ---- a refused claim does not abort the queue's transaction (PostgreSQL) -------------------------


@pytest.mark.production
def test_a_refused_claim_leaves_the_next_run_claimable():
    first = LoadRun.objects.create(source="recent", days=1, batch_size=10, origin="web")
    second = LoadRun.objects.create(source="trending", days=1, batch_size=10, origin="web")
    # The database refuses the first claim as a constraint would (any unique_violation).
    refuse_writes(
        "refuse_first_claim",
        table="tokens_loadrun",
        event="UPDATE",
        errcode="23505",
        message="another run of its source is active",
        when=f"NEW.status = 'running' AND OLD.id = {first.pk}",
    )
    try:
        claimed = claim_next()
    finally:
        allow_writes("refuse_first_claim", table="tokens_loadrun")
    assert claimed is not None and claimed.run.pk == second.pk
    assert LoadRun.objects.get(pk=first.pk).status == LoadRun.Status.QUEUED


# ---- the RPC's websocket: a malformed frame costs itself only ------------------------------------


async def test_malformed_websocket_frames_do_not_stop_the_tail(solana, caplog):
    run, task = await start_following(solana, backfill=5)
    await wait_for(lambda: len(solana.subscribers) == 1)
    for frame in ("{not json", b"\x00\xff\xfe", "[1, 2]", '{"method": "logsNotification", "params": null}',
                  '{"method": "logsNotification", "params": {"result": {"value": "x"}}}', "null"):  # fmt: skip
        solana.send_raw(frame)
    later = [Launch(index=9_000 + i, block_time=int(time.time())) for i in range(3)]
    solana.add(*later)
    await wait_for(lambda: Token.objects.count() == 8)
    final = await stop(run, task)
    assert final.status == LoadRun.Status.SUCCEEDED and final.fetched == 8
    assert len(solana.subscribers) <= 1 and "websocket lost" not in caplog.text  # it never reconnected
    assert caplog.text.count("skipped a websocket frame") == 1  # said once


# ---- a 401/403 on a JSON-RPC batch is a refusal of the key, not of batches -----------------------


async def test_a_key_refused_on_a_batch_is_said_as_such(solana, caplog):
    solana.add(*history(30, spacing_s=60))

    def revoke_after_the_signature_page(fake, method):
        if method == "getSignaturesForAddress":
            fake.refuse_status = 401  # the key is revoked: everything after this is refused

    solana.before_call = revoke_after_the_signature_page
    run = await sync_to_async(queue_run)(days=1, batch_size=10, upstream="chain")
    final = await execute_run(run_id=run.pk)
    assert final.status == LoadRun.Status.FAILED
    assert "HTTP 401" in final.error and "API key" in final.error
    assert "refuses JSON-RPC batches" not in caplog.text


async def test_batches_refused_for_a_key_that_single_calls_work_with(solana, caplog):
    solana.add(*history(30, spacing_s=60))
    solana.refuse_batches, solana.refuse_batches_status = True, 403
    run = await sync_to_async(queue_run)(days=1, batch_size=10, upstream="chain")
    final = await execute_run(run_id=run.pk)
    assert final.status == LoadRun.Status.SUCCEEDED and final.accepted == 30
    assert caplog.text.count("refuses JSON-RPC batches") == 1 and "while single calls are answered" in caplog.text


# ---- readers see an unexpected error's kind, never its text (PostgreSQL) --------------------------


@pytest.mark.production
async def test_an_unexpected_errors_text_stays_in_the_log(pumpfun, caplog):
    pumpfun.coins = make_history(5)
    secret = 'could not connect to server at "db.internal.example" (10.1.2.3), user "loader_admin"'
    await sync_to_async(refuse_writes)("fail_token_writes", table="tokens_token", event="INSERT", message=secret)
    try:
        run = await sync_to_async(queue_run)(days=1, batch_size=5)
        final = await execute_run(run_id=run.pk)
    finally:
        await sync_to_async(allow_writes)("fail_token_writes", table="tokens_token")
    assert final.status == LoadRun.Status.FAILED
    assert "db.internal.example" not in final.error and "loader_admin" not in final.error
    assert final.error.startswith("failed on an unexpected error (") and "server log" in final.error
    shown = (await sync_to_async(Client().get)(f"/api/runs/{final.pk}/")).json()
    assert "db.internal.example" not in str(shown)
    assert "db.internal.example" in caplog.text  # the operator still has it


# ---- detail tasks: retries count failures, a fresh detail is kept and not fetched again -----------


def _run() -> LoadRun:
    return LoadRun.objects.create(source="recent", days=1, batch_size=10, origin="command", status="running",
                                  lease_epoch=1)  # fmt: skip


def _store(run: LoadRun, coins: list[dict], rules: FilterRules):
    outcome = process_batch(
        [coin_launch(c) for c in coins], rules=rules, now_ms=now_ms(), plan=DetailPlan(holders=True)
    )
    return store_batch(run_id=run.pk, lease_epoch=1, records=outcome.records, invalid=0, failed=0,
                       estimated_total=None, checkpoint=None, rules=rules)  # fmt: skip


def test_retries_are_used_up_by_failures_not_by_claims_whose_process_died():
    run = _run()
    rules = FilterRules(cutoff=datetime(2024, 1, 1, tzinfo=UTC))
    _store(run, [make_coin(1, created_ms=now_ms())], rules)
    for _ in range(3):  # claimed three times by processes that died before finishing
        [task] = claim_tasks(HOLDERS, 10)
        DetailTask.objects.filter(pk=task.pk).update(not_before=timezone.now() - timedelta(seconds=1))
    [task] = claim_tasks(HOLDERS, 10)
    assert task.attempts == 0
    finish_tasks(HOLDERS, [task], [DetailResult(task.mint, None, "timed out")])
    assert DetailTask.objects.get(pk=task.pk).attempts == 1  # a failure counts, and it will be tried again


def test_a_token_stored_again_keeps_a_detail_that_just_landed_and_is_judged_on_it():
    run = _run()
    rules = FilterRules(cutoff=datetime(2024, 1, 1, tzinfo=UTC), min_holders=10)
    coin = make_coin(7, created_ms=now_ms())
    first = _store(run, [coin], rules)
    assert first.accepted[0].pending  # waits for its holder count
    [task] = claim_tasks(HOLDERS, 10)
    finish_tasks(HOLDERS, [task], [DetailResult(task.mint, {"holders": 42})])
    again = _store(run, [coin], rules)  # the same launch again (the tail and a backfill overlap)
    token = Token.objects.get(mint=coin["mint"])
    assert token.holders == 42 and token.passed_filters and not token.pending
    assert not again.accepted[0].pending
    assert not DetailTask.objects.exists()  # not fetched again
    assert LoadRun.objects.get(pk=run.pk).details_queued == 1


def test_freshness_is_judged_per_kind_of_detail():
    run = _run()
    rules = FilterRules(cutoff=datetime(2024, 1, 1, tzinfo=UTC))
    coin = make_coin(8, created_ms=now_ms())
    _store(run, [coin], rules)
    [task] = claim_tasks(HOLDERS, 10)
    finish_tasks(HOLDERS, [task], [DetailResult(task.mint, {"holders": 42})])
    # Long ago for the holder count, a moment ago for something else: the count is fetched again.
    Token.objects.filter(mint=coin["mint"]).update(
        holders_read_at=timezone.now() - timedelta(hours=2), details_updated_at=timezone.now()
    )
    _store(run, [coin], rules)
    assert DetailTask.objects.filter(mint=coin["mint"], kind=HOLDERS).exists()
    assert Token.objects.get(mint=coin["mint"]).holders == 42  # kept meanwhile


# ---- one detail stage and one live refresh per process -------------------------------------------


async def test_two_runs_in_one_process_share_one_detail_stage_and_one_live_refresh(solana):
    await sync_to_async(update_settings)(tail_interval_seconds=1)
    solana.add(*history(10, spacing_s=30), notify=False)
    runs = [await sync_to_async(queue_run)(days=1, batch_size=10, follow=True, upstream="chain", source=source)
            for source in ("recent", "trending")]  # fmt: skip
    tasks = [asyncio.create_task(execute_run(run_id=run.pk)) for run in runs]
    await wait_for(lambda: all((LoadRun.objects.get(pk=r.pk).checkpoint or {}).get("phase") == "tail" for r in runs))
    loops = [t.get_coro().__qualname__ for t in asyncio.all_tasks()]
    assert loops.count("LiveRefresh.run") == 1 and loops.count("DetailStage.run") == 1
    for run, task in zip(runs, tasks, strict=True):
        await stop(run, task)
    loops = [t.get_coro().__qualname__ for t in asyncio.all_tasks()]
    assert "LiveRefresh.run" not in loops and "DetailStage.run" not in loops  # the last run stopped them


# ---- windows in words, retries shown to a page opened meanwhile ----------------------------------


async def test_the_feeds_hour_reads_as_an_hour(pumpfun, caplog, settings):
    settings.FOLLOW_BACKFILL_MINUTES = 60
    run = await LoadRun.objects.acreate(source="recent", days=1 / 24, batch_size=10, origin="follower")
    assert run_payload(run)["window"] == "1 h"
    caplog.set_level(logging.INFO, logger="tokens")
    await execute_run(run_id=run.pk)
    assert "last 1 h," in caplog.text and "0.04" not in caplog.text
    page = await sync_to_async(Client().get)("/")
    assert ">1 h</td>" in page.content.decode()


async def test_a_page_opened_while_a_run_retries_shows_the_retry(pumpfun, settings):
    settings.UPSTREAM_RETRY_ATTEMPTS = 1000  # it keeps retrying until the outage ends
    pumpfun.coins = make_history(10)
    pumpfun.fault_plan = lambda number: Reply(503, {"message": "unavailable"})
    run = await sync_to_async(queue_run)(days=1, batch_size=5)
    task = asyncio.create_task(execute_run(run_id=run.pk))
    await wait_for(lambda: LoadRun.objects.get(pk=run.pk).retrying != "")
    page = (await sync_to_async(Client().get)("/")).content.decode()
    assert "retrying pump.fun" in page and "answered HTTP 503" in page
    pumpfun.fault_plan = None
    final = await task
    assert final.status == LoadRun.Status.SUCCEEDED and final.retrying == ""
