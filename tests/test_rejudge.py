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
from tokens.store import current_cursor

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
    caught = Client().get(f"/api/tokens/?after={before}").json()
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
