"""Trades on the page, in a real browser: `make run`'s server (the feed inside the web process)
follows a fake pump program over a real websocket; a view sorted by volume re-sorts as trades
arrive, a developer-sold filter drops a row when its developer sells, the drawer charts the candles.

Saves artifacts/board-trades.png and artifacts/drawer-chart.png.
"""

import sqlite3
import time

import pytest

from tests.board.test_browser import ARTIFACTS, board_mints, browser, local_context  # noqa: F401
from tests.fakes.chain import FakeSolana, Launch, key_for, signature_for
from tests.fakes.pools import FakePool, migration_event_payload
from tests.fakes.trades import Curve, TradeTx, complete_event_payload
from tests.live import serve_app, server_env
from tokens.templatetags.board import compact_usd

pytestmark = pytest.mark.browser


@pytest.fixture
def chain():
    fake = FakeSolana().start()
    fake.follow_program = True
    yield fake
    fake.stop()


@pytest.fixture
def trading_server(tmp_path, chain):
    env = server_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'trades.sqlite3'}", STATIC_ROOT=str(tmp_path / "static"),
        SOLANA_RPC_URL=chain.url + "/?api-key=test", SOLANA_WS_URL=chain.ws_url, FOLLOW_LAUNCHES="web",
        FOLLOW_BACKFILL_MINUTES="30", TRADE_FLUSH_SECONDS="0.3", FETCH_METADATA="false", COUNT_HOLDERS="false",
    )  # fmt: skip
    with serve_app(env) as host:
        yield host


def open_board(browser, host: str, query: str = ""):
    context = local_context(browser, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.on("pageerror", lambda error: pytest.fail(f"the page's script failed: {error}"))
    page.goto(f"http://{host}/{query}")
    page.wait_for_function("window.boardConnected === true")
    return context, page


def test_volume_sort_dev_sold_filter_and_the_chart_follow_the_trades(browser, chain, trading_server):
    deadline = time.monotonic() + 30
    while len(chain.subscribers) < 2:  # the launch tail and the trade stream, both listening
        assert time.monotonic() < deadline, "the feed did not subscribe"
        time.sleep(0.05)
    now = int(time.time())
    coins = [Launch(index=700 + i, block_time=now - 60 * (i + 1)) for i in range(3)]
    chain.add(*coins)  # the stream sees each create and its developer's first buy
    curves = {coin.mint: Curve(mint=coin.mint, creator=coin.creator) for coin in coins}
    for coin in coins:
        curves[coin.mint].buy(coin.creator, 10**9, at=coin.block_time)  # the create's own first buy
    by_volume_context, by_volume = open_board(browser, trading_server, "?sort=-volume_5m")
    by_volume.wait_for_function("window.boardRowCount === 3", timeout=30_000)
    not_sold_context, not_sold = open_board(browser, trading_server, "?dev_sold=no")
    not_sold.wait_for_function("window.boardRowCount === 3", timeout=30_000)

    def trade(label: str, coin: Launch, wallet: str, sol: float, *, sell: bool = False) -> None:
        curve, at = curves[coin.mint], int(time.time())
        made = (
            curve.sell(wallet, curve.trades[0].token_amount // 2, at=at)
            if sell
            else curve.buy(wallet, int(sol * 10**9), at=at)
        )
        chain.add_trades(TradeTx(signature=signature_for(f"browser-{label}"), block_time=at, trades=[made]))

    trade("one", coins[2], key_for("whale-1"), 2.0)
    by_volume.wait_for_function(f"document.querySelector('#token-rows tr').dataset.mint === '{coins[2].mint}'",
                                timeout=20_000)  # fmt: skip
    trade("two", coins[1], key_for("whale-2"), 5.0)
    by_volume.wait_for_function(f"document.querySelector('#token-rows tr').dataset.mint === '{coins[1].mint}'",
                                timeout=20_000)  # fmt: skip
    assert board_mints(by_volume)[:2] == [coins[1].mint, coins[2].mint]  # re-sorted live, no reload
    volume = by_volume.inner_text(f"#token-{coins[1].mint} [data-field='volume_5m_usd']")
    assert volume == "$900"  # the developer's 1 SOL in the create (the stream saw it) and 5 SOL, at $150
    assert by_volume.inner_text(f"#token-{coins[1].mint} [data-field='buys_sells_5m']") == "2/0"
    by_volume.screenshot(path=str(ARTIFACTS / "board-trades.png"))

    trade("dev-sells", coins[0], coins[0].creator, 0, sell=True)  # the developer sells half
    not_sold.wait_for_function("window.boardRowCount === 2", timeout=20_000)
    assert coins[0].mint not in board_mints(not_sold)
    dev_cell = f"#token-{coins[0].mint} [data-field='dev_holding_pct']"
    by_volume.wait_for_function(f"document.querySelector(\"{dev_cell}\").textContent.endsWith('sold')")

    by_volume.click(f"#token-{coins[1].mint} .token-name")
    by_volume.wait_for_function("(window.boardChartCandles || 0) >= 1", timeout=20_000)
    assert by_volume.evaluate("window.boardDrawerTrades") == 2
    assert by_volume.locator("#drawer-chart canvas").count() >= 1
    assert "buy" in by_volume.inner_text("#drawer-trade-rows")
    by_volume.screenshot(path=str(ARTIFACTS / "drawer-chart.png"))
    by_volume_context.close()
    not_sold_context.close()


def test_pulse_lanes_follow_stages_and_their_own_filters(browser, chain, trading_server):
    deadline = time.monotonic() + 30
    while len(chain.subscribers) < 2:
        assert time.monotonic() < deadline, "the feed did not subscribe"
        time.sleep(0.05)
    now = int(time.time())
    new, rising, done = (Launch(index=800 + i, block_time=now - 30 * (i + 1)) for i in range(3))
    chain.add(new, rising, done)
    curves = {coin.mint: Curve(mint=coin.mint, creator=coin.creator) for coin in (new, rising, done)}
    for coin in (new, rising, done):
        curves[coin.mint].buy(coin.creator, 10**9, at=coin.block_time)
    context, page = open_board(browser, trading_server, "?layout=pulse&new.max_dev_pct=50")
    page.wait_for_function("document.querySelectorAll('[data-lane=new] .card').length === 3", timeout=30_000)
    assert page.locator("#token-table").is_hidden()

    at = int(time.time())
    big = curves[rising.mint].buy(key_for("whale-r"), 50 * 10**9, at=at)  # past 80 % of the curve
    chain.add_trades(TradeTx(signature=signature_for("pulse-rising"), block_time=at, trades=[big]))
    page.wait_for_function(f"document.querySelector('[data-lane=graduating] #card-{rising.mint}') !== null",
                           timeout=20_000)  # fmt: skip
    last = curves[done.mint].buy(key_for("whale-d"), 85 * 10**9, at=at)
    finish = complete_event_payload(user=key_for("whale-d"), mint=done.mint, bonding_curve=done.bonding_curve,
                                    timestamp=at)  # fmt: skip
    chain.add_trades(TradeTx(signature=signature_for("pulse-done"), block_time=at, trades=[last], completes=[finish]))
    page.wait_for_function(f"document.querySelector('[data-lane=graduated] #card-{done.mint}') !== null",
                           timeout=20_000)  # fmt: skip
    lane_of = page.evaluate(
        "[...document.querySelectorAll('.lane')].map(l => [l.dataset.lane, l.querySelectorAll('.card').length])"
    )
    assert lane_of == [["new", 1], ["graduating", 1], ["graduated", 1]]
    # The New lane's own filter: a developer holding more than 3 % leaves it (each bought 1 SOL: 3.5 %).
    page.fill("[data-lane=new] input[name=max_dev_pct]", "3")
    page.wait_for_function("document.querySelectorAll('[data-lane=new] .card').length === 0", timeout=10_000)
    assert "new.max_dev_pct=3" in page.url and "layout=pulse" in page.url
    page.click(f"#card-{done.mint} .token-name")
    page.wait_for_function("(window.boardChartCandles || 0) >= 1", timeout=20_000)
    page.screenshot(path=str(ARTIFACTS / "pulse.png"))
    context.close()


def test_a_graduated_coin_shows_migrating_then_its_pools_cap_which_moves_with_the_pool(
    browser, chain, trading_server, tmp_path
):
    with sqlite3.connect(tmp_path / "trades.sqlite3") as db:  # the server's live refresh: every 2 s
        db.execute("UPDATE tokens_botsettings SET live_refresh_seconds = 2")
    deadline = time.monotonic() + 30
    while len(chain.subscribers) < 2:
        assert time.monotonic() < deadline, "the feed did not subscribe"
        time.sleep(0.05)
    now = int(time.time())
    coin = Launch(index=900, block_time=now - 30)
    chain.add(coin)
    curve = Curve(mint=coin.mint, creator=coin.creator)
    curve.buy(coin.creator, 10**9, at=coin.block_time)
    context, page = open_board(browser, trading_server)
    page.wait_for_function("window.boardRowCount === 1", timeout=30_000)
    stage, cap = (
        f"#token-{coin.mint} [data-field='bonding_progress']",
        f"#token-{coin.mint} [data-field='usd_market_cap']",
    )

    at = int(time.time())
    last = curve.buy(key_for("whale-g"), 85 * 10**9, at=at)
    finish = complete_event_payload(user=key_for("whale-g"), mint=coin.mint, bonding_curve=coin.bonding_curve,
                                    timestamp=at)  # fmt: skip
    chain.add_trades(TradeTx(signature=signature_for("graduate-900"), block_time=at, trades=[last], completes=[finish]))
    page.wait_for_function(f"document.querySelector(\"{stage}\").textContent === 'migrating'", timeout=20_000)
    assert page.inner_text(cap) == "—"  # the curve's last cap is not the coin's price

    pool = FakePool(chain, coin.mint, virtual_quote=17_584_505_289).create(base=206_900_000_000_000, quote=67 * 10**9)
    moved = migration_event_payload(user=key_for("migrator"), mint=coin.mint, bonding_curve=coin.bonding_curve,
                                    timestamp=at + 1, pool=pool.address)  # fmt: skip
    chain.add_trades(TradeTx(signature=signature_for("migrate-900"), block_time=at + 1, trades=[], completes=[moved]))
    first = compact_usd(pool.price(base=206_900_000_000_000, quote=67 * 10**9) * 10**9 * 150.0)
    page.wait_for_function(f"document.querySelector(\"{cap}\").textContent === '{first}'", timeout=20_000)
    assert page.inner_text(stage) == "graduated"

    pool.set_reserves(base=150_000_000_000_000, quote=120 * 10**9)  # the pool traded up: read by the refresh
    moved_cap = compact_usd(pool.price(base=150_000_000_000_000, quote=120 * 10**9) * 10**9 * 150.0)
    assert moved_cap != first
    page.wait_for_function(f"document.querySelector(\"{cap}\").textContent === '{moved_cap}'", timeout=30_000)
    page.click(f"#token-{coin.mint} .token-name")
    page.wait_for_function("document.querySelector('#drawer-pool').href.includes('/account/')", timeout=10_000)
    assert pool.address in page.get_attribute("#drawer-pool", "href")
    assert "priced from its PumpSwap pool" in page.inner_text("#drawer-pool-note")
    page.screenshot(path=str(ARTIFACTS / "graduated-pool.png"))
    context.close()
