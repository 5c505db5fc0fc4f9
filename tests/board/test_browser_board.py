"""The board a trader reads in a real browser: a view in the URL, a table that does not jump, counts
that agree, a live run history, a token drawer by mouse, keyboard and phone.

Saves artifacts/board-filters.png, artifacts/board-drawer.png, artifacts/phone.png and
artifacts/phone-drawer.png.
"""

import csv
import io
import re

import pytest
from playwright.sync_api import Page

from tests.board.test_browser import (  # noqa: F401 (the module's Chromium fixture)
    ARTIFACTS,
    board,
    board_mints,
    browser,
    local_context,
    press_load,
    watch_until_finished,
    window_with,
)
from tests.fakes.coins import make_coin, now_ms
from tests.fakes.http import Reply
from tests.live import serve_app, server_env

pytestmark = pytest.mark.browser
LONG_NAME = "A very long token name that a launcher chose to push every other column of the table aside " * 2


def trader_history(count: int) -> list[dict]:
    """Launches a minute apart with spread market caps, a few graduated, some with socials, one with a
    name long enough to stretch a column."""
    newest = now_ms() - 2_000
    coins = []
    for i in range(count):
        extra = {"usd_market_cap": float(1_000 * ((i * 37) % count + 1))}
        if i % 9 == 4:
            extra["complete"] = True
        if i % 5 == 0:
            extra["twitter"] = f"https://x.com/coin{i}"
        if i == 7:
            extra["name"] = LONG_NAME
        coins.append(make_coin(i, created_ms=newest - i * 60_000, **extra))
    return coins


def widths(page: Page) -> list[float]:
    return page.eval_on_selector_all(
        "#token-table thead th", "cells => cells.map(c => c.getBoundingClientRect().width)"
    )


def assert_same_widths(before: list[float], after: list[float]) -> None:
    assert len(before) == len(after) and all(abs(a - b) <= 2 for a, b in zip(before, after, strict=True)), (
        before,
        after,
    )


def view_loaded(page: Page, action) -> None:
    """Do what changes the view, then wait for the server's rows for it."""
    loaded = page.evaluate("window.boardViewLoaded || 0")
    action()
    page.wait_for_function(f"(window.boardViewLoaded || 0) > {loaded}")


def visible_broken_images(page: Page) -> int:
    return page.evaluate(
        "[...document.querySelectorAll('#token-rows img.token-image')]"
        ".filter(i => !i.hidden && i.complete && i.naturalWidth === 0 && i.getAttribute('src')).length"
    )


def test_columns_keep_their_width_through_batches_sort_and_filter_and_no_image_breaks(board, upstream):
    coins = trader_history(60)
    window_with(upstream, coins)
    empty = widths(board)
    press_load(board, batch_size=10)
    board.wait_for_function("window.boardRowCount >= 10")
    assert_same_widths(empty, widths(board))
    watch_until_finished(board)
    board.wait_for_function("window.boardRowCount === 60")
    assert_same_widths(empty, widths(board))
    view_loaded(board, lambda: board.click('button.sort[data-sort="usd_market_cap"]'))
    assert_same_widths(empty, widths(board))
    view_loaded(board, lambda: board.fill("#quick-filter", "Coin 1"))
    assert_same_widths(empty, widths(board))
    # Every image link here is dead (nothing outside loopback answers): none shows a broken icon,
    # after a sort and a filter too.
    board.wait_for_timeout(300)
    assert visible_broken_images(board) == 0
    view_loaded(board, lambda: board.fill("#quick-filter", ""))
    view_loaded(board, lambda: board.click('button.sort[data-sort="created"]'))
    board.wait_for_timeout(300)
    assert visible_broken_images(board) == 0
    # Numbers sit under right-aligned headings.
    aligns = board.eval_on_selector_all(
        "#token-table th.col-num, #token-rows tr:first-child td.col-num",
        "cells => cells.map(c => getComputedStyle(c).textAlign)",
    )
    assert set(aligns) == {"right"}


def test_a_view_lives_in_the_url_survives_a_reload_and_downloads_as_csv(board, upstream, server):
    coins = trader_history(45)
    window_with(upstream, coins)
    press_load(board, batch_size=15)
    watch_until_finished(board)
    board.wait_for_function("window.boardRowCount === 45")

    view_loaded(board, lambda: board.fill('input[name="min_usd_market_cap"]', "20000"))
    view_loaded(board, lambda: board.check('input[name="socials"]'))
    view_loaded(board, lambda: board.click('button.sort[data-sort="usd_market_cap"]'))
    expected = sorted(
        (c for c in coins if c["usd_market_cap"] >= 20_000 and c.get("twitter")), key=lambda c: -c["usd_market_cap"]
    )
    assert board_mints(board) == [c["mint"] for c in expected] and len(expected) >= 2
    url = board.url
    assert "min_usd_market_cap=20000" in url and "socials=1" in url and "sort=-usd_market_cap" in url
    before = board_mints(board)

    board.reload()
    board.wait_for_function("window.boardConnected === true")
    assert board.url == url
    assert board.input_value('input[name="min_usd_market_cap"]') == "20000"
    assert board.is_checked('input[name="socials"]')
    assert board.get_attribute('button.sort[data-sort="usd_market_cap"] >> xpath=..', "aria-sort") == "descending"
    assert board_mints(board) == before

    # Stages: graduated only, then "about to graduate" (none of these coins is past 80 % on its curve).
    view_loaded(board, lambda: board.click('label.stage:has(input[value="graduated"])'))
    graduated = [c["mint"] for c in expected if c["complete"]]
    assert board_mints(board) == graduated and "stage=graduated" in board.url
    ARTIFACTS.mkdir(exist_ok=True)
    board.screenshot(path=str(ARTIFACTS / "board-filters.png"))
    view_loaded(board, lambda: board.click('label.stage:has(input[value=""])'))

    href = board.get_attribute("#download-csv", "href")
    assert "format=csv" in href and "min_usd_market_cap=20000" in href and "socials=1" in href
    text = board.evaluate("url => fetch(url).then(r => r.text())", href)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["mint"] for row in rows] == before

    # A bad number is named on the page and the view stays as it was.
    board.fill('input[name="min_holders"]', "٧")
    board.wait_for_function("!document.getElementById('view-error').hidden")
    assert "whole number" in board.inner_text("#view-error")
    assert board_mints(board) == before


def test_presets_are_saved_in_the_browser_and_reapplied(board, upstream):
    coins = trader_history(20)
    window_with(upstream, coins)
    press_load(board)
    watch_until_finished(board)
    view_loaded(board, lambda: board.select_option("#filter-age", "5m"))
    board.fill("#preset-name", "fresh")
    board.click("#preset-save")
    view_loaded(board, lambda: board.click("#reset-view"))
    assert "max_age" not in board.url
    view_loaded(board, lambda: board.select_option("#preset-select", "fresh"))
    assert "max_age=5m" in board.url and board.input_value("#filter-age") == "5m"
    fresh = [c["mint"] for c in coins if c["created_timestamp"] >= now_ms() - 300_000]
    assert set(board_mints(board)) == set(fresh) and 0 < len(fresh) < 20


def test_counts_run_history_and_reload_agree_with_what_was_stored(board, upstream):
    coins = trader_history(50)
    window_with(upstream, coins)
    upstream.max_limit = 10  # pages of 10 at the server's 4 requests a second: the count rises in steps
    assert board.inner_text("#stored-count") == "0"
    press_load(board, batch_size=10)
    board.wait_for_function("document.querySelector('#run-history tbody tr[data-run]') !== null")
    run_id = board.get_attribute("#run-history tbody tr[data-run]", "data-run")
    seen_counts = set()
    while "succeeded" not in board.inner_text("#run-status"):
        seen_counts.add(board.inner_text("#stored-count"))
        board.wait_for_timeout(30)
    board.wait_for_function("document.getElementById('stored-count').textContent === '50'")
    assert len(seen_counts - {"0", "50"}) >= 1  # the count rose while the load ran
    history = board.locator(f"#run-row-{run_id}")
    board.wait_for_function(
        f"document.querySelector('#run-row-{run_id} [data-field=status]').textContent === 'succeeded'"
    )
    assert history.locator('[data-field="processed"]').inner_text() == "50"
    assert history.locator('[data-field="accepted"]').inner_text() == "50"
    assert history.locator('[data-field="source"]').inner_text() == "Recent launches"
    live = board_mints(board)
    api = board.evaluate("fetch('/api/tokens/?limit=500').then(r => r.json())")
    assert api["count"] == 50 and [t["mint"] for t in api["tokens"]] == live
    board.reload()
    board.wait_for_function("window.boardConnected === true")
    assert board_mints(board) == live
    assert board.inner_text("#stored-count") == "50" and board.inner_text("#row-count") == "50 shown"


def test_the_drawer_opens_by_keyboard_with_the_whole_token(board, upstream):
    coins = trader_history(12)
    coins[0]["description"] = "<script>alert(1)</script> the whole description"
    coins[0]["website"] = "javascript:alert(2)"
    coins[0]["telegram"] = "https://t.me/coin0"
    window_with(upstream, coins)
    press_load(board)
    watch_until_finished(board)
    board.wait_for_function("window.boardRowCount === 12")
    first = board.locator(f"#token-{coins[0]['mint']}")
    first.focus()
    board.keyboard.press("Enter")
    board.wait_for_function(f"window.boardDrawerLoaded === '{coins[0]['mint']}'")
    drawer = board.locator("#token-drawer")
    assert drawer.is_visible()
    assert board.inner_text("#drawer-description") == "<script>alert(1)</script> the whole description"
    assert board.inner_text("#drawer-mint") == coins[0]["mint"]
    assert board.get_attribute("#drawer-creator", "href") == f"https://solscan.io/account/{coins[0]['creator']}"
    assert board.get_attribute("#drawer-telegram", "href") == "https://t.me/coin0"
    assert board.locator("#drawer-website").is_hidden()
    assert board.get_attribute("#drawer-pumpfun", "href") == f"https://pump.fun/coin/{coins[0]['mint']}"
    ARTIFACTS.mkdir(exist_ok=True)
    board.screenshot(path=str(ARTIFACTS / "board-drawer.png"))
    board.keyboard.press("Escape")
    board.wait_for_function("!document.getElementById('token-drawer').open")
    assert board.evaluate("document.activeElement.dataset.mint") == coins[0]["mint"]  # focus back on its row


def test_a_phone_opens_a_token_and_copies_its_mint(board, browser, server, upstream):
    coins = trader_history(30)
    window_with(upstream, coins)
    press_load(board)
    watch_until_finished(board)
    context = local_context(
        browser, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
        permissions=["clipboard-read", "clipboard-write"],
    )  # fmt: skip
    phone = context.new_page()
    phone.on("pageerror", lambda error: pytest.fail(f"the page's script failed: {error}"))
    phone.goto(f"http://{server}/")
    phone.wait_for_function("window.boardConnected === true && window.boardRowCount === 30")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert phone.locator('input[name="min_holders"]').is_hidden()  # the extra filters fold away...
    phone.tap("#filters-toggle")
    assert phone.locator('input[name="min_holders"]').is_visible()  # ...and open on a tap
    phone.tap("#filters-toggle")
    ARTIFACTS.mkdir(exist_ok=True)
    phone.screenshot(path=str(ARTIFACTS / "phone.png"))
    phone.tap(f"#token-{coins[2]['mint']} .token-names")
    phone.wait_for_function(f"window.boardDrawerLoaded === '{coins[2]['mint']}'")
    phone.tap("#drawer-copy-mint")
    phone.wait_for_function("document.getElementById('drawer-copy-mint').textContent === 'copied'")
    assert phone.evaluate("navigator.clipboard.readText()") == coins[2]["mint"]
    assert phone.locator("#drawer-pumpfun").is_visible()
    box = phone.locator("#drawer-copy-mint").bounding_box()
    assert box["height"] >= 28 and box["width"] >= 44  # a finger's target
    phone.screenshot(path=str(ARTIFACTS / "phone-drawer.png"))
    context.close()


@pytest.fixture
def feed_server(tmp_path, upstream):
    """`make run`'s server: the always-on feed inside the web process."""
    env = server_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'feed.sqlite3'}", STATIC_ROOT=str(tmp_path / "static"),
        PUMPFUN_API_URL=upstream.url, FOLLOW_LAUNCHES="web", FOLLOW_BACKFILL_MINUTES="30",
    )  # fmt: skip
    with serve_app(env) as host:
        yield host


def test_new_launches_reach_an_anonymous_reader_without_anyone_starting_a_run(browser, feed_server, upstream):
    now = now_ms()
    upstream.coins = [make_coin(i, created_ms=now - 60_000 * (i + 1)) for i in range(4)]
    context = local_context(browser, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("pageerror", lambda error: pytest.fail(f"the page's script failed: {error}"))
    page.goto(f"http://{feed_server}/")
    page.wait_for_function("window.boardConnected === true")
    page.wait_for_function("window.boardRowCount === 4", timeout=30_000)  # the feed's last half hour
    later = [make_coin(900 + i, created_ms=now_ms() + i) for i in range(2)]
    upstream.add_launches(later)
    page.wait_for_function("window.boardRowCount === 6", timeout=30_000)
    assert board_mints(page)[:2] == [later[1]["mint"], later[0]["mint"]]
    assert "following new launches" in page.inner_text("#run-status")
    assert page.inner_text("#stored-count") == "6"
    context.close()


def test_retries_show_while_they_happen_and_a_failed_run_stops_the_bar(board, upstream):
    window_with(upstream, trader_history(10))
    upstream.fault_plan = lambda n: Reply(503, {"message": "Service Unavailable"}) if n <= 2 else None
    press_load(board)
    board.wait_for_function("!document.getElementById('run-retry').hidden", timeout=20_000)
    text = board.inner_text("#run-retry")
    assert re.fullmatch(r"retrying pump\.fun at offset 0 \([23]/6\), next in \d+ s: answered HTTP 503", text), text
    watch_until_finished(board)
    assert board.locator("#run-retry").is_hidden()  # the next batch cleared it
    board.wait_for_function("window.boardRowCount === 10")

    upstream.fault_plan = lambda n: Reply(503, {"message": "Service Unavailable"})
    press_load(board)
    board.wait_for_function("document.getElementById('run-status').textContent.includes('failed')", timeout=60_000)
    error = board.inner_text("#run-error")
    assert (
        error
        == f"pump.fun at offset 0: answered HTTP 503 (gave up after 6 attempts); PUMPFUN_API_URL is {upstream.url}"
    )
    assert board.evaluate("document.getElementById('progress-bar').hasAttribute('value')")  # not animating
    assert board.locator("#run-retry").is_hidden()
