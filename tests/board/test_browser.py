"""The board in a real browser (Debian's Chromium, driven by Playwright) against a real Daphne.

Each test presses Load (or watches a load) the way a trader would, and reads what the page shows.
The finished board is saved as artifacts/board.png, and at 360 px as artifacts/board-360.png.
"""

import json
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright

from tests.fakes.coins import make_coin, make_history, now_ms
from tests.live import PASSWORD

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"
# Without the background-networking switches Chromium tries to reach Google at start, which the
# machines here refuse.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]  # fmt: skip


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make install` installs Debian's chromium package")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


# Token images and links point anywhere; a test page reaches only loopback (the rest fails at once,
# as a dead image link does).
NOT_LOOPBACK = re.compile(r"^(?!(https?|wss?)://127\.0\.0\.1[:/])[a-z]+://")


def local_context(browser, *, enforce_csp: bool = False, **options) -> BrowserContext:
    # Playwright's wait_for_function evaluates strings, which the page's CSP forbids; the page's own
    # scripts run under the CSP in test_the_page_runs_under_its_content_security_policy.
    context = browser.new_context(bypass_csp=not enforce_csp, **options)
    context.route(NOT_LOOPBACK, lambda route: route.abort())
    return context


@pytest.fixture
def board(browser, server) -> Page:
    """A staff member's board, logged in."""
    context = local_context(browser, viewport={"width": 1280, "height": 900})
    page = log_in(context.new_page(), server)
    yield page
    context.close()


def log_in(page: Page, host: str) -> Page:
    """Log in as the staff user `ops` and wait for the board's websocket."""
    page.on("dialog", lambda dialog: pytest.fail(f"the page opened a dialog: {dialog.message}"))
    page.on("pageerror", lambda error: pytest.fail(f"the page's script failed: {error}"))
    page.goto(f"http://{host}/admin/login/?next=/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"http://{host}/")
    page.wait_for_function("window.boardConnected === true")
    return page


def window_with(upstream, coins):
    now = now_ms()
    upstream.coins = [*coins, *(make_coin(5_000 + i, created_ms=now - 3 * 86_400_000 - i) for i in range(60))]


def press_load(page: Page, *, batch_size: int = 20) -> None:
    page.fill('input[name="days"]', "1")
    page.fill('input[name="batch_size"]', str(batch_size))
    page.select_option('select[name="source"]', "recent")
    page.click("#load-button")


def watch_until_finished(page: Page, timeout: float = 60) -> list[tuple[int, str]]:
    """(rows on the board, progress bar value) every 25 ms until the run says succeeded."""
    samples = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = page.evaluate("window.boardRowCount || 0")
        samples.append((rows, page.evaluate("document.getElementById('progress-bar').dataset.percent || ''")))
        if "succeeded" in page.inner_text("#run-status"):
            return samples
        page.wait_for_timeout(25)
    raise AssertionError(f"the run did not finish; last status {page.inner_text('#run-status')!r}")


def board_mints(page: Page) -> list[str]:
    return page.eval_on_selector_all("#token-rows tr", "rows => rows.map(r => r.dataset.mint)")


def test_rows_arrive_in_steps_while_the_progress_bar_moves_to_100(board, upstream):
    # Launches spread over the whole day, as on pump.fun, so that the estimate of the total holds.
    expected = make_history(300, newest_ms=now_ms() - 1_000, spacing_ms=280_000)
    window_with(upstream, expected)
    press_load(board)
    samples = watch_until_finished(board)

    row_counts = [rows for rows, _ in samples]
    steps = sorted(set(row_counts))
    # At least one count between none and the end, sampled every 25 ms while batches land (a busy
    # machine once let a sample see only [0, 20, 140]: 3 counts, still batch by batch).
    assert len(steps) >= 3, f"rows should arrive batch by batch, saw {steps}"
    assert row_counts == sorted(row_counts)  # never fewer rows than a moment ago
    percents = [float(p) for _, p in samples if p]
    assert len(set(percents)) >= 3 and percents == sorted(percents)
    board.wait_for_function("document.getElementById('progress-bar').dataset.percent === '100'")
    board.wait_for_function("window.boardRowCount === 300")
    mints = board_mints(board)
    assert len(mints) == len(set(mints)) == 300 and set(mints) == {c["mint"] for c in expected}
    assert mints[0] == expected[0]["mint"]  # newest first
    assert "300 processed" in board.inner_text("#progress-text")
    ARTIFACTS.mkdir(exist_ok=True)
    board.screenshot(path=str(ARTIFACTS / "board.png"), full_page=False)


def test_a_dropped_websocket_still_ends_with_every_token_once(board, upstream):
    expected = make_history(300, newest_ms=now_ms() - 1_000, spacing_ms=10_000)
    window_with(upstream, expected)
    press_load(board)
    board.wait_for_function("window.boardRowCount > 0")
    board.evaluate("window.boardSocket.close()")  # the network drops; the page reconnects by itself
    board.wait_for_function("window.boardConnected === false")
    watch_until_finished(board)
    board.wait_for_function("window.boardRowCount === 300", timeout=20_000)
    mints = board_mints(board)
    assert len(mints) == len(set(mints)) == 300 and set(mints) == {c["mint"] for c in expected}


def test_hostile_names_are_text_and_javascript_links_never_reach_the_page(board, upstream):
    now = now_ms()
    hostile = [
        make_coin(1, created_ms=now - 1_000, name='<img src=x onerror="alert(1)">', symbol="<b>XSS</b>",
                  website="javascript:alert(document.cookie)", twitter="https://x.com/real",
                  telegram="JaVaScRiPt:alert(2)", image_uri="javascript:alert(3)"),
        make_coin(2, created_ms=now - 2_000, name="\u202egnp.exe", description="<script>alert(4)</script>"),
    ]  # fmt: skip
    window_with(upstream, hostile)
    press_load(board)
    watch_until_finished(board)
    board.wait_for_function("window.boardRowCount === 2")
    first = board.locator(f"#token-{hostile[0]['mint']}")
    assert first.locator('[data-field="name"]').inner_text() == '<img src=x onerror="alert(1)">'
    assert first.locator('[data-field="symbol"]').inner_text() == "<b>XSS</b>"
    assert board.locator("#token-rows img[onerror], #token-rows b, #token-rows script").count() == 0
    hrefs = board.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
    assert not [href for href in hrefs if href.strip().lower().startswith("javascript:")]
    assert first.locator('[data-link="twitter"]').get_attribute("href") == "https://x.com/real"
    assert first.locator('[data-link="website"]').is_hidden()
    # Bidi overrides are stripped before storage, so the name cannot masquerade as another one.
    assert board.locator(f"#token-{hostile[1]['mint']} [data-field='name']").inner_text() == "gnp.exe"


def test_sort_filter_and_pause_work_from_the_keyboard(board, upstream):
    coins = make_history(40, newest_ms=now_ms() - 1_000, spacing_ms=10_000)
    coins[17]["usd_market_cap"] = 9_999_999.0
    coins[5]["name"] = "Needle Coin"
    window_with(upstream, coins)
    press_load(board)
    watch_until_finished(board)
    board.wait_for_function("window.boardRowCount === 40")

    board.focus('button.sort[data-sort="usd_market_cap"]')
    board.keyboard.press("Enter")
    assert board_mints(board)[0] == coins[17]["mint"]
    assert board.get_attribute('button.sort[data-sort="usd_market_cap"] >> xpath=..', "aria-sort") == "descending"
    assert board.locator("#token-rows tr").first.locator('[data-field="usd_market_cap"]').inner_text() == "$10.0M"

    loaded = board.evaluate("window.boardViewLoaded || 0")
    board.fill("#quick-filter", "needle")
    board.wait_for_function(f"(window.boardViewLoaded || 0) > {loaded}")
    assert board_mints(board) == [coins[5]["mint"]]
    assert board.inner_text("#row-count") == "1 shown" and board.inner_text("#stored-count") == "40"
    assert "q=needle" in board.url and "sort=-usd_market_cap" in board.url
    loaded = board.evaluate("window.boardViewLoaded || 0")
    board.fill("#quick-filter", "")
    board.wait_for_function(f"(window.boardViewLoaded || 0) > {loaded} && window.boardRowCount === 40")

    board.focus("#pause-button")
    board.keyboard.press("Enter")
    assert board.get_attribute("#pause-button", "aria-pressed") == "true"
    later = [make_coin(900 + i, created_ms=now_ms() - 500 - i) for i in range(5)]
    upstream.add_launches(later)
    press_load(board)  # a new load while paused: its rows wait
    watch_until_finished(board)
    board.wait_for_function("document.getElementById('buffered').textContent.includes('new while paused')")
    # The re-run delivered all 45 again: only the 5 the board does not show are new.
    assert board.inner_text("#buffered") == "5 new while paused"
    assert board.evaluate("window.boardRowCount") == 40
    board.click("#pause-button")
    board.wait_for_function("window.boardRowCount === 45")


def test_the_board_is_usable_at_360_pixels(browser, server, upstream):
    context = local_context(browser, viewport={"width": 360, "height": 740})
    page = context.new_page()
    page.goto(f"http://{server}/")
    page.wait_for_function("window.boardConnected === true")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page.locator("#quick-filter").is_visible() and page.locator("#pause-button").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "board-360.png"), full_page=True)
    context.close()


def test_an_empty_board_says_what_to_do(browser, server):
    context = local_context(browser)
    page = context.new_page()
    page.goto(f"http://{server}/")
    assert re.search(r"No tokens stored yet", page.inner_text("#empty-state"))
    assert page.locator("#empty-state").is_visible()
    context.close()


def test_a_tail_after_the_backfill_shows_later_launches_once(board, upstream, server):
    backfill = make_history(30, newest_ms=now_ms() - 1_000, spacing_ms=60_000)
    window_with(upstream, backfill)
    board.fill('input[name="days"]', "1")
    board.fill('input[name="batch_size"]', "10")
    board.select_option('select[name="source"]', "recent")
    board.check('input[name="follow"]')
    board.click("#load-button")
    board.wait_for_function("document.getElementById('run-status').textContent.includes('following new launches')")
    assert board.evaluate("window.boardRowCount") == 30
    later = [make_coin(700 + i, created_ms=now_ms() + i) for i in range(3)]
    upstream.add_launches(later)
    board.wait_for_function("window.boardRowCount === 33", timeout=30_000)
    mints = board_mints(board)
    assert mints[:3] == [coin["mint"] for coin in reversed(later)]  # newest first, at the top
    assert len(mints) == len(set(mints)) == 33
    board.click("#cancel-run")  # "Stop following"
    board.wait_for_function("document.getElementById('run-status').textContent.includes('succeeded')")


def test_the_page_runs_under_its_content_security_policy(browser, server, upstream):
    context = local_context(browser, enforce_csp=True)
    page = context.new_page()
    violations = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None,
    )
    page.on("pageerror", lambda error: violations.append(str(error)))
    page.goto(f"http://{server}/")
    deadline = time.monotonic() + 15
    while not page.evaluate("window.boardConnected === true"):
        assert time.monotonic() < deadline, "the board never connected under its CSP"
        page.wait_for_timeout(50)
    assert violations == []
    context.close()


def test_messages_bundled_in_one_frame_are_each_handled_in_order(board):
    """The page asks for bundles (messages that waited for the same delivery round, in one frame) and
    handles each message of one as if it had come alone: a batch's row, then its update."""
    assert board.evaluate("window.boardSocket.url").endswith("/ws/tokens/?frames=bundle")
    board.wait_for_function("window.boardCaughtUp !== undefined")
    cursor = board.evaluate("window.boardCaughtUp")
    mint = "Bund1eRow1111111111111111111111111111pump"
    row = {"mint": mint, "name": "Bundled <b>row</b>", "symbol": "BNDL", "created_timestamp": now_ms(),
           "holders": 5, "sources": ["recent"]}  # fmt: skip
    progress = {"processed": 1, "estimated_total": 1, "percent": 100.0, "accepted": 1, "rejected": 0, "invalid": 0,
                "failed": 0, "holder_errors": 0, "metadata_errors": 0, "details_queued": 0, "details_done": 0,
                "batches": 1}  # fmt: skip
    batch = {"type": "batch", "run_id": 1, "index": 1, "cursor": cursor + 1, "tokens": [row], "removed": [],
             "progress": progress, "stored": 1, "sent_at": time.time()}  # fmt: skip
    update = {"type": "update", "cursor": cursor + 2, "tokens": [{**row, "holders": 42, "changed": ["holders"]}],
              "removed": [], "stored": None, "sent_at": time.time()}  # fmt: skip
    frame = json.dumps({"type": "bundle", "messages": [batch, update]})
    board.evaluate("text => window.boardSocket.dispatchEvent(new MessageEvent('message', {data: text}))", frame)
    board.wait_for_function(
        "mint => document.querySelector(`#token-${mint} [data-field='holders']`)?.textContent.trim() === '42'", arg=mint
    )
    assert board_mints(board) == [mint]
    assert board.inner_text(f"#token-{mint}").count("Bundled <b>row</b>") == 1  # text, not markup
