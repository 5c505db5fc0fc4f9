"""A token's trades and 1-minute candles, for the drawer (described in openapi.py)."""

import re
from datetime import UTC, datetime, timedelta

from django.db.models import Q
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from tokens.board import openapi
from tokens.models import Candle, Token, Trade

_MINT = re.compile(openapi.MINT_PATTERN, re.ASCII)
_CURSOR = re.compile(r"^([0-9]{1,18})\.([0-9]{1,19})$", re.ASCII)  # microseconds.id of the last trade given
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TRADES_PAGE, MAX_TRADES = 50, 200
CANDLES_DEFAULT, MAX_CANDLES = 360, 1_440


class BadParameter(ValueError):
    pass


@require_GET
def trades(request: HttpRequest, mint: str) -> JsonResponse:
    """The token's trades the stream saw, newest first, `cursor`-paged."""
    token = _token(mint)
    if token is None:
        return _no_token()
    try:
        limit = _whole(request.GET.get("limit"), name="limit", default=TRADES_PAGE, high=MAX_TRADES)
        rows = Trade.objects.filter(mint=mint).order_by("-traded_at", "-id")
        if request.GET.get("cursor"):
            rows = rows.filter(_after(request.GET["cursor"]))
    except BadParameter as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    page = list(rows[: limit + 1])
    more, page = len(page) > limit, page[:limit]
    return JsonResponse(
        {
            "mint": mint,
            "quote": token.quote or "SOL",
            "trades_since": _iso(token.trades_since),
            "next_cursor": _cursor(page[-1]) if more else None,
            "trades": [_trade(trade, token.quote or "SOL") for trade in page],
        }
    )


@require_GET
def candles(request: HttpRequest, mint: str) -> JsonResponse:
    """1-minute candles of the token's price in its quote, oldest first (the newest `limit`)."""
    token = _token(mint)
    if token is None:
        return _no_token()
    try:
        if request.GET.get("interval", "1m") != "1m":
            raise BadParameter("interval must be 1m (the only one kept)")
        limit = _whole(request.GET.get("limit"), name="limit", default=CANDLES_DEFAULT, high=MAX_CANDLES)
    except BadParameter as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    rows = list(Candle.objects.filter(mint=mint).order_by("-minute")[:limit])[::-1]
    return JsonResponse(
        {
            "mint": mint,
            "interval": "1m",
            "quote": token.quote or "SOL",
            "trades_since": _iso(token.trades_since),
            "candles": [_candle(candle) for candle in rows],
        }
    )


def _trade(trade: Trade, quote: str) -> dict:
    decimals = 6 if quote == "USDC" else 9
    return {
        "signature": trade.signature,
        "position": trade.position,
        "time": _iso(trade.traded_at),
        "side": "buy" if trade.is_buy else "sell",
        "trader": trade.trader,
        "token_amount": trade.token_amount / 10**6,
        "quote_amount": trade.quote_amount / 10**decimals,
        "usd_value": trade.usd_value,
        "price": trade.price,
        "usd_market_cap": trade.usd_market_cap,
    }


def _candle(candle: Candle) -> dict:
    return {
        "time": int(candle.minute.timestamp()),
        "open": candle.open,
        "high": candle.high,
        "low": candle.low,
        "close": candle.close,
        "volume_usd": candle.volume_usd,
        "volume_quote": candle.volume_quote,
        "buys": candle.buys,
        "sells": candle.sells,
    }


def _token(mint: str) -> Token | None:
    return Token.objects.filter(mint=mint).first() if _MINT.fullmatch(mint) else None


def _no_token() -> JsonResponse:
    return JsonResponse({"error": "no stored token has that mint"}, status=404)


def _cursor(trade: Trade) -> str:
    return f"{(trade.traded_at - _EPOCH) // timedelta(microseconds=1)}.{trade.pk}"


def _after(cursor: str) -> Q:
    found = _CURSOR.fullmatch(cursor)
    if found is None:
        raise BadParameter("cursor must be a next_cursor this API gave")
    micros, pk = int(found.group(1)), int(found.group(2))
    if pk > 2**63 - 1 or micros > 253_402_300_799_999_999:
        raise BadParameter("cursor must be a next_cursor this API gave")
    at = _EPOCH + timedelta(microseconds=micros)
    return Q(traded_at__lt=at) | Q(traded_at=at, id__lt=pk)


def _whole(raw: str | None, *, name: str, default: int, high: int) -> int:
    if raw in (None, ""):
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 6 or not 1 <= int(raw) <= high:
        raise BadParameter(f"{name} must be a whole number from 1 to {high}")
    return int(raw)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
