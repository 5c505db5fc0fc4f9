"""Details in a real browser: a chain load shows its rows first, then fills holder counts, images
and market caps in place; a table sorted by holders re-sorts as counts arrive, without moving the
reader's focus. Saves artifacts/board-details.png."""

import pytest
from playwright.sync_api import Page

from tests.board.test_browser import ARTIFACTS, board_mints, browser, local_context, log_in  # noqa: F401 (the module's Chromium fixture)
from tests.fakes.chain import FakeSolana, history
from tests.fakes.metadata import FakeGateway
from tests.live import serve_app, server_env

pytestmark = pytest.mark.browser
COUNT = 40


@pytest.fixture
def chain_server(tmp_path):
    solana = FakeSolana().start()
    solana.holder_latency = 0.05
    gateway = FakeGateway().start()
    launches = history(COUNT, spacing_s=60)
    solana.add(*launches, notify=False)
    for index, launch in enumerate(launches):
        # Holder counts in an order unrelated to the launch order.
        solana.accounts_by_mint[launch.mint] = [(f"owner-{n}", 1) for n in range((index * 7) % 23 + 1)]
    env = server_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'details.sqlite3'}", STATIC_ROOT=str(tmp_path / "static"),
        SOLANA_RPC_URL=solana.url, SOLANA_WS_URL=solana.ws_url, IPFS_GATEWAY=gateway.url + "/ipfs/",
        METADATA_ALLOW_PRIVATE_HOSTS="true", SOLANA_RPC_REQUESTS_PER_SECOND="15", PUMPFUN_API_URL="http://127.0.0.1:9",
    )  # fmt: skip
    try:
        with serve_app(env) as host:
            yield host, launches
    finally:
        solana.stop()
        gateway.stop()


def holder_cells(page: Page) -> list[str]:
    return page.eval_on_selector_all('#token-rows [data-field="holders"]', "cells => cells.map(c => c.textContent)")


def test_a_table_sorted_by_holders_resorts_as_counts_arrive(browser, chain_server):
    host, _ = chain_server
    page = log_in(local_context(browser, viewport={"width": 1400, "height": 900}).new_page(), host)
    page.click('button.sort[data-sort="holders"]')  # sorted by holders, most first
    page.fill('input[name="days"]', "1")
    page.fill('input[name="batch_size"]', "20")
    page.select_option('select[name="source"]', "recent")
    page.select_option('select[name="upstream"]', "chain")
    page.click("#load-button")

    # The rows come first, with their counts unknown.
    page.wait_for_function(f"window.boardRowCount === {COUNT}", timeout=30_000)
    assert "—" in holder_cells(page)
    page.focus("#quick-filter")
    saw_flash = False
    for _ in range(600):
        saw_flash = saw_flash or page.evaluate("document.querySelector('#token-rows td.changed') !== null")
        if "—" not in holder_cells(page):
            break
        page.wait_for_timeout(50)
    counts = [int(text) for text in holder_cells(page)]
    assert sorted(counts, reverse=True) == counts  # re-sorted by the counts that arrived
    expected = sorted(((i * 7) % 23 + 1 for i in range(COUNT)), reverse=True)
    assert counts == expected
    assert saw_flash  # changed cells are marked for a moment
    assert page.evaluate("document.activeElement.id") == "quick-filter"  # the reader kept their place
    page.wait_for_function("document.querySelector('#token-rows [data-field=\"usd_market_cap\"]').textContent !== '—'")
    stored = page.evaluate("fetch('/api/tokens/?limit=50').then(r => r.json())")["tokens"]
    assert len(stored) == COUNT and all(token["image_uri"].startswith("http://127.0.0.1:") for token in stored)
    # The fake gateway's "images" are JSON: no broken-image icon stays on the board.
    broken = (
        "[...document.querySelectorAll('#token-rows img.token-image')]"
        ".filter(i => !i.hidden && i.complete && i.naturalWidth === 0 && i.getAttribute('src')).length"
    )
    page.wait_for_function(f"{broken} === 0")
    page.wait_for_function("document.getElementById('run-status').textContent.includes('succeeded')", timeout=30_000)
    # Holders and metadata for each of the 40; a curve read after storing for the first batch's 20 only
    # (the second page came with its curves).
    assert "details 100 of 100" in page.inner_text("#progress-text")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "board-details.png"))


def test_a_view_filtered_on_market_cap_gains_rows_live_as_their_caps_arrive(browser, chain_server):
    host, launches = chain_server
    page = log_in(local_context(browser, viewport={"width": 1400, "height": 900}).new_page(), host)
    page.goto(f"http://{host}/?min_usd_market_cap=1000")  # every chain row arrives with its cap unknown
    page.wait_for_function("window.boardConnected === true")
    page.fill('input[name="days"]', "1")
    page.fill('input[name="batch_size"]', "20")
    page.select_option('select[name="source"]', "recent")
    page.select_option('select[name="upstream"]', "chain")
    page.click("#load-button")
    # Batches come without caps: none of them is in this view yet...
    page.wait_for_function("document.getElementById('stored-count').textContent !== '0'", timeout=30_000)
    # ...then each curve's state arrives in an update that carries the whole row, and the row joins.
    page.wait_for_function(f"window.boardRowCount === {COUNT}", timeout=60_000)
    shown = set(board_mints(page))
    assert shown == {launch.mint for launch in launches}
    # What a reload of the same view would show, and the live stored count is the board's.
    api = page.evaluate("fetch('/api/tokens/?min_usd_market_cap=1000&limit=500').then(r => r.json())")
    assert {token["mint"] for token in api["tokens"]} == shown
    assert page.inner_text("#stored-count") == str(COUNT)
