"""A whole run against the fake upstreams: what is stored, counted and reported."""

import pytest
from asgiref.sync import sync_to_async

from tests.fakes.coins import make_coin, make_history, now_ms
from tests.fakes.http import Reply
from tests.helpers import run_load, stored_tokens, update_settings
from tokens.models import LoadRun, Token
from tokens.runs.requests import request_cancel

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_run_stores_every_token_of_the_window_once_and_counts_it(pumpfun):
    pumpfun.coins = [*make_history(95), make_coin(900, created_ms=now_ms() - 3 * 86400000)]
    run = await run_load(days=1, batch_size=10)
    assert run.status == LoadRun.Status.SUCCEEDED
    assert (run.fetched, run.accepted, run.rejected, run.failed, run.batches) == (95, 95, 0, 0, 10)
    assert run.estimated_total == 95
    rows = await stored_tokens()
    assert set(rows) == {coin["mint"] for coin in pumpfun.coins[:95]}
    token = rows[pumpfun.coins[0]["mint"]]
    assert token.holders is None  # no SOLANA_RPC_URL: unknown, never 0
    assert token.sources == ["recent"]
    assert token.usd_market_cap == pumpfun.coins[0]["usd_market_cap"]


async def test_running_twice_updates_rows_and_never_duplicates_them(pumpfun):
    pumpfun.coins = make_history(30)
    await run_load(days=1, batch_size=7)
    first = await stored_tokens()
    pumpfun.coins[0]["usd_market_cap"] = 123_456.0
    second_run = await run_load(days=1, batch_size=7, source="hybrid")
    second = await stored_tokens()
    assert await Token.objects.acount() == 30
    assert set(first) == set(second)
    mint = pumpfun.coins[0]["mint"]
    assert second[mint].usd_market_cap == 123_456.0
    assert second[mint].first_seen_at == first[mint].first_seen_at
    assert second[mint].last_seen_at > first[mint].last_seen_at
    assert second[mint].last_run_id == second_run.pk


async def test_holder_counts_come_from_the_rpc(pumpfun, das):
    pumpfun.coins = make_history(3)
    owners = {0: [("a", 1), ("b", 2)], 1: [("a", 1), ("a", 3), ("z", 0)], 2: []}
    for index, accounts in owners.items():
        das.accounts_by_mint[pumpfun.coins[index]["mint"]] = accounts
    await run_load(days=1, upstream="api")
    rows = await stored_tokens()
    assert [rows[coin["mint"]].holders for coin in pumpfun.coins] == [2, 1, 0]


async def test_a_failed_holder_lookup_leaves_holders_unknown_and_is_counted(pumpfun, das):
    pumpfun.coins = make_history(2)
    das.accounts_by_mint[pumpfun.coins[0]["mint"]] = [("a", 1)]
    das.erroring_mints.add(pumpfun.coins[1]["mint"])
    run = await run_load(days=1, upstream="api")
    rows = await stored_tokens()
    assert rows[pumpfun.coins[0]["mint"]].holders == 1
    assert rows[pumpfun.coins[1]["mint"]].holders is None
    assert (run.status, run.accepted, run.holder_errors) == (LoadRun.Status.SUCCEEDED, 2, 1)


async def test_filters_reject_with_a_reason_and_rejected_tokens_stay_off_the_board(pumpfun):
    await sync_to_async(update_settings)(min_usd_market_cap=5_010, blocklist="rug\n")
    pumpfun.coins = make_history(20)
    pumpfun.coins[15]["name"] = "Rug Pull"
    run = await run_load(days=1)
    assert (run.accepted, run.rejected) == (9, 11)
    rejected = await stored_tokens(passed_filters=False)
    assert rejected[pumpfun.coins[0]["mint"]].rejection_reason == "USD market cap below 5010"
    assert rejected[pumpfun.coins[15]["mint"]].rejection_reason == "name or symbol contains blocked word 'rug'"


async def test_a_bad_record_is_counted_and_never_fails_its_batch(pumpfun):
    pumpfun.coins = make_history(10)
    pumpfun.coins[3]["usd_market_cap"] = "NaN-ish"
    pumpfun.coins[6]["mint"] = "<img src=x onerror=alert(1)>"
    run = await run_load(days=1, batch_size=5)
    assert (run.status, run.fetched, run.accepted, run.invalid, run.failed, run.batches) == (
        LoadRun.Status.SUCCEEDED, 10, 8, 2, 0, 2,
    )  # fmt: skip
    assert await Token.objects.acount() == 8


async def test_an_upstream_failure_ends_the_run_failed_and_keeps_committed_batches(pumpfun):
    pumpfun.coins = make_history(120)

    def fail_from_the_third_page(fake, params):
        if params["offset"] == "47":  # from the next request on, pump.fun is down
            fake.fault_plan = lambda n: Reply(503, {"message": "Service Unavailable"})

    pumpfun.before_page = fail_from_the_third_page
    run = await run_load(days=1, batch_size=47)
    assert run.status == LoadRun.Status.FAILED
    assert run.error == (
        f"pump.fun at offset 94: answered HTTP 503 (gave up after 6 attempts); PUMPFUN_API_URL is {pumpfun.url}"
    )
    assert run.batches == 2
    assert await Token.objects.acount() == 94


async def test_min_holders_without_an_rpc_fails_with_a_reason(pumpfun):
    await sync_to_async(update_settings)(min_holders=10)
    pumpfun.coins = make_history(5)
    run = await run_load(days=1)
    assert run.status == LoadRun.Status.FAILED
    assert "SOLANA_RPC_URL" in run.error
    assert await Token.objects.acount() == 0


async def test_cancel_stops_at_the_next_batch_and_keeps_what_was_stored(pumpfun):
    pumpfun.coins = make_history(200)
    state = {}

    def cancel_on_third_page(fake, params):
        if params["offset"] == "94" and "run" in state:
            request_cancel(run_id=state["run"])

    from tests.helpers import queue_run
    from tokens.runs.loader import execute_run

    run = await sync_to_async(queue_run)(days=1, batch_size=47)
    state["run"] = run.pk
    pumpfun.before_page = cancel_on_third_page
    final = await execute_run(run_id=run.pk)
    assert final.status == LoadRun.Status.CANCELLED
    assert final.batches == 2
    assert await Token.objects.acount() == 94
