"""PumpSwap pools: the `Pool` account and its two vaults (SPL token accounts), read from their bytes.

Pure functions; layouts from ../shared/UPSTREAM.md ("CompleteEvent, migration, the pool"). A pool
holds no reserves: its base and quote vaults do, and the price is their ratio. Another program's
account can carry the same discriminator (Meteora DAMM v2's pools do), so the owner is checked too.
"""

import struct
from dataclasses import dataclass

from tokens.sources.chain.addresses import PUMP_AMM_PROGRAM, USDC_MINT, WSOL_MINT
from tokens.sources.chain.borsh import Group, InvalidEvent, Reader, read_layout
from tokens.sources.chain.curve import SOL_DECIMALS, TOKEN_DECIMALS, USDC_DECIMALS, InvalidAccount
from tokens.sources.chain.pdas import canonical_pool_address

POOL_DISCRIMINATOR = bytes.fromhex("f19a6d0411b16dbc")
TOKEN_ACCOUNT_BYTES = 165  # an SPL token account (Token-2022 accounts append extensions)
MINT_BYTES = 82  # an SPL mint (Token-2022 mints append extensions)


@dataclass(frozen=True, slots=True)
class Pool:
    pool_bump: int
    index: int
    creator: str
    base_mint: str
    quote_mint: str
    lp_mint: str
    pool_base_token_account: str
    pool_quote_token_account: str
    lp_supply: int
    coin_creator: str | None = None  # 2025-05
    is_mayhem_mode: bool | None = None  # 2025-11
    is_cashback_coin: bool | None = None  # 2026-02
    # Signed quote the pool prices with beyond its vault (newer pools; see `pool_figures`).
    virtual_quote_reserves: int | None = None


_POOL_BASE: Group = (
    ("pool_bump", "u8"), ("index", "u16"), ("creator", "key"), ("base_mint", "key"), ("quote_mint", "key"),
    ("lp_mint", "key"), ("pool_base_token_account", "key"), ("pool_quote_token_account", "key"),
    ("lp_supply", "u64"),
)  # fmt: skip
_POOL_GROUPS: tuple[Group, ...] = (
    (("coin_creator", "key"),),
    (("is_mayhem_mode", "flag"),),
    (("is_cashback_coin", "flag"),),
    # Past the newest IDL at hand: on the real 301-byte pool these 8 bytes hold 17.58 SOL, the same
    # figure as the first 8 of the 25 bytes its AMM events carry past the IDL; a pool's vault plus it
    # is the SOL its migration moved (84.99 = 67.41 in the vault + 17.58). PumpSwap's docs name a
    # signed `virtual_quote_reserves` added to the quote side: this is it (read as i64; zero on
    # pools that have none).
    (("virtual_quote_reserves", "i64"),),
)


def decode_pool(data: bytes, *, owner: str) -> Pool:
    """A Pool account's fields; `InvalidAccount` for another program's account or other bytes.
    Accounts are padded past their newest field: what follows is ignored."""
    if owner != PUMP_AMM_PROGRAM:
        raise InvalidAccount(f"owned by {owner}, not PumpSwap")
    if not data.startswith(POOL_DISCRIMINATOR):
        raise InvalidAccount("not a PumpSwap pool account (discriminator differs)")
    try:
        values = read_layout(data[len(POOL_DISCRIMINATOR) :], _POOL_BASE, _POOL_GROUPS)
    except InvalidEvent as exc:
        raise InvalidAccount(f"pool account does not parse: {exc}") from None
    return Pool(**values)


def is_canonical(address: str, pool: Pool) -> bool:
    """The pool a pump coin migrated to (not one a user made for the same mint)."""
    quote = "USDC" if pool.quote_mint == USDC_MINT else "SOL" if pool.quote_mint == WSOL_MINT else None
    return quote is not None and canonical_pool_address(pool.base_mint, quote=quote) == address


def token_account_amount(data: bytes, *, mint: str | None = None, owner: str | None = None) -> int:
    """An SPL token account's balance (u64 at offset 64), optionally checking its mint and owner."""
    if len(data) < TOKEN_ACCOUNT_BYTES:
        raise InvalidAccount(f"token account of {len(data)} bytes, fewer than {TOKEN_ACCOUNT_BYTES}")
    if mint is not None and Reader(data[:32]).key() != mint:
        raise InvalidAccount("token account of another mint")
    if owner is not None and Reader(data[32:64]).key() != owner:
        raise InvalidAccount("token account of another owner")
    return struct.unpack_from("<Q", data, 64)[0]


def mint_supply(data: bytes) -> int:
    """A mint's supply (u64 at offset 36, SPL Token and Token-2022 alike): burns included, so a market
    cap is the price times what exists, not a nominal billion."""
    if len(data) < MINT_BYTES:
        raise InvalidAccount(f"mint account of {len(data)} bytes, fewer than {MINT_BYTES}")
    return struct.unpack_from("<Q", data, 36)[0]


def pool_price(*, base_amount: int, quote_amount: int, quote_mint: str) -> float | None:
    """Quote per token from the vaults' balances (USD for a USDC pool, SOL for a WSOL one)."""
    if base_amount <= 0:
        return None
    decimals = USDC_DECIMALS if quote_mint == USDC_MINT else SOL_DECIMALS
    return (quote_amount / 10**decimals) / (base_amount / 10**TOKEN_DECIMALS)


@dataclass(frozen=True, slots=True)
class PoolFigures:
    """What a pool's two vault balances say of its coin. Liquidity is both sides at the pool's own
    price: twice the quote side."""

    price_usd: float | None
    market_cap_sol: float | None
    usd_market_cap: float | None
    liquidity_sol: float | None
    liquidity_usd: float | None


def pool_figures(
    *, base_amount: int, quote_amount: int, quote_mint: str, supply: int | None, sol_usd: float | None,
    virtual_quote: int | None = None,
) -> PoolFigures:  # fmt: skip
    """Price, market cap (price times supply) and liquidity in SOL and USD. The price is the pool's:
    its quote vault plus its signed virtual quote reserves, over its base vault; liquidity is what the
    vault really holds, both sides. A SOL pool's USD figures need the SOL/USD price, a USDC pool's SOL
    figures too; without it they stay unknown."""
    priced_quote = quote_amount + (virtual_quote or 0)
    price = pool_price(base_amount=base_amount, quote_amount=priced_quote, quote_mint=quote_mint)
    price = None if price is None or price <= 0 else price
    usdc = quote_mint == USDC_MINT
    side = quote_amount / 10 ** (USDC_DECIMALS if usdc else SOL_DECIMALS)
    cap = None if price is None or supply is None else price * supply / 10**TOKEN_DECIMALS
    in_usd = (lambda v: v) if usdc else (lambda v: None if v is None or sol_usd is None else v * sol_usd)
    in_sol = (lambda v: None if v is None or not sol_usd else v / sol_usd) if usdc else (lambda v: v)
    return PoolFigures(
        price_usd=in_usd(price), market_cap_sol=in_sol(cap), usd_market_cap=in_usd(cap),
        liquidity_sol=in_sol(2 * side), liquidity_usd=in_usd(2 * side),
    )  # fmt: skip
