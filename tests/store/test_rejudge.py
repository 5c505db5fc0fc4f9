"""Saved filters changed in the admin are applied again to every stored token, with a count of what
moved, and open pages catch up by the API."""

import asyncio

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from tests.fakes.coins import make_history
from tests.helpers import run_load
from tests.test_settings import admin_form
from tokens.models import Token
from tokens.store.batches import current_cursor

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_new_filter_hides_stored_tokens_that_break_it_and_clearing_it_shows_them_again(pumpfun, admin_client):
    pumpfun.coins = make_history(30)  # market caps $5,000 to $5,029
    asyncio.run(run_load(days=1))
    before = current_cursor()

    response = admin_client.post("/admin/tokens/botsettings/", admin_form(min_usd_market_cap=5010))
    assert response.status_code == 302
    notes = [str(m) for m in get_messages(response.wsgi_request)]
    assert "Filters applied again to the 30 stored tokens: 10 now hidden, 0 shown again." in notes
    assert Token.objects.filter(passed_filters=True).count() == 20
    hidden = Token.objects.get(mint=pumpfun.coins[0]["mint"])
    assert hidden.rejection_reason == "USD market cap below 5010"
    caught = Client().get(f"/api/changes/?after={before}").json()
    assert set(caught["removed"]) == {coin["mint"] for coin in pumpfun.coins if coin["usd_market_cap"] < 5010}
    assert "market cap ≥ $5,010" in Client().get("/").content.decode()

    response = admin_client.post("/admin/tokens/botsettings/", admin_form(min_usd_market_cap=""))
    notes = [str(m) for m in get_messages(response.wsgi_request)]
    assert "Filters applied again to the 30 stored tokens: 0 now hidden, 10 shown again." in notes
    assert Token.objects.filter(passed_filters=True).count() == 30


def test_a_change_that_is_not_a_filter_judges_nothing(pumpfun, admin_client):
    pumpfun.coins = make_history(5)
    asyncio.run(run_load(days=1))
    cursor = current_cursor()
    response = admin_client.post("/admin/tokens/botsettings/", admin_form(historical_batch_size=25))
    assert not [str(m) for m in get_messages(response.wsgi_request) if "applied again" in str(m)]
    assert current_cursor() == cursor


def test_a_filter_change_on_many_tokens_is_judged_in_chunks_and_caught_up_in_pages(pumpfun, admin_client):
    pumpfun.coins = make_history(1_200)  # market caps $5,000 to $6,199
    asyncio.run(run_load(days=1, batch_size=500))
    before = current_cursor()
    response = admin_client.post("/admin/tokens/botsettings/", admin_form(min_usd_market_cap=6100))
    assert response.status_code == 302
    hidden = {coin["mint"] for coin in pumpfun.coins if coin["usd_market_cap"] < 6100}
    assert len(hidden) == 1_100
    # One cursor per chunk of 500 tokens: no cursor holds more rows than one catch-up answer.
    assert current_cursor() == before + 3
    per_cursor = Token.objects.filter(cursor__gt=before).values_list("cursor", flat=True)
    assert max(list(per_cursor).count(cursor) for cursor in set(per_cursor)) <= 500

    # A page that follows the paging protocol (after, after_mint)...
    removed, answers, after, after_mint = [], 0, before, ""
    while True:
        query = f"?after={after}" + (f"&after_mint={after_mint}" if after_mint else "")
        page = Client().get("/api/changes/" + query).json()
        answers += 1
        assert len(page["tokens"]) + len(page["removed"]) <= 500
        removed += page["removed"]
        if not page["more"]:
            break
        after, after_mint = page["next_after"], page["next_after_mint"]
    assert sorted(removed) == sorted(hidden) and answers >= 3
    # ...and one that only follows `cursor` both get every change once.
    removed, cursor, more = [], before, True
    while more:
        page = Client().get(f"/api/changes/?after={cursor}").json()
        removed += page["removed"]
        assert page["cursor"] > cursor or not page["more"]  # always further
        cursor, more = page["cursor"], page["more"]
    assert sorted(removed) == sorted(hidden)


def test_no_commit_writes_more_tokens_than_one_catch_up_answer_holds():
    # What lets a client that follows only `cursor` always get further (tokens/board/api.py).
    from tokens.details.stage import _GROUP
    from tokens.models import MAX_BATCH_SIZE
    from tokens.sources.chain.source import ACCOUNTS_PER_CALL
    from tokens.store import rejudge
    from tokens.store.selectors import CATCH_UP_ROWS

    assert max(MAX_BATCH_SIZE, rejudge.CHUNK, ACCOUNTS_PER_CALL, *_GROUP.values()) <= CATCH_UP_ROWS
