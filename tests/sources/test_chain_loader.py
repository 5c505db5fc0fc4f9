"""Loads from the chain against a fake Solana RPC on real sockets: every launch of the window once,
with its exact facts, whatever the provider does."""

import asyncio
import itertools
import threading
import time

import pytest
from asgiref.sync import sync_to_async

from tests.fakes.chain import Launch, curve_account, history
from tests.fakes.http import Reply
from tests.fakes.pools import FakePool
from tests.helpers import run_load, stored_tokens, update_settings
from tokens.models import LoadRun, Token
from tokens.sources.chain.addresses import MAYHEM_SOL_VAULT
from tokens.sources.chain.lists import get_chain_recent_tokens
from tokens.sources.chain.pdas import canonical_pool_address
from tokens.sources.chain.source import READ_AHEAD_CHUNKS as READ_AHEAD
from tokens.sources.clients import chain_source, solana_rpc

pytestmark = pytest.mark.django_db(transaction=True)
DAY = 86_400


def a_window(solana, count=30, *, spacing_s=60, **overrides):
    """`count` launches in the last day, plus traps: old launches, failed creates, non-creates,
    a look-alike program."""
    now = int(time.time())
    old = history(5, newest_s=now - 2 * DAY, start=10_000)
    recent = history(count, newest_s=now - 5, spacing_s=spacing_s, **overrides)
    traps = [
        Launch(index=20_001, block_time=now - 100, kind="failed"),
        Launch(index=20_002, block_time=now - 200, kind="noop"),
        Launch(index=20_003, block_time=now - 300, kind="lookalike"),
    ]
    solana.add(*old, *sorted([*recent, *traps], key=lambda launch: launch.block_time))
    return recent


async def test_a_chain_load_stores_every_launch_of_the_window_once_with_exact_facts(solana):
    launches = a_window(solana, 30)
    grown = launches[0]
    grown_curve = curve_account(
        virtual_tokens=536_500_000_000_000, virtual_quote=60_000_000_000, real_tokens=256_600_000_000_000
    )
    solana.set_curve(grown.bonding_curve, grown_curve)
    solana.accounts_by_mint[grown.mint] = [("alice", 5), ("bob", 1), ("alice", 2), ("carol", 0)]
    run = await run_load(days=1, batch_size=7, source="recent", upstream="chain")
    assert run.status == LoadRun.Status.SUCCEEDED, run.error
    assert (run.upstream, run.accepted, run.invalid, run.failed, run.warning) == ("chain", 30, 0, 0, "")
    rows = await stored_tokens()
    assert set(rows) == {launch.mint for launch in launches}  # nothing else: no failed, old or look-alike
    token = rows[grown.mint]
    assert (token.name, token.symbol, token.creator) == (grown.name, grown.symbol, grown.creator)
    assert token.created_at.timestamp() == grown.block_time
    assert token.signature == grown.signature and token.bonding_curve == grown.bonding_curve
    # 60 SOL virtual over 536.5M virtual tokens, times a billion: ~111.84 SOL; at 150 USD a SOL.
    assert token.market_cap_sol == pytest.approx(111.84, abs=0.01)
    assert token.usd_market_cap == pytest.approx(111.84 * 150, rel=1e-3)
    assert token.bonding_progress == pytest.approx(67.65, abs=0.01)  # 1 - 256.6 / 793.1
    assert token.holders == 2 and token.top10_pct == 100.0  # distinct owners with a balance; all of it in 2
    assert token.quote == "SOL"
    # Metadata from the (fake) gateway: the description and the image on the gateway, hostile links dropped.
    assert token.description.startswith("About Qm")
    assert token.image_uri.startswith(solana.gateway.url + "/ipfs/Qm") and token.image_uri.endswith("/image.png")
    assert token.twitter.startswith("https://x.com/") and token.website == ""
    fresh = rows[launches[-1].mint]
    assert fresh.market_cap_sol == pytest.approx(27.96, abs=0.01) and fresh.bonding_progress == 0.0
    # The developer's 1 SOL in the create transaction took 1.073e15 times (1 - 30/31) tokens; nobody else bought.
    assert token.dev_holding_pct == round(100 * (1_073_000_000_000_000 - 30 * 1_073_000_000_000_000 // 31) / 10**15, 4)
    assert token.bundled_pct == 0.0 and token.trades_since is None  # trade figures start with the stream


async def test_batches_and_calls_per_launch(solana):
    a_window(solana, 250, spacing_s=10)
    run = await run_load(days=1, batch_size=50, source="recent", upstream="chain")
    assert run.accepted == 250
    calls = solana.method_calls
    # The first batch's 50 signatures, then pages of 1000; one getTransaction per successful
    # signature, in arrays of 100 (the first one of 50).
    assert calls["getTransaction"] == 250 + 2  # the launches, the no-op and the look-alike
    assert calls["getSignaturesForAddress"] == 2
    assert solana.asked.keys().isdisjoint({launch.signature for launch in solana_failed(solana)})


@pytest.mark.parametrize("offered", [False, True], ids=["signatures", "getTransactionsForAddress"])
async def test_the_first_batch_is_read_alone_and_no_bigger_than_itself(solana, offered):
    solana.offer_transactions_for_address = offered
    launches = a_window(solana, 250, spacing_s=10)
    reading = {"getTransaction", "getTransactionsForAddress", "getSignaturesForAddress"}
    before_first: list[tuple[str, int, object]] = []

    async def on_batch(batch):
        if not before_first:
            await asyncio.sleep(0.3)  # time enough for any read-ahead to start, were it allowed
            before_first.extend(post for post in solana.posts if post[0] in reading)

    async with solana_rpc() as rpc:
        delivered = await get_chain_recent_tokens(1, source=chain_source(rpc), batch_callback=on_batch, batch_size=20)
    assert delivered == len(launches)
    # A first signature page of 20 beside a first page of 20 whole transactions (which also tells
    # whether the provider offers them; where it does, the signature page is cancelled, sent or not),
    # then those 20 transactions: the failed create is not asked for.
    limits = sorted((method, calls, params[1].get("limit")) for method, calls, params in before_first)
    if offered:
        # The first page of whole transactions is also the test of whether the provider offers them.
        assert [row for row in limits if row[0] != "getSignaturesForAddress"] == [("getTransactionsForAddress", 1, 20)]
    else:
        assert [(method, calls) for method, calls, _ in limits] == [
            ("getSignaturesForAddress", 1), ("getTransaction", 19), ("getTransactionsForAddress", 1)
        ]  # fmt: skip
        assert limits[0][2] == 20
    later = [calls for method, calls, _ in solana.posts[len(before_first) :] if method == "getTransaction"]
    assert not offered or not later
    assert offered or max(later, default=0) == 100  # then the RPC's whole batches, read ahead


@pytest.mark.parametrize("offered", [False, True], ids=["signatures", "getTransactionsForAddress"])
async def test_pages_after_the_first_come_with_their_curves(solana, offered):
    """The first batch goes without its curves (nothing may hold it up); every later page reads
    its curves while earlier ones are stored, and its rows need no curve read afterwards."""
    solana.offer_transactions_for_address = offered
    launches = a_window(solana, 250, spacing_s=10)
    grown = launches[200]
    solana.set_curve(grown.bonding_curve, curve_account(
        virtual_tokens=536_500_000_000_000, virtual_quote=60_000_000_000, real_tokens=256_600_000_000_000,
        real_quote=30_000_000_000,
    ))  # fmt: skip
    batches = []

    async def on_batch(batch):
        batches.append(batch)

    async with solana_rpc() as rpc:
        await get_chain_recent_tokens(1, source=chain_source(rpc), batch_callback=on_batch, batch_size=20)
    first, later = batches[0], [record for batch in batches[1:] for record in batch]
    assert all(record.curve_fields is None for record in first)
    assert len(later) == 250 - len(first) and all(record.curve_fields for record in later)
    fields = next(record.curve_fields for record in later if record.mint == grown.mint)
    assert fields["market_cap_sol"] == pytest.approx(111.84, abs=0.01)
    assert fields["usd_market_cap"] == pytest.approx(111.84 * 150, rel=1e-3)
    assert fields["bonding_progress"] == pytest.approx(67.65, abs=0.01)
    assert (fields["liquidity_sol"], fields["liquidity_usd"]) == (30.0, pytest.approx(4500.0))
    assert fields["price_usd"] == pytest.approx(111.84 * 150 / 1e9, rel=1e-3)
    # 230 curves, 100 a call, and the price account once.
    assert solana.method_calls["getMultipleAccounts"] <= 4


async def test_a_load_stores_later_pages_with_their_state_and_reads_only_the_first_batchs_curves(solana):
    launches = a_window(solana, 60, spacing_s=10)
    run = await run_load(days=1, batch_size=20, source="recent", upstream="chain")
    assert run.status == LoadRun.Status.SUCCEEDED and run.accepted == 60
    rows = await stored_tokens()
    assert all(rows[x.mint].market_cap_sol == pytest.approx(27.96, abs=0.01) for x in launches)
    assert all(rows[x.mint].state_read_at is not None and rows[x.mint].price_usd for x in launches)
    curve_reads = [params[0] for method, _, params in solana.posts if method == "getMultipleAccounts"]
    curves_read = {key for keys in curve_reads for key in keys}
    assert {x.bonding_curve for x in launches} <= curves_read  # the first batch's by the details stage
    # Holders and metadata for each; a curve read after storing for the first batch's (20 at most) only.
    assert 2 * 60 < run.details_queued <= 2 * 60 + 20


async def test_a_page_whose_curves_cannot_be_read_goes_without_them(solana, caplog):
    solana.offer_transactions_for_address = True
    a_window(solana, 150, spacing_s=10)
    solana.failing_method = "getMultipleAccounts"
    batches = []

    async def on_batch(batch):
        batches.append(batch)

    async with solana_rpc() as rpc:
        delivered = await get_chain_recent_tokens(1, source=chain_source(rpc), batch_callback=on_batch, batch_size=20)
    assert delivered == 150 and sum(len(b) for b in batches) == 150
    assert all(record.curve_fields is None for batch in batches for record in batch)
    assert "bonding curves of a backfill page unavailable" in caplog.text


def solana_failed(solana):
    return [entry.launch for entry in solana.entries if entry.launch.kind == "failed"]


async def test_a_provider_that_refuses_batches_gets_single_calls_and_the_run_says_so_once(solana, caplog):
    solana.refuse_batches = True
    launches = a_window(solana, 12)
    run = await run_load(days=1, batch_size=5, source="recent", upstream="chain")
    assert run.status == LoadRun.Status.SUCCEEDED and run.accepted == 12
    assert set(await stored_tokens()) == {launch.mint for launch in launches}
    notices = [r for r in caplog.records if "refuses JSON-RPC batches" in r.getMessage()]
    assert len(notices) == 1 and f"run {run.pk}" in notices[0].getMessage()


async def test_get_transactions_for_address_is_used_where_offered(solana):
    solana.offer_transactions_for_address = True
    launches = a_window(solana, 150, spacing_s=10)
    run = await run_load(days=1, batch_size=50, source="recent", upstream="chain")
    assert run.accepted == 150 and run.warning == ""  # the window's start was reached: older launches exist
    assert set(await stored_tokens()) == {launch.mint for launch in launches}
    assert solana.method_calls.get("getTransaction", 0) == 0
    # The first batch's 50 (also the test of whether the provider offers the method), then the rest of
    # the day in slices (most of it empty here: the launches are all in its last half hour), each
    # transaction handed over once (but the opening page's oldest, read again with its second).
    assert sorted(solana.served_whole.values())[-2:] == [1, 2]
    assert 1 + 2 <= solana.method_calls["getTransactionsForAddress"] <= 15


async def test_get_transactions_for_address_reads_slices_of_the_window_side_by_side(solana):
    """2,000 launches over 17 hours: the opening page alone, then the window cut by block time into
    ranges read at once (each a chain of pages), handed over newest first, each launch once."""
    solana.offer_transactions_for_address = True
    launches = a_window(solana, 2000, spacing_s=30)
    solana.latency = 0.02
    in_flight, most = [0], [0]
    lock = threading.Lock()

    def count_in_flight(fake, method):
        if method == "getTransactionsForAddress":
            with lock:
                in_flight[0] += 1
                most[0] = max(most[0], in_flight[0])
            time.sleep(0.05)  # each call takes a while: ranges asked side by side overlap in here
            with lock:
                in_flight[0] -= 1

    solana.before_call = count_in_flight
    delivered, batches = [], []

    async def on_batch(batch):
        delivered.extend(batch)
        batches.append(batch)

    async with solana_rpc() as rpc:
        await get_chain_recent_tokens(1, source=chain_source(rpc), batch_callback=on_batch, batch_size=100)
    assert [record.mint for record in delivered] == [launch.mint for launch in reversed(launches)]
    assert most[0] >= 2  # ranges read side by side
    assert len(solana.served_whole) == 2000 + 2  # and two traps (the failed create is not handed over)
    assert sorted(solana.served_whole.values())[-2:] == [1, 2]  # the opening page's oldest is read with its second
    asked = [params[1] for method, _, params in solana.posts if method == "getTransactionsForAddress"]
    options = [o for o in asked if o["transactionDetails"] == "full"]
    started = [
        (o["filters"]["blockTime"]["gte"], o["filters"]["blockTime"]["lt"])
        for o in options[1:]
        if "paginationToken" not in o
    ]
    # Ranges that tile the day from the opening page's oldest second down, each started once (asked
    # side by side: in any order).
    started.sort(reverse=True)
    assert len(started) >= 3 and len(set(started)) == len(started) and all(low < high for low, high in started)
    assert all(newer[0] == older[1] for newer, older in itertools.pairwise(started))
    times = {launch.mint: launch.block_time for launch in launches}
    assert started[0][1] == min(times[record.mint] for record in batches[0]) + 1  # the opening page's oldest
    assert started[-1][0] == options[0]["filters"]["blockTime"]["gte"]  # the window's start
    # and one signature from before it, if there is one: the window was read to its start
    [history] = [o for o in asked if o["transactionDetails"] == "signatures"]
    assert history["filters"]["blockTime"] == {"lt": started[-1][0]} and history["limit"] == 1
    # About 8 pages a range: 20 pages of launches, then the quiet rest of the day in doubling steps.
    assert solana.method_calls["getTransactionsForAddress"] <= 40
    # The first ranges grow (one page, two, four, then eight): the first batches wait for no range of
    # eight; the opening page and the first range are batches of their own, whatever they hold.
    spans = [high - low for low, high in started[:4]]
    assert [round(later / earlier) for earlier, later in itertools.pairwise(spans)] == [2, 2, 2]
    first_range = {mint for mint, at in times.items() if started[0][0] <= at < started[0][1]}
    assert {record.mint for record in batches[1]} == first_range - {record.mint for record in batches[0]}
    assert all(len(batch) == 100 for batch in batches[2:-1])


async def test_whole_pages_of_nothing_that_go_on_are_followed(solana):
    """A provider may answer a range's first call with no transactions and a token (it scans a
    stretch a call): the range goes on, and nothing is missed."""
    solana.offer_transactions_for_address = True
    solana.whole_quirk = "empty-first-pages"
    launches = a_window(solana, 1500, spacing_s=30)
    delivered = []

    async def on_batch(batch):
        delivered.extend(batch)

    async with solana_rpc() as rpc:
        source = chain_source(rpc)
        await get_chain_recent_tokens(1, source=source, batch_callback=on_batch, batch_size=100)
    assert [record.mint for record in delivered] == [launch.mint for launch in reversed(launches)]
    assert source.reach.reached_start
    # The first page was empty: the live tail takes over after what was newest when the load began.
    assert {record.position["head"] for record in delivered} == {launches[-1].signature}


@pytest.mark.parametrize(
    ("quirk", "reason"),
    [("endless-empty", "pages of nothing in a row"), ("repeats-pages", "a page of what it had already given")],
)
async def test_a_provider_whose_pages_never_end_fails_the_run(solana, quirk, reason):
    """Pages of nothing without end, or the same page under new tokens: the run stops with the
    reason instead of paying for calls without end (or storing launches twice)."""
    solana.offer_transactions_for_address = True
    solana.whole_quirk = quirk
    a_window(solana, 1500, spacing_s=30)
    run = await run_load(days=1, batch_size=100, source="recent", upstream="chain")
    assert run.status == LoadRun.Status.FAILED and reason in run.error
    assert solana.method_calls["getTransactionsForAddress"] < 400


async def test_a_provider_that_ignores_the_ranges_end_fails_the_run_at_once(solana):
    """Reading ranges from a provider that ignores `lt` would read the window once per range: the
    run stops with the reason instead (a resumed run goes on by signatures)."""
    solana.offer_transactions_for_address = True
    solana.whole_quirk = "ignores-lt"
    a_window(solana, 1500, spacing_s=30)
    run = await run_load(days=1, batch_size=100, source="recent", upstream="chain")
    assert run.status == LoadRun.Status.FAILED
    assert "ignored the blockTime filter's `lt`" in run.error
    assert solana.method_calls["getTransactionsForAddress"] <= 1 + READ_AHEAD


async def test_a_transaction_not_visible_yet_is_asked_again_never_dropped(solana):
    launches = a_window(solana, 10)
    solana.null_first = {launches[3].signature, launches[7].signature}
    run = await run_load(days=1, batch_size=4, source="recent", upstream="chain")
    assert run.accepted == 10
    assert solana.asked[launches[3].signature] == 2


async def test_rate_limits_are_waited_out(solana):
    launches = a_window(solana, 20)
    solana.fail_next(
        Reply(429, {"error": "slow down"}, headers={"Retry-After": "0"}),
        Reply(200, {"jsonrpc": "2.0", "id": 1, "error": {"code": -32429, "message": "rate limit exceeded"}}),
        Reply(503, {"message": "busy"}),
    )
    run = await run_load(days=1, batch_size=10, source="recent", upstream="chain")
    assert run.status == LoadRun.Status.SUCCEEDED and run.accepted == 20
    assert set(await stored_tokens()) == {launch.mint for launch in launches}


async def test_launches_arriving_at_the_head_during_a_backfill_do_not_shift_it(solana):
    launches = a_window(solana, 1100, spacing_s=5)
    arrived = []

    def launch_at_the_head(server, method):
        if method == "getSignaturesForAddress" and len(arrived) < 3:
            new = Launch(index=90_000 + len(arrived), block_time=int(time.time()))
            arrived.append(new)
            server.add(new, notify=False)

    solana.before_call = launch_at_the_head
    run = await run_load(days=1, batch_size=100, source="recent", upstream="chain")
    rows = await stored_tokens()
    expected = {launch.mint for launch in launches}
    # The first arrival came before the head was read and belongs to the window; later ones do not.
    assert set(rows) - expected <= {arrived[0].mint}
    assert expected <= set(rows)  # none skipped
    assert run.fetched == len(rows)  # none twice


async def test_usdc_curves_are_in_usd_and_a_stale_price_leaves_usd_unknown(solana):
    now = int(time.time())
    usdc = Launch(index=1, block_time=now - 30, quote="USDC")
    sol = Launch(index=2, block_time=now - 20)
    solana.add(usdc, sol)
    solana.price_published = now - 600  # ten minutes old: no price
    await run_load(days=1, source="recent", upstream="chain")
    rows = await stored_tokens()
    assert rows[usdc.mint].usd_market_cap == pytest.approx(4000.0, rel=1e-3) and rows[usdc.mint].quote == "USDC"
    assert rows[usdc.mint].market_cap_sol is None  # would need the price
    assert rows[sol.mint].market_cap_sol == pytest.approx(27.96, abs=0.01)
    assert rows[sol.mint].usd_market_cap is None  # never invented


async def test_a_garbled_event_is_counted_invalid_and_the_rest_load(solana):
    now = int(time.time())
    good, bad = Launch(index=1, block_time=now - 30), Launch(index=2, block_time=now - 20, garbled=True)
    solana.add(good, bad)
    run = await run_load(days=1, source="recent", upstream="chain")
    assert (run.status, run.accepted, run.invalid) == (LoadRun.Status.SUCCEEDED, 1, 1)


async def test_metadata_failures_leave_fields_empty_and_are_counted(solana):
    launches = a_window(solana, 4)
    cid = launches[1].uri.rsplit("/", 1)[1]
    solana.gateway.special[cid] = Reply(200, raw=b"<html>gateway notice</html>")
    run = await run_load(days=1, source="recent", upstream="chain")
    assert run.metadata_errors == 1 and run.accepted == 4
    rows = await stored_tokens()
    assert rows[launches[1].mint].description == "" and rows[launches[1].mint].image_uri == ""
    assert rows[launches[0].mint].description != ""


async def test_trending_on_the_chain_is_the_window_top_by_market_cap(solana):
    launches = a_window(solana, 12)
    for rank, launch in enumerate(launches[:5]):
        solana.set_curve(launch.bonding_curve, curve_account(virtual_quote=(40 + rank) * 1_000_000_000))
    await sync_to_async(update_settings)(trending_limit=3)
    run = await run_load(days=1, source="trending", upstream="chain")
    assert run.accepted == 3
    rows = await stored_tokens()
    assert set(rows) == {launch.mint for launch in launches[2:5]}
    assert all(row.sources == ["trending"] for row in rows.values())
    # The ranking's curve reads began with the scan of the whole window: each row's curve is read
    # again once it is stored (with its holders and metadata).
    assert run.details_queued == 3 * 3


async def test_trending_ranks_a_graduated_coin_by_its_pool_and_leaves_one_without_a_price_out(solana):
    launches = a_window(solana, 6)
    for rank, launch in enumerate(launches[:3]):
        solana.set_curve(launch.bonding_curve, curve_account(virtual_quote=(40 + rank) * 1_000_000_000))
    graduated_curve = curve_account(virtual_tokens=279_900_000_000_000, virtual_quote=115_000_000_000, real_tokens=0,
                                    complete=True)  # fmt: skip
    priced, migrating = launches[3], launches[4]
    for launch in (priced, migrating):
        solana.set_curve(launch.bonding_curve, graduated_curve)  # its last state: about 411 SOL, not its price
    FakePool(solana, priced.mint).create(base=10**15 // 20, quote=2 * 10**9)  # 40 SOL a billion: a dumped coin
    await sync_to_async(update_settings)(trending_limit=3)
    run = await run_load(days=1, source="trending", upstream="chain")
    rows = await stored_tokens()
    assert run.accepted == 3
    assert set(rows) == {
        launches[1].mint,
        launches[2].mint,
        priced.mint,
    }  # its pool's 40 SOL, then the two biggest curves (39, 38 SOL)
    assert rows[priced.mint].market_cap_sol == pytest.approx(40.0)
    assert migrating.mint not in rows  # no price to rank it by


@pytest.mark.parametrize("offered", [False, True], ids=["signatures", "getTransactionsForAddress"])
@pytest.mark.parametrize("count", [5, 1500])
async def test_a_history_shorter_than_the_window_is_said(solana, offered, count):
    """Whether the last page ran out at the window's start or at the end of what the node keeps:
    with `getTransactionsForAddress` the start is a filter, so one call asks for anything older."""
    solana.offer_transactions_for_address = offered
    launches = history(count, spacing_s=60)  # the node keeps only the last hours
    solana.add(*launches)
    run = await run_load(days=7, source="recent", upstream="chain")
    assert run.status == LoadRun.Status.SUCCEEDED and run.accepted == count
    oldest = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(launches[0].block_time))
    assert run.warning.startswith(f"the Solana RPC's history reached back only to {oldest}")


async def test_the_web_api_says_how_far_back_it_reached(pumpfun, history):
    pumpfun.coins = history(60, spacing_ms=60_000)  # one hour of launches, then the wall
    run = await run_load(days=7, source="recent", upstream="api")
    assert run.status == LoadRun.Status.SUCCEEDED and run.accepted == 60
    assert run.warning.startswith("pump.fun's web API reached back only to ")
    assert run.warning.endswith("set SOLANA_RPC_URL to load older launches")


async def test_auto_is_the_chain_with_an_rpc_and_the_api_without(solana, settings):
    a_window(solana, 3)
    run = await run_load(days=1, source="recent")
    assert run.upstream == "chain" and run.accepted == 3
    settings.SOLANA_RPC_URL = ""
    from tests.helpers import queue_run
    from tokens.runs.requests import RunParameterError

    assert (await sync_to_async(queue_run)(days=1)).upstream == "api"
    with pytest.raises(RunParameterError, match="the chain upstream needs SOLANA_RPC_URL"):
        await sync_to_async(queue_run)(days=1, upstream="chain")
    assert await sync_to_async(Token.objects.count)() == 3


async def test_holder_counts_leave_out_the_curve_the_pool_and_mayhems_vault(solana):
    launches = a_window(solana, 3)
    coin = launches[0]
    solana.accounts_by_mint[coin.mint] = [
        (coin.bonding_curve, 700_000_000_000_000),  # the curve's own token account: most of the supply
        (canonical_pool_address(coin.mint), 200_000_000_000_000),  # the pool's vault, once graduated
        (MAYHEM_SOL_VAULT, 500_000_000_000_000),  # Mayhem's agent, not a trader
        ("alice", 5), ("alice", 1), ("bob", 3), ("carol", 0),
    ]  # fmt: skip
    run = await run_load(days=1, batch_size=10, source="recent", upstream="chain")
    assert run.status == LoadRun.Status.SUCCEEDED
    assert (await stored_tokens())[coin.mint].holders == 2  # alice and bob


HOSTILE_URIS = [
    "http://meta.example:99999/x.json",  # the port that once ended a whole 7-day run
    "http://[::1/x.json",  # a broken IPv6 literal
    "javascript:alert(document.cookie)",
    "ftp://meta.example/x.json",
    "http://" + "a" * 300 + ".example/x.json",
    "",
    "http://localhost:8080/admin",  # a usable link to a port and a host the fetcher refuses
    "https://localhost/ipfs/../../etc/passwd",  # IPFS-looking, not a plain CID: checked as a link
]


async def test_a_window_with_hostile_launches_ends_succeeded_with_every_launch_stored(solana):
    now = int(time.time())
    launches = [
        Launch(index=i, block_time=now - 60 * i, uri=HOSTILE_URIS[i // 5] if i % 5 == 0 and i // 5 < 8 else "",
               name="\x00<script>alert(1)</script>\u202e" if i % 7 == 0 else "")
        for i in range(40)
    ]  # fmt: skip
    solana.add(*sorted(launches, key=lambda launch: launch.block_time))
    run = await run_load(days=1, batch_size=10, source="recent", upstream="chain")
    assert run.status == LoadRun.Status.SUCCEEDED, run.error
    assert (run.accepted, run.invalid, run.failed) == (40, 0, 0)
    rows = await stored_tokens()
    assert set(rows) == {launch.mint for launch in launches}
    hostile = [launch for launch in launches if launch.uri in HOSTILE_URIS and launch.uri]
    assert run.metadata_errors == len(hostile) == 7  # unknown, and counted
    assert all(rows[launch.mint].image_uri == "" and rows[launch.mint].description == "" for launch in hostile)
    assert rows[launches[7].mint].name == "<script>alert(1)</script>"  # text, without NUL or bidi overrides
