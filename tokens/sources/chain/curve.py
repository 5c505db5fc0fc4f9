"""A bonding curve's current state and the SOL/USD price, decoded from account bytes.

Pure functions; the fetch lives in the chain source. Offsets are from ../shared/UPSTREAM.md. Old
curve accounts are shorter (49 bytes in 2024, later 81, 150, ...): a field past the end is absent.
"""

import struct
from dataclasses import dataclass

from solders.pubkey import Pubkey

from tokens.sources.chain.addresses import USDC_MINT

CURVE_DISCRIMINATOR = bytes.fromhex("17b7f83760d8ac60")  # sha256("account:BondingCurve")[:8]
MIN_CURVE_BYTES = 49  # discriminator, five u64, `complete`
SOL_DECIMALS = 9
USDC_DECIMALS = 6
TOKEN_DECIMALS = 6
# Pyth PriceUpdateV2, fully verified: price (i64) at 73, exponent (i32) at 89, publish_time (i64) at 93.
PYTH_FULL_VERIFICATION = 1
PRICE_MAX_AGE_SECONDS = 300


class InvalidAccount(ValueError):
    """Account bytes that are not what the address should hold."""


@dataclass(frozen=True, slots=True)
class CurveState:
    virtual_token_reserves: int
    virtual_quote_reserves: int
    real_token_reserves: int
    real_quote_reserves: int
    token_total_supply: int
    complete: bool
    quote_mint: str | None = None  # None: SOL

    @property
    def quote(self) -> str:
        return "USDC" if self.quote_mint == USDC_MINT else "SOL"


def decode_curve(data: bytes) -> CurveState:
    if len(data) < MIN_CURVE_BYTES:
        raise InvalidAccount(f"bonding curve account has {len(data)} bytes, fewer than {MIN_CURVE_BYTES}")
    if not data.startswith(CURVE_DISCRIMINATOR):
        raise InvalidAccount("not a pump.fun bonding curve account (discriminator differs)")
    vtoken, vquote, rtoken, rquote, supply = struct.unpack_from("<5Q", data, 8)
    quote_mint = None
    if len(data) >= 115:
        key = bytes(data[83:115])
        quote_mint = None if key == bytes(32) else str(Pubkey(key))
    return CurveState(
        virtual_token_reserves=vtoken,
        virtual_quote_reserves=vquote,
        real_token_reserves=rtoken,
        real_quote_reserves=rquote,
        token_total_supply=supply,
        complete=data[48] == 1,
        quote_mint=quote_mint,
    )


def quote_decimals(quote_mint: str | None) -> int:
    return USDC_DECIMALS if quote_mint == USDC_MINT else SOL_DECIMALS


def market_cap_in_quote(
    *, virtual_quote_reserves: int, virtual_token_reserves: int, token_total_supply: int, quote_mint: str | None
) -> float | None:
    """Price per token times the supply, in the curve's quote (SOL or USDC)."""
    if virtual_token_reserves <= 0:
        return None
    quote = virtual_quote_reserves / 10 ** quote_decimals(quote_mint)
    return quote * token_total_supply / virtual_token_reserves


def bonding_progress(
    *, real_token_reserves: int, initial_real_token_reserves: int | None, complete: bool
) -> float | None:
    """Percent of the curve's tokens sold, from the coin's own starting reserves."""
    if complete:
        return 100.0
    if not initial_real_token_reserves:
        return None
    sold = 1 - real_token_reserves / initial_real_token_reserves
    return round(min(100.0, max(0.0, 100 * sold)), 2)


@dataclass(frozen=True, slots=True)
class Price:
    usd: float
    publish_time: int  # seconds


def decode_pyth_price(data: bytes) -> Price:
    """SOL/USD from a Pyth `PriceUpdateV2` account."""
    if len(data) < 8 + 32 + 1:
        raise InvalidAccount("Pyth price account is too short")
    if data[40] != PYTH_FULL_VERIFICATION:
        raise InvalidAccount("Pyth price update is only partially verified")
    if len(data) < 101:
        raise InvalidAccount("Pyth price account is too short")
    (price,) = struct.unpack_from("<q", data, 73)
    (exponent,) = struct.unpack_from("<i", data, 89)
    (publish_time,) = struct.unpack_from("<q", data, 93)
    if price <= 0 or not -20 <= exponent <= 0:
        raise InvalidAccount(f"Pyth price {price}e{exponent} is not a price")
    return Price(usd=price * 10.0**exponent, publish_time=publish_time)


def fresh_usd_price(price: Price | None, *, now_seconds: float) -> float | None:
    """A price older than five minutes is no price: USD values then stay unknown."""
    if price is None or now_seconds - price.publish_time > PRICE_MAX_AGE_SECONDS:
        return None
    return price.usd
