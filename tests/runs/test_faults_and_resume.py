"""Whole runs under upstream faults, drift and bad records; failures, interruptions and resumes.

Each test's fake pump.fun holds a known window; the stored set is compared with it exactly.
"""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from tests.fakes.coins import make_coin, now_ms
from tests.fakes.http import RESET, Reply
from tests.helpers import queue_run, run_load, wait_for
from tokens.models import LoadRun, Token
from tokens.runs.loader import execute_run
from tokens.runs.requests import RunConflict, check_resumable, create_run, mark_stale_runs_interrupted, plan_run

pytestmark = pytest.mark.django_db(transaction=True)
DAY_MS = 86_400_000
ROW_FIELDS = ("mint", "name", "symbol", "usd_market_cap", "market_cap_sol", "holders", "bonding_progress",
              "passed_filters", "rejection_reason", "sources", "created_at")  # fmt: skip


def window_coins(count: int = 300) -> list[dict]:
    now = now_ms()
    inside = [make_coin(i, created_ms=now - 10_000 - i * 2_000) for i in range(count)]
    older = [make_coin(10_000 + i, created_ms=now - 2 * DAY_MS - i * 1_000) for i in range(60)]
    return inside + older


def bad_records() -> list[dict]:
    now = now_ms()
    return [
        make_coin(900, created_ms=now - 11_000, usd_market_cap="lots"),
        make_coin(901, created_ms=now - 51_000, mint="0OIl-is-not-base58"),
        make_coin(902, created_ms=now - 91_000, virtual_sol_reserves=-5),
        make_coin(903, created_ms=now - 131_000, name={"nested": "object"}, market_cap=float("inf")),
    ]


@sync_to_async
def rows() -> set[tuple]:
    return {
        tuple(tuple(v) if isinstance(v, list) else v for v in row) for row in Token.objects.values_list(*ROW_FIELDS)
    }


@sync_to_async
def wipe_tokens() -> None:
    Token.objects.all().delete()


def rotating_faults(every: int):
    faults = [
        Reply(503, {"message": "Service Unavailable"}),
        Reply(429, {"message": "slow down"}, headers={"Retry-After": "0"}),
        RESET,
        Reply(200, None, raw=b'[{"mint": '),
        Reply(200, [], delay=0.6),  # longer than the 0.3 s timeout below
        Reply(530, None, raw=b"<html>error code: 1016</html>"),
    ]
    return lambda n: faults[(n // every) % len(faults)] if n % every == 0 else None


@pytest.mark.parametrize("prefetch", [1, 4])
async def test_under_faults_drift_and_bad_records_the_stored_set_is_exact(pumpfun, settings, prefetch):
    settings.UPSTREAM_TIMEOUT = 0.3
    settings.PUMPFUN_PREFETCH_PAGES = prefetch
    coins = window_coins()
    pumpfun.coins = coins + bad_records()
    expected = {c["mint"] for c in coins[:300]}
    launches = iter(range(20_000, 21_000))
    removed = []

    def drift(fake, params):
        # Launches keep arriving at the head; once, coins already served are hidden upstream.
        fake.add_launches([make_coin(next(launches), created_ms=now_ms()) for _ in range(2)])
        if params["offset"] != "0" and not removed and len(fake.served_mints & expected) >= 12:
            with fake.lock:
                newest = sorted(fake.coins, key=lambda c: c["created_timestamp"], reverse=True)
                for coin in [c for c in newest if c["mint"] in expected & fake.served_mints][:12]:
                    fake.coins.remove(coin)
                    removed.append(coin["mint"])

    pumpfun.before_page = drift
    pumpfun.fault_plan = rotating_faults(every=2)

    run = await run_load(days=1, batch_size=20)

    assert run.status == LoadRun.Status.SUCCEEDED, run.error
    assert pumpfun.faults_served >= 6 and len(removed) == 12
    stored = await sync_to_async(lambda: set(Token.objects.values_list("mint", flat=True)))()
    survivors = expected - set(removed)
    if prefetch == 1:
        assert stored == expected  # the hidden coins had been read before they were hidden
    else:
        # Read ahead, a page may be served and then dropped from the path before the loader reads
        # it; a coin hidden meanwhile is gone upstream. Every coin that stayed listed is stored.
        assert survivors <= stored <= expected
    assert (run.accepted, run.invalid, run.failed) == (len(stored), 4, 0)
    assert run.fetched == len(stored) + 4  # no token processed twice


async def test_a_run_that_spends_its_retry_budget_fails_keeps_its_batches_and_resumes_exactly(pumpfun):
    pumpfun.coins = window_coins()
    clean = await run_load(days=1, batch_size=25, source="hybrid")
    clean_rows = await rows()
    await wipe_tokens()

    base = pumpfun.requests_seen

    def outage_after_two_pages(fake, params):
        if fake.requests_seen - base == 2:
            fake.fault_plan = lambda n: Reply(503, {"message": "down"})

    pumpfun.before_page = outage_after_two_pages
    failed = await run_load(days=1, batch_size=25, source="recent")
    assert failed.status == LoadRun.Status.FAILED
    assert "gave up after 6 attempts" in failed.error
    assert failed.batches == 3 and await Token.objects.acount() == 75
    assert failed.checkpoint["phase"] == "recent"

    pumpfun.fault_plan = None
    pumpfun.before_page = None
    await sync_to_async(check_resumable)(run_id=failed.pk)
    resumed = await execute_run(run_id=failed.pk, resume=True)

    assert resumed.status == LoadRun.Status.SUCCEEDED
    assert (resumed.fetched, resumed.accepted, resumed.batches, resumed.resumes) == (300, 300, 12, 1)
    assert await rows() == clean_rows and clean.accepted == 300


async def test_an_interrupted_run_resumes_to_the_rows_of_a_clean_run(pumpfun):
    pumpfun.coins = window_coins()
    await run_load(days=1, batch_size=30, source="hybrid")
    clean_rows = await rows()
    await wipe_tokens()

    pumpfun.latency = 0.02
    run = await sync_to_async(queue_run)(days=1, batch_size=30, source="hybrid")
    task = asyncio.create_task(execute_run(run_id=run.pk))
    await wait_for(lambda: LoadRun.objects.get(pk=run.pk).batches >= 3 or task.done())
    assert not task.done(), "the run ended before it could be interrupted"
    task.cancel()  # what Ctrl-C or SIGTERM does to the command
    with pytest.raises(asyncio.CancelledError):
        await task
    interrupted = await LoadRun.objects.aget(pk=run.pk)
    assert interrupted.status == LoadRun.Status.INTERRUPTED
    assert "resume" in interrupted.error

    # More launches arrive while it is down: they are after its window and stay out.
    pumpfun.add_launches([make_coin(30_000 + i, created_ms=now_ms()) for i in range(40)])
    resumed = await execute_run(run_id=run.pk, resume=True)
    assert resumed.status == LoadRun.Status.SUCCEEDED
    assert resumed.accepted == 300 and resumed.fetched == 300
    assert await rows() == clean_rows


def test_one_active_run_per_source_is_enforced_by_the_database(db):
    from tokens.models import BotSettings

    stored = BotSettings.get_solo()
    first = create_run(plan=plan_run(stored=stored, days=1, source="recent"), origin="command")
    with pytest.raises(RunConflict, match=f"a recent load is already going \\(run {first.pk} is queued\\)"):
        create_run(plan=plan_run(stored=stored, days=2, source="recent"), origin="web")
    create_run(plan=plan_run(stored=stored, days=1, source="trending"), origin="web")  # another source is fine
    # The constraint holds even for a writer that skips the service.
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        LoadRun.objects.create(source="recent", days=1, batch_size=10, origin="command", status="running")


def test_a_run_whose_process_died_is_shown_interrupted_and_frees_its_source(db, settings):
    from datetime import timedelta

    from django.utils import timezone

    settings.RUN_STALE_AFTER = 30
    run = queue_run(days=1, source="recent")
    LoadRun.objects.filter(pk=run.pk).update(status="running", lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert mark_stale_runs_interrupted() == [run.pk]
    fresh = queue_run(days=1, source="trending")
    LoadRun.objects.filter(pk=fresh.pk).update(
        status="running", lease_expires_at=timezone.now() + timedelta(seconds=30)
    )
    assert mark_stale_runs_interrupted() == []
    run.refresh_from_db()
    fresh.refresh_from_db()
    assert (run.status, fresh.status) == ("interrupted", "running")
    assert "stopped renewing its lease" in run.error
    queue_run(days=1, source="recent")  # the dead run no longer blocks its source


def test_only_stopped_runs_can_be_resumed(db):
    run = queue_run(days=1, source="recent")
    with pytest.raises(Exception, match=f"run {run.pk} is queued; only interrupted, failed or cancelled"):
        check_resumable(run_id=run.pk)
    with pytest.raises(Exception, match="there is no run 424242"):
        check_resumable(run_id=424242)
