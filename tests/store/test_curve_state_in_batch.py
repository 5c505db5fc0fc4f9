"""A launch read with its curve (a chain backfill page after the first) is stored with its market cap,
price and liquidity, and needs no curve read afterwards; stored again without one, it keeps them."""

from datetime import UTC, datetime

import pytest

from tests.fakes.coins import make_coin, now_ms
from tests.helpers import coin_launch
from tokens.models import DetailTask, LoadRun, Token
from tokens.store.batches import store_batch
from tokens.store.filters import STATE, FilterRules
from tokens.store.processing import DetailPlan, process_batch

pytestmark = pytest.mark.django_db
SIGNATURE = "5" * 88
FIELDS = {
    "market_cap_sol": 111.84, "usd_market_cap": 16_776.0, "price_usd": 1.6776e-05, "liquidity_sol": 30.0,
    "liquidity_usd": 4_500.0, "bonding_progress": 67.65, "complete": False, "quote": "SOL",
}  # fmt: skip
RULES = FilterRules(cutoff=datetime(2024, 1, 1, tzinfo=UTC))


def launch(curve_fields=None):
    record = coin_launch(make_coin(1, created_ms=now_ms() - 60_000, signature=SIGNATURE))
    record.curve_fields = curve_fields
    return record


def store(run, launches):
    outcome = process_batch(launches, rules=RULES, now_ms=now_ms(), plan=DetailPlan(curve_state=True))
    return store_batch(run_id=run.pk, lease_epoch=1, records=outcome.records, invalid=0, failed=0,
                       estimated_total=None, checkpoint=None)  # fmt: skip


@pytest.fixture
def run():
    return LoadRun.objects.create(source="recent", days=1, batch_size=10, origin="command", status="running",
                                  lease_epoch=1)  # fmt: skip


def test_a_launch_read_with_its_curve_is_stored_with_it_and_no_curve_read_is_queued(run):
    store(run, [launch(FIELDS)])
    token = Token.objects.get()
    assert (token.market_cap_sol, token.usd_market_cap, token.price_usd) == (111.84, 16_776.0, 1.6776e-05)
    assert (token.liquidity_sol, token.liquidity_usd, token.bonding_progress) == (30.0, 4_500.0, 67.65)
    assert token.state_read_at is not None and token.details_updated_at == token.state_read_at
    assert token.complete is False and not DetailTask.objects.filter(kind=STATE).exists()


def test_stored_again_without_its_curve_it_keeps_what_the_read_gave_until_the_curve_is_read(run):
    store(run, [launch(FIELDS)])
    read_at = Token.objects.get().state_read_at
    store(run, [launch()])
    token = Token.objects.get()
    assert (token.market_cap_sol, token.price_usd, token.liquidity_usd) == (111.84, 1.6776e-05, 4_500.0)
    assert token.state_read_at == read_at
    assert DetailTask.objects.filter(kind=STATE).count() == 1  # and its curve is read again


def test_a_stored_token_read_again_with_a_page_keeps_what_is_stored_until_its_curve_is_read(run):
    """What is stored may be newer than a page read ahead (here the trade stream saw it graduate)."""
    store(run, [launch(FIELDS)])
    Token.objects.update(complete=True, bonding_progress=100.0, pool_status="migrating", market_cap_sol=None)
    store(run, [launch({**FIELDS, "market_cap_sol": 120.0})])
    token = Token.objects.get()
    assert (token.complete, token.bonding_progress, token.pool_status) == (True, 100.0, "migrating")
    assert token.market_cap_sol is None and token.price_usd == 1.6776e-05  # the stored price stays
    assert DetailTask.objects.filter(kind=STATE).count() == 1  # and its curve is read again


@pytest.mark.parametrize(
    "bad",
    [{"market_cap_sol": -1.0}, {"usd_market_cap": float("inf")}, {"bonding_progress": 150.0},
     {"bonding_progress": True}, {"complete": True}, {"liquidity_usd": "a lot"}],
    ids=["negative", "infinite", "past-100", "bool", "complete", "text"],
)  # fmt: skip
def test_figures_no_trading_curve_has_leave_the_state_unread_and_the_launch_stored(run, bad):
    store(run, [launch({**FIELDS, **bad})])
    token = Token.objects.get()
    assert token.state_read_at is None and token.price_usd is None
    assert DetailTask.objects.filter(kind=STATE).count() == 1
