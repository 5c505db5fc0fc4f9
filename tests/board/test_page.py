"""The board page as served: rows rendered server-side, hostile text escaped, only http(s) links."""

import asyncio
import re

import pytest
from django.test import Client

from tests.fakes.coins import make_coin, make_history, now_ms
from tests.helpers import run_load

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_empty_board_says_so_and_offers_no_load_to_anonymous_users():
    page = Client().get("/").content.decode()
    assert "No tokens stored yet" in page
    assert 'id="load-form"' not in page
    assert "logging in" in page


def test_staff_get_the_load_form_with_the_settings_defaults(admin_client):
    page = admin_client.get("/").content.decode()
    assert 'id="load-form"' in page
    assert 'name="batch_size" min="1" max="500" value="10"' in page
    assert 'name="days" min="1" max="365" value="7"' in page


ROW = re.compile(r'<tr class="token-row" id="token-([1-9A-HJ-NP-Za-km-z]+)"')


def test_the_first_render_holds_the_live_views_rows_in_the_views_order(pumpfun, settings):
    pumpfun.coins = make_history(60)
    asyncio.run(run_load(days=1))
    first = Client().get("/").content.decode()
    assert ROW.findall(first) == [coin["mint"] for coin in pumpfun.coins]  # every row, newest first
    assert '"row_cap": 500' in first and '"next_cursor": null' in first
    by_cap = Client().get("/?sort=-usd_market_cap&min_usd_market_cap=5030").content.decode()
    expected = sorted(
        (c for c in pumpfun.coins if c["usd_market_cap"] >= 5030), key=lambda c: (-c["usd_market_cap"], c["mint"])
    )
    assert ROW.findall(by_cap) == [coin["mint"] for coin in expected] and 0 < len(expected) < 60
    assert 'name="min_usd_market_cap" value="5030"' in by_cap


def test_a_view_the_board_cannot_use_is_named_and_every_token_shown(pumpfun):
    pumpfun.coins = make_history(5)
    asyncio.run(run_load(days=1))
    page = Client().get("/?min_holders=%D9%A7").content.decode()  # an Arabic-Indic seven
    assert "min_holders must be a whole number (digits 0-9)" in page
    assert len(ROW.findall(page)) == 5


def test_hostile_names_are_text_and_javascript_links_are_gone(pumpfun):
    pumpfun.coins = [
        make_coin(
            1,
            created_ms=now_ms() - 1_000,
            name='<img src=x onerror="alert(1)">',
            symbol="<b>BOLD</b>",
            website="javascript:alert(document.cookie)",
            twitter="https://x.com/real",
            telegram="  JAVASCRIPT:alert(1)",
            image_uri="javascript:alert(2)",
        )
    ]
    asyncio.run(run_load(days=1))
    page = Client().get("/").content.decode()
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert "&lt;b&gt;BOLD&lt;/b&gt;" in page
    assert "<img src=x" not in page and "<b>BOLD" not in page
    assert "javascript:" not in page.lower()
    assert 'href="https://x.com/real"' in page


def test_the_live_row_template_is_the_same_partial(pumpfun):
    pumpfun.coins = make_history(1)
    asyncio.run(run_load(days=1))
    page = Client().get("/").content.decode()
    template = page.split('<template id="token-row-template">')[1].split("</template>")[0]
    row = page.split('<tbody id="token-rows">')[1].split("</tbody>")[0]
    fields = re.findall(r'data-(?:field|link)="(\w+)"', template)
    assert fields == re.findall(r'data-(?:field|link)="(\w+)"', row)
    assert len(fields) == 18


def test_a_source_has_one_name_on_the_form_and_in_the_run_history(pumpfun, admin_client):
    pumpfun.coins = make_history(3)
    asyncio.run(run_load(days=1, source="hybrid", upstream="api"))
    page = admin_client.get("/").content.decode()
    history = page[page.index('id="run-history"') :]
    assert '<option value="hybrid" selected>Recent + trending</option>' in page
    assert '<td data-field="source">Recent + trending</td>' in history and ">hybrid<" not in history


def test_the_page_says_which_upstreams_are_configured_without_secrets(settings):
    settings.SOLANA_RPC_URL = "https://rpc.example/?api-key=very-secret"
    page = Client().get("/").content.decode()
    footer = page[page.index('<footer class="upstreams') :]
    assert "<code>PUMPFUN_API_URL</code> http://127.0.0.1:9" in footer
    assert "<code>SOLANA_RPC_URL</code> https://rpc.example/***" in footer
    assert "<code>trades</code> followed by the feed over the websocket" in footer  # wss:// from the https URL
    assert "very-secret" not in page


def test_the_page_says_trades_need_a_websocket(settings):
    settings.SOLANA_RPC_URL = ""
    footer = Client().get("/").content.decode().split('<footer class="upstreams')[1]
    assert "<code>trades</code> not followed: trades need an RPC with a websocket" in footer
