"""Bounded storage: trades are kept TRADE_RETENTION_HOURS and 1-minute candles CANDLE_RETENTION_DAYS,
pruned in chunks; a coin's figures stay on its row after its trades are gone."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.fakes.chain import Launch, key_for, signature_for
from tests.fakes.trades import Curve, TradeTx
from tests.helpers import record_trades
from tokens.models import Candle, Holding, Token, Trade
from tokens.trades import service
from tokens.trades.service import prune

pytestmark = pytest.mark.django_db


def make_token(launch: Launch, *, created) -> None:
    Token.objects.create(mint=launch.mint, created_at=created, first_seen_at=created, last_seen_at=created,
                         creator=launch.creator, quote="SOL")  # fmt: skip


def buy(curve: Curve, label: str, at: int) -> TradeTx:
    return TradeTx(signature_for(label), at, [curve.buy(key_for(label), 10**8, at=at)])


def test_old_trades_and_candles_go_in_chunks_and_figures_stay(settings, monkeypatch):
    settings.TRADE_RETENTION_HOURS = 24
    settings.CANDLE_RETENTION_DAYS = 7
    monkeypatch.setattr(service, "PRUNE_CHUNK", 7)  # several chunks, each its own statement
    now = timezone.now()
    old, fresh = Launch(index=1, block_time=0), Launch(index=2, block_time=0)
    make_token(old, created=now - timedelta(days=10))
    make_token(fresh, created=now - timedelta(hours=1))
    stale_at = int((now - timedelta(days=8)).timestamp())
    curve = Curve(mint=old.mint, creator=old.creator)
    record_trades(*(buy(curve, f"old-{i}", stale_at + i * 60) for i in range(20)))  # 20 minutes, 8 days ago
    yesterday = int((now - timedelta(hours=30)).timestamp())
    record_trades(*(buy(curve, f"day-{i}", yesterday) for i in range(5)))  # one minute, 30 hours ago
    recent = Curve(mint=fresh.mint, creator=fresh.creator)
    at = int(now.timestamp()) - 60
    record_trades(TradeTx(signature_for("recent"), at, [recent.buy(key_for("r"), 10**9, at=at)]))
    assert Trade.objects.count() == 26 and Candle.objects.filter(mint=old.mint).count() == 21
    kept_figures = Token.objects.get(mint=old.mint).ath_usd_market_cap

    removed = prune(now=now)

    assert set(Trade.objects.values_list("mint", flat=True)) == {fresh.mint}  # older than 24 h: gone
    assert Candle.objects.filter(mint=old.mint).count() == 1  # the 30-hour-old minute, within 7 days
    assert not Holding.objects.filter(mint=old.mint).exists()  # nobody traded it within the retention
    assert Holding.objects.filter(mint=fresh.mint).exists()
    assert removed == 25 + 20 + 25
    assert Token.objects.get(mint=old.mint).ath_usd_market_cap == kept_figures  # the row keeps its figures
    assert prune(now=now) == 0
