"""Graduated coins priced from their PumpSwap pools: found at the canonical address only (a user's
pool for the same mint, another program's look-alike and a vault that is not a token account are
not believed), priced from both vaults, and live on the page as the vaults move."""

import pytest
from asgiref.sync import sync_to_async

from tests.board.test_consumer import board_socket
from tests.fakes.chain import curve_account, history, key_for
from tests.fakes.pools import METEORA_DAMM_V2, FakePool, ata, pool_account
from tests.helpers import queue_run, stored_tokens
from tokens.details.stage import DetailStage, LiveRefresh
from tokens.runs.loader import execute_run
from tokens.sources.chain.addresses import PUMP_AMM_PROGRAM, SYSTEM_PROGRAM, TOKEN_PROGRAM, WSOL_MINT
from tokens.sources.chain.pool_reader import MIGRATING, PRICED, UNREADABLE, PoolReader
from tokens.sources.clients import chain_source, solana_rpc

pytestmark = pytest.mark.django_db(transaction=True)
SOL_USD = 150.0
GRADUATED_CURVE = {"virtual_tokens": 279_900_000_000_000, "virtual_quote": 115_000_000_000, "real_tokens": 0}


def graduate(solana, launch) -> None:
    solana.set_curve(launch.bonding_curve, curve_account(**GRADUATED_CURVE, complete=True))


async def test_the_reader_believes_the_canonical_pool_only_and_every_account_it_reads_is_checked(solana):
    coins = {name: key_for(f"pool-coin-{name}") for name in ("good", "usdc", "user", "lookalike", "vault", "none")}
    good = FakePool(solana, coins["good"], token_program=TOKEN_PROGRAM).create(base=200 * 10**12, quote=90 * 10**9)
    usdc = FakePool(solana, coins["usdc"], quote="USDC").create(base=100 * 10**12, quote=12_000 * 10**6)
    # A user's pool for the same mint lives at another address: the canonical one has no account.
    user_pool = key_for("a-user-pool")
    solana.set_account(
        user_pool,
        pool_account(mint=coins["user"], quote_mint=WSOL_MINT, base_vault=ata(user_pool, coins["user"], TOKEN_PROGRAM),
                     quote_vault=ata(user_pool, WSOL_MINT, TOKEN_PROGRAM), creator=key_for("someone")),
        owner=PUMP_AMM_PROGRAM,
    )  # fmt: skip
    # At the canonical address, an account with PumpSwap's discriminator that another program owns.
    lookalike = FakePool(solana, coins["lookalike"]).create(base=10**12, quote=10**9)
    solana.owners[lookalike.address] = METEORA_DAMM_V2
    # A vault that is not a token account (the system program owns it).
    vault = FakePool(solana, coins["vault"]).create(base=10**12, quote=10**9)
    solana.owners[vault.quote_vault] = SYSTEM_PROGRAM
    quotes = {**dict.fromkeys(coins.values(), "SOL"), coins["usdc"]: "USDC", "not a key": "SOL"}

    async with solana_rpc() as rpc:
        reader = PoolReader(rpc=rpc)
        found = await reader.find(quotes)

    assert "not a key" not in found and reader.calls == 1  # six coins, five accounts each: one call
    assert found[coins["good"]].status == PRICED
    assert (found[coins["good"]].base_amount, found[coins["good"]].quote_amount) == (200 * 10**12, 90 * 10**9)
    assert found[coins["good"]].vaults.pool == good.address and found[coins["good"]].vaults.supply == 10**15
    assert found[coins["usdc"]].status == PRICED and found[coins["usdc"]].vaults.quote_vault == usdc.quote_vault
    assert found[coins["user"]].status == MIGRATING  # its canonical pool does not exist yet
    assert found[coins["none"]].status == MIGRATING
    assert found[coins["lookalike"]].status == UNREADABLE and "not PumpSwap" in found[coins["lookalike"]].reason
    assert found[coins["vault"]].status == UNREADABLE and "not a token program" in found[coins["vault"]].reason


async def test_found_pools_are_priced_fifty_to_a_call(solana):
    pools = [FakePool(solana, key_for(f"many-{i}")).create(base=10**14, quote=(50 + i) * 10**9) for i in range(120)]
    async with solana_rpc() as rpc:
        reader = PoolReader(rpc=rpc)
        found = await reader.find({pool.mint: "SOL" for pool in pools})
        assert reader.calls == 6  # 20 coins a call to find them
        priced = await reader.price({mint: reading.vaults for mint, reading in found.items()})
    assert reader.calls == 6 + 3  # then 50 pools a call
    assert [priced[pool.mint].quote_amount for pool in pools] == [(50 + i) * 10**9 for i in range(120)]


async def test_a_graduated_coins_cap_on_the_page_moves_with_its_pool(solana):
    [graduate_launch, curve_launch] = history(2, spacing_s=30)
    solana.add(graduate_launch, curve_launch, notify=False)
    run = await sync_to_async(queue_run)(days=1, upstream="chain")
    await execute_run(run_id=run.pk)

    graduate(solana, graduate_launch)
    pool = FakePool(solana, graduate_launch.mint, virtual_quote=17_584_505_289)
    pool.create(base=300 * 10**12, quote=80 * 10**9)
    socket = board_socket()
    assert (await socket.connect())[0]
    await socket.receive_json_from(timeout=5)  # the latest run, on connect
    async with solana_rpc() as rpc:
        stage = DetailStage(chain=chain_source(rpc), holders=None, metadata=None)
        refresh = LiveRefresh(stage, count=300, pool_count=50, seconds=10)
        await refresh.refresh_once()  # the curve says graduated: its pool is found and priced at once
        row = await _row_of(socket, graduate_launch.mint)
        price = pool.price(base=300 * 10**12, quote=80 * 10**9)
        assert row["complete"] is True and row["pool_status"] == "priced"
        assert row["usd_market_cap"] == pytest.approx(price * 10**9 * SOL_USD, rel=1e-6)
        stored = (await stored_tokens())[graduate_launch.mint]
        assert stored.pool == pool.address and stored.pool_base_vault == pool.base_vault
        assert stored.liquidity_sol == pytest.approx(160.0) and stored.liquidity_usd == pytest.approx(160 * SOL_USD)
        assert stored.price_usd == pytest.approx(price * SOL_USD, rel=1e-6) and stored.token_supply == 10**15
        assert stored.pool_virtual_quote == 17_584_505_289 and price > 80 / 300_000_000  # it counts in the price

        pool.set_reserves(base=250 * 10**12, quote=96 * 10**9)  # someone bought in the pool
        calls = solana.method_calls["getMultipleAccounts"]
        await refresh.refresh_once()
        row = await _row_of(socket, graduate_launch.mint)
        moved = pool.price(base=250 * 10**12, quote=96 * 10**9)
        assert row["usd_market_cap"] == pytest.approx(moved * 10**9 * SOL_USD, rel=1e-6)
        # One call for the curve still on it, one for the found pool's two vaults (the price was fresh).
        assert solana.method_calls["getMultipleAccounts"] - calls <= 2
    await socket.disconnect()


async def test_a_graduated_coin_whose_pool_cannot_be_read_says_so_and_shows_no_price(solana):
    [launch] = history(1)
    solana.add(launch, notify=False)
    graduate(solana, launch)
    pool = FakePool(solana, launch.mint).create(base=10**14, quote=10**11)
    solana.owners[pool.address] = METEORA_DAMM_V2
    run = await sync_to_async(queue_run)(days=1, upstream="chain")
    await execute_run(run_id=run.pk)  # the curve read during the run says graduated

    stored = (await stored_tokens())[launch.mint]
    assert stored.complete and stored.pool_status == "unreadable" and stored.pool == ""
    assert stored.usd_market_cap is None and stored.market_cap_sol is None and stored.liquidity_sol is None


async def _row_of(socket, mint: str) -> dict:
    while True:
        message = await socket.receive_json_from(timeout=5)
        for row in message.get("tokens", []) if message["type"] == "update" else []:
            if row["mint"] == mint and "usd_market_cap" in row["changed"]:
                return row
