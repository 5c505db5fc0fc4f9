"""The 5-minute and 1-hour windows move with the clock, trades or not; a price change needs the
window covered; after a restart the windows come back from the stored trades."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from tests.fakes.chain import Launch, key_for, signature_for
from tests.fakes.trades import Curve, TradeTx
from tests.helpers import record_trades
from tokens.models import Token
from tokens.trades.ledger import load_windows, record
from tokens.trades.rows import StreamRows
from tokens.trades.windows import RollingWindows, Seen

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
WHOLE_LIFE = datetime.min.replace(tzinfo=UTC)


def seen(minutes: float, usd: float, *, buy: bool = True, wallet: str = "w", before: float = 1.0, after: float = 1.1):
    return Seen("mint", (T0 + timedelta(minutes=minutes)).timestamp(), usd, buy, wallet, before, after)


def test_windows_sum_what_is_inside_them_and_forget_what_is_not():
    windows = RollingWindows()
    windows.add([seen(0, 100, before=1.0, after=1.2), seen(50, 10, wallet="a", before=1.2, after=1.3),
                 seen(57, 5, buy=False, wallet="b", before=1.3, after=1.25)])  # fmt: skip
    at = T0 + timedelta(minutes=58)
    figures = windows.figures("mint", now=at, covered_from=WHOLE_LIFE)
    assert (figures["volume_5m_usd"], figures["volume_1h_usd"], figures["net_flow_5m_usd"]) == (5.0, 115.0, -5.0)
    assert (figures["buys_5m"], figures["sells_5m"], figures["traders_5m"]) == (0, 1, 1)
    assert figures["price_change_5m"] == pytest.approx(100 * (1.25 / 1.3 - 1), abs=1e-4)
    assert figures["price_change_1h"] == pytest.approx(100 * (1.25 / 1.0 - 1), abs=1e-4)
    later = T0 + timedelta(minutes=70)  # no trade since minute 57: the 5-minute window is empty
    quiet = windows.figures("mint", now=later, covered_from=WHOLE_LIFE)
    assert (quiet["volume_5m_usd"], quiet["price_change_5m"], quiet["volume_1h_usd"]) == (0.0, 0.0, 15.0)
    partial = windows.figures("mint", now=later, covered_from=T0 + timedelta(minutes=55))
    assert partial["price_change_1h"] is None and partial["price_change_5m"] == 0.0  # 5 min covered, 1 h not
    assert windows.prune(now=T0 + timedelta(minutes=120)) == {"mint"} and windows.mints() == []


def test_a_late_trade_lands_in_its_own_bucket():
    windows = RollingWindows()
    windows.add([seen(10, 1), seen(12, 2), seen(11, 4)])  # the last one from a gap fill
    starts = [bucket.start for bucket in windows.by_mint["mint"]]
    assert starts == sorted(starts) and len(starts) == 3


@pytest.mark.django_db
def test_quiet_coins_lose_their_five_minutes_in_the_next_flush_and_windows_come_back_after_a_restart():
    now = timezone.now()
    coin = Launch(index=1, block_time=0)
    Token.objects.create(mint=coin.mint, creator=coin.creator, created_at=now - timedelta(hours=2), first_seen_at=now,
                         last_seen_at=now, quote="SOL")  # fmt: skip
    curve = Curve(mint=coin.mint, creator=coin.creator)
    at = int((now - timedelta(minutes=6)).timestamp())
    record_trades(TradeTx(signature_for("quiet"), at, [curve.buy(key_for("q"), 10**9, at=at)]))
    windows = RollingWindows()
    assert load_windows(windows, now=now) == 1  # a restart: the last hour back from the stored trades
    record(StreamRows(), launches={}, windows=windows, sol_usd=150.0, now=now, covered_since=now, refresh=[coin.mint])
    token = Token.objects.get(mint=coin.mint)
    assert (token.volume_5m_usd, token.buys_5m, token.volume_1h_usd) == (0.0, 0, 150.0)


def test_a_transaction_the_database_could_not_store_is_refused_not_retried_forever():
    from tests.fakes.chain import trade_transaction_json
    from tokens.sources.chain.events import decode_transaction
    from tokens.trades.rows import rows_of

    curve = Curve(mint=key_for("hostile-mint"), creator=key_for("hostile-creator"))
    tx = TradeTx(signature_for("hostile"), 1_700_000_000, [curve.buy(key_for("h"), 10**8, at=1_700_000_000)])
    decoded = decode_transaction(trade_transaction_json(tx, slot=2**64))  # a slot no BIGINT holds
    long_name = decode_transaction(trade_transaction_json(tx, slot=5))
    long_name.signature = "x" * 120  # no signature is that long
    rows = rows_of([decoded, long_name], now=T0)
    assert rows.trades == [] and len(rows.invalid) == 2
