"""`manage.py check_upstreams`: what each upstream offers, which one a run uses, and the exit code."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from tests.fakes.http import Reply

pytestmark = pytest.mark.django_db


def check(*args) -> str:
    out = io.StringIO()
    call_command("check_upstreams", *args, stdout=out)
    return out.getvalue()


def test_a_full_chain_provider_is_reported_with_everything_it_offers(solana, pumpfun):
    solana.offer_transactions_for_address = True
    report = json.loads(check("--json"))
    api, chain = report["upstreams"]
    assert api["reachable"] and chain["reachable"]
    assert "test-secret-key" not in json.dumps(report)  # the RPC URL is shown redacted
    offers = chain["offers"]
    assert offers["JSON-RPC batches"]["ok"] and offers["getTransactionsForAddress"]["ok"]
    assert offers["DAS getTokenAccounts (holder counts)"]["ok"]
    assert offers["websocket logsSubscribe"]["ok"]
    assert offers["Pyth SOL/USD"]["ok"] and offers["Pyth SOL/USD"]["detail"].startswith("$150.00")
    assert report["a_run_would_use"] == "chain"


def test_a_plain_provider_is_reported_with_what_it_lacks(solana, pumpfun, settings):
    solana.refuse_batches = True
    solana.price_published = 1_700_000_000  # long stale
    settings.SOLANA_WS_URL = "ws://127.0.0.1:9/"
    text = check()
    assert "no   JSON-RPC batches: refused" in text
    assert "no   getTransactionsForAddress: not offered" in text
    assert "no   websocket logsSubscribe" in text and "the live tail polls" in text
    assert "stale: older than 5 minutes" in text
    assert "A run would use: chain" in text


def test_a_refused_web_api_without_an_rpc_fails_and_says_what_to_do(pumpfun):
    pumpfun.fail_next(Reply(403, {"message": "forbidden"}))
    with pytest.raises(CommandError, match="no upstream answers"):
        out = io.StringIO()
        call_command("check_upstreams", stdout=out)
    assert "Set SOLANA_RPC_URL" in out.getvalue() and "refuses this server: HTTP 403" in out.getvalue()


def test_the_web_api_alone_is_enough_for_a_run(pumpfun):
    text = check()
    assert "pump.fun web API" in text and "Solana RPC (not set): not configured" in text
    assert "A run would use: api" in text
