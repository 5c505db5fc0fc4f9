"""Rows first, details as they come: holder counts, metadata and market caps reach pages as row
updates after their rows, once each; filters that need them wait; market caps stay live."""

import time

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from tests.board.test_consumer import board_socket, receive_until_finished
from tests.fakes.chain import curve_account, history
from tests.helpers import queue_run, stored_tokens, update_settings
from tokens.details.stage import DetailStage, LiveRefresh
from tokens.models import DetailTask, LoadRun, Token
from tokens.runs.loader import execute_run
from tokens.sources.clients import chain_source, solana_rpc

pytestmark = pytest.mark.django_db(transaction=True)


def launches_with_holders(solana, count: int, *, holders_of=lambda i: i % 4 + 1):
    launches = history(count, spacing_s=30)
    solana.add(*launches, notify=False)
    for index, launch in enumerate(launches):
        solana.accounts_by_mint[launch.mint] = [(f"owner-{n}", 1) for n in range(holders_of(index))]
    return launches


async def test_rows_reach_pages_before_their_details_and_each_detail_arrives_once(solana):
    launches = launches_with_holders(solana, 12)
    socket = board_socket()
    assert (await socket.connect())[0]
    run = await sync_to_async(queue_run)(days=1, batch_size=5, upstream="chain")
    final = await execute_run(run_id=run.pk)
    messages = await receive_until_finished(socket)
    await socket.disconnect()

    assert final.status == LoadRun.Status.SUCCEEDED
    # Holders and metadata per token; a curve read for the first batch's 5 only (below).
    assert (final.details_queued, final.details_done) == (29, 29)
    batches = [m for m in messages if m["type"] == "batch"]
    updates = [m for m in messages if m["type"] == "update"]
    first_update = messages.index(updates[0])
    # Every row went out without its slow details: no holder count, no image yet. The first batch went
    # without market caps too (read afterwards); the later pages were read with their curves.
    for batch in batches:
        assert all("holders" not in t and t["image_uri"] == "" for t in batch["tokens"])
    assert [len(b["tokens"]) for b in batches] == [5, 5, 2]
    assert all("usd_market_cap" not in t for t in batches[0]["tokens"])
    later = [t for b in batches[1:] for t in b["tokens"]]
    assert all(t["usd_market_cap"] == pytest.approx(27.96 * 150, rel=1e-3) for t in later)
    assert messages.index(batches[0]) < first_update
    # Each detail came once per token, in the token's whole row, naming the fields that changed.
    holder_updates = [t for u in updates for t in u["tokens"] if "holders" in t["changed"]]
    assert sorted(t["mint"] for t in holder_updates) == sorted(launch.mint for launch in launches)
    assert {t["mint"]: t["holders"] for t in holder_updates} == {x.mint: i % 4 + 1 for i, x in enumerate(launches)}
    image_updates = [t for u in updates for t in u["tokens"] if "image_uri" in t["changed"]]
    assert len(image_updates) == 12 and all("name" not in t["changed"] and t["name"] for t in image_updates)
    cap_updates = [t for u in updates for t in u["tokens"] if "usd_market_cap" in t["changed"]]
    assert sorted(t["mint"] for t in cap_updates) == sorted(t["mint"] for t in batches[0]["tokens"])
    assert all(t["usd_market_cap"] == pytest.approx(27.96 * 150, rel=1e-3) for t in cap_updates)
    # Cursors keep rising across batches and updates, one per commit.
    cursors = [m["cursor"] for m in messages if m["type"] in ("batch", "update")]
    assert cursors == sorted(cursors) and len(set(cursors)) == len(cursors)
    assert all(len(u["tokens"]) > 0 for u in updates)  # grouped per commit, never empty


async def test_a_page_that_missed_updates_catches_up_by_cursor(solana):
    launches_with_holders(solana, 6)
    run = await sync_to_async(queue_run)(days=1, batch_size=6, upstream="chain")
    await execute_run(run_id=run.pk)
    client = AsyncClient()
    # A page that saw only the batch (cursor 1) asks for what came after it.
    caught = (await client.get("/api/changes/?after=1")).json()
    while caught["more"]:
        caught = (await client.get(f"/api/changes/?after={caught['cursor']}")).json()
    everything = (await client.get("/api/changes/?after=0&limit=50")).json()
    assert all(token["holders"] is not None and token["image_uri"] for token in everything["tokens"])
    assert {t["mint"] for t in (await client.get("/api/changes/?after=1")).json()["tokens"]} <= {
        t["mint"] for t in everything["tokens"]
    }


async def test_a_min_holders_filter_waits_for_the_count_then_keeps_or_removes_the_row(solana):
    launches = launches_with_holders(solana, 6, holders_of=lambda i: 1 if i % 2 else 5)
    await sync_to_async(update_settings)(min_holders=3)
    socket = board_socket()
    assert (await socket.connect())[0]
    run = await sync_to_async(queue_run)(days=1, batch_size=6, upstream="chain")
    final = await execute_run(run_id=run.pk)
    messages = await receive_until_finished(socket)
    await socket.disconnect()

    [batch] = [m for m in messages if m["type"] == "batch"]
    assert all(t["pending"] for t in batch["tokens"]) and len(batch["tokens"]) == 6  # shown, dimmed
    removed = {mint for m in messages if m["type"] == "update" for mint in m["removed"]}
    kept = {
        t["mint"] for m in messages if m["type"] == "update" for t in m["tokens"]
        if "pending" in t["changed"] and t["pending"] is False
    }  # fmt: skip
    few = {launch.mint for index, launch in enumerate(launches) if index % 2}
    assert removed == few and kept == {launch.mint for launch in launches} - few
    # The live stored count follows the rows the details took off the board.
    counts = [m["stored"] for m in messages if m["type"] == "update" and m["removed"]]
    assert counts and counts[-1] == 3 and all(isinstance(count, int) for count in counts)
    rows = await stored_tokens()
    assert all(not rows[mint].passed_filters and rows[mint].rejection_reason == "fewer than 3 holders" for mint in few)
    assert all(rows[mint].holders == 1 for mint in few)  # the count that took them off is kept
    assert all(rows[mint].passed_filters and not rows[mint].pending for mint in kept)
    assert final.accepted == 6  # judged later: counted where it stood when stored


async def test_live_market_caps_follow_the_curve_and_show_a_graduation(solana, settings):
    [grower, graduate, steady] = history(3, spacing_s=30)
    solana.add(grower, graduate, steady, notify=False)
    run = await sync_to_async(queue_run)(days=1, upstream="chain")
    await execute_run(run_id=run.pk)
    before = await stored_tokens()
    assert before[grower.mint].market_cap_sol == pytest.approx(27.96, abs=0.01)

    grown = curve_account(
        virtual_tokens=536_500_000_000_000, virtual_quote=60_000_000_000, real_tokens=256_600_000_000_000
    )
    solana.set_curve(grower.bonding_curve, grown)
    done = curve_account(
        virtual_tokens=279_900_000_000_000, virtual_quote=115_000_000_000, real_tokens=0, complete=True
    )
    solana.set_curve(graduate.bonding_curve, done)
    socket = board_socket()
    assert (await socket.connect())[0]
    await socket.receive_json_from(timeout=5)  # the latest run, on connect
    async with solana_rpc() as rpc:
        stage = DetailStage(chain=chain_source(rpc), holders=None, metadata=None)
        calls_before = solana.method_calls.get("getMultipleAccounts", 0)
        await LiveRefresh(stage, count=300, seconds=10).refresh_once()
        # The curves, the price, the graduated coin's pool looked for (once in the round).
        assert solana.method_calls["getMultipleAccounts"] - calls_before <= 3
    update = await socket.receive_json_from(timeout=5)
    await socket.disconnect()

    changed = {t["mint"]: t for t in update["tokens"]}
    assert set(changed) == {grower.mint, graduate.mint}  # the steady one did not move: not sent
    assert changed[grower.mint]["market_cap_sol"] == pytest.approx(111.84, abs=0.01)
    assert changed[graduate.mint]["complete"] is True and changed[graduate.mint]["bonding_progress"] == 100.0
    # No pool yet: "migrating", and the curve's last state is no price.
    assert changed[graduate.mint]["pool_status"] == "migrating" and changed[graduate.mint]["usd_market_cap"] is None
    after = await stored_tokens()
    assert after[grower.mint].usd_market_cap == pytest.approx(111.84 * 150, rel=1e-3)
    assert after[graduate.mint].complete and after[steady.mint].market_cap_sol == before[steady.mint].market_cap_sol


async def test_a_failed_detail_is_tried_again_then_left_unknown_and_counted(solana):
    [good, bad] = launches_with_holders(solana, 2)
    solana.erroring_mints.add(bad.mint)
    run = await sync_to_async(queue_run)(days=1, upstream="chain")
    started = time.monotonic()
    final = await execute_run(run_id=run.pk)
    rows = await stored_tokens()
    assert rows[good.mint].holders is not None and rows[bad.mint].holders is None
    assert final.holder_errors == 1 and final.status == LoadRun.Status.SUCCEEDED
    assert sum(1 for call in solana.calls if call["params"]["mint"] == bad.mint) == 3  # MAX_ATTEMPTS
    assert not await sync_to_async(DetailTask.objects.exists)()
    assert time.monotonic() - started < 30


async def test_no_wait_returns_after_the_rows_and_leaves_the_details_queued(solana):
    launches_with_holders(solana, 4)
    run = await sync_to_async(queue_run)(days=1, upstream="chain")
    final = await execute_run(run_id=run.pk, wait_for_details=False)
    assert final.status == LoadRun.Status.SUCCEEDED and final.accepted == 4
    assert final.details_queued == 12 and final.details_done < 12
    assert await sync_to_async(Token.objects.filter(holders__isnull=True).count)() > 0
