"""PumpSwap as the chain holds it: a graduated coin's Pool account, its two vault token accounts,
the coin's mint, and the migration event, encoded by hand from ../shared/UPSTREAM.md (not with the
product's layouts: a mistake there must not be mirrored here).
"""

import struct
from dataclasses import dataclass

from solders.pubkey import Pubkey

from tokens.sources.chain.addresses import (
    ASSOCIATED_TOKEN_PROGRAM,
    PUMP_AMM_PROGRAM,
    PUMP_PROGRAM,
    TOKEN_2022_PROGRAM,
    TOKEN_PROGRAM,
    USDC_MINT,
    WSOL_MINT,
)

POOL_DISCRIMINATOR = bytes.fromhex("f19a6d0411b16dbc")
MIGRATION_EVENT_DISCRIMINATOR = bytes.fromhex("bde95db95c94ea94")
METEORA_DAMM_V2 = "cpamdpZCGKUy5JxQXB4dcpGPiikHawvSWAd6mEn1sGG"  # shares the Pool discriminator


def _key(address: str) -> bytes:
    return bytes(Pubkey.from_string(address))


def _pda(seeds: list[bytes], program: str) -> str:
    return str(Pubkey.find_program_address(seeds, Pubkey.from_string(program))[0])


def pool_address(mint: str, quote_mint: str = WSOL_MINT) -> str:
    authority = _pda([b"pool-authority", _key(mint)], PUMP_PROGRAM)
    return _pda([b"pool", b"\x00\x00", _key(authority), _key(mint), _key(quote_mint)], PUMP_AMM_PROGRAM)


def ata(owner: str, mint: str, program: str) -> str:
    return _pda([_key(owner), _key(program), _key(mint)], ASSOCIATED_TOKEN_PROGRAM)


def pool_account(
    *, mint: str, quote_mint: str, base_vault: str, quote_vault: str, creator: str, virtual_quote: int = 0,
    size: int = 301,
) -> bytes:  # fmt: skip
    data = POOL_DISCRIMINATOR + struct.pack("<BH", 255, 0) + _key(creator) + _key(mint) + _key(quote_mint)
    data += _key(creator) + _key(base_vault) + _key(quote_vault) + struct.pack("<Q", 4_193_388_283_912)
    data += _key(creator) + b"\x00\x00"  # coin_creator, is_mayhem_mode, is_cashback_coin
    data += struct.pack("<q", virtual_quote)  # past the IDL: the pool's signed virtual quote reserves
    return data + bytes(max(0, size - len(data)))


def token_account(*, mint: str, owner: str, amount: int, size: int = 165) -> bytes:
    data = _key(mint) + _key(owner) + struct.pack("<Q", amount) + bytes(size - 72)
    return data[:size]


def mint_account(*, supply: int, decimals: int = 6) -> bytes:
    return struct.pack("<I", 0) + bytes(32) + struct.pack("<QB?", supply, decimals, True) + bytes(36)


def migration_event_payload(
    *, user: str, mint: str, bonding_curve: str, timestamp: int, pool: str, quote_mint: str | None = None
) -> bytes:
    data = MIGRATION_EVENT_DISCRIMINATOR + _key(user) + _key(mint)
    data += struct.pack("<QQQ", 206_900_000_000_000, 84_990_359_010, 15_000_001) + _key(bonding_curve)
    data += struct.pack("<q", timestamp) + _key(pool)
    return data + (_key(quote_mint) if quote_mint else bytes(32))


@dataclass
class FakePool:
    """A coin's canonical pool on the fake chain; `set_reserves` moves its price."""

    solana: object
    mint: str
    quote: str = "SOL"
    token_program: str = TOKEN_2022_PROGRAM
    supply: int = 10**15
    virtual_quote: int = 0

    @property
    def quote_mint(self) -> str:
        return USDC_MINT if self.quote == "USDC" else WSOL_MINT

    @property
    def address(self) -> str:
        return pool_address(self.mint, self.quote_mint)

    @property
    def base_vault(self) -> str:
        return ata(self.address, self.mint, self.token_program)

    @property
    def quote_vault(self) -> str:
        return ata(self.address, self.quote_mint, TOKEN_PROGRAM)

    def create(self, *, base: int, quote: int) -> "FakePool":
        creator = _pda([b"pool-authority", _key(self.mint)], PUMP_PROGRAM)
        self.solana.set_account(
            self.address,
            pool_account(mint=self.mint, quote_mint=self.quote_mint, base_vault=self.base_vault,
                         quote_vault=self.quote_vault, creator=creator, virtual_quote=self.virtual_quote),
            owner=PUMP_AMM_PROGRAM,
        )  # fmt: skip
        self.solana.set_account(self.mint, mint_account(supply=self.supply), owner=self.token_program)
        return self.set_reserves(base=base, quote=quote)

    def set_reserves(self, *, base: int, quote: int) -> "FakePool":
        account = token_account(mint=self.mint, owner=self.address, amount=base, size=170)
        self.solana.set_account(self.base_vault, account, owner=self.token_program)
        account = token_account(mint=self.quote_mint, owner=self.address, amount=quote)
        self.solana.set_account(self.quote_vault, account, owner=TOKEN_PROGRAM)
        return self

    def price(self, *, base: int, quote: int) -> float:
        """Quote per token, as a trader reads it off the reserves (the virtual quote counted)."""
        return ((quote + self.virtual_quote) / (1e6 if self.quote == "USDC" else 1e9)) / (base / 1e6)


AMM_BUY_EVENT_DISCRIMINATOR = bytes.fromhex("67f4521f2cf57777")
AMM_SELL_EVENT_DISCRIMINATOR = bytes.fromhex("3e2f370aa503dc2a")
FEE_RECIPIENT = "62qc2CNXwrYqQScmEdiZFFAnJR262PxWEuNQtxfafNgV"


@dataclass
class AmmTrade:
    """One PumpSwap trade as its program writes it (the 2026-05 layout and the 25 bytes past it)."""

    pool: str
    user: str
    is_buy: bool
    base_amount: int
    quote_amount: int
    pool_base: int  # the pool's reserves before the trade
    pool_quote: int
    timestamp: int
    virtual_quote: int = 0
    supply: int = 10**15
    coin_creator: str = FEE_RECIPIENT

    def payload(self) -> bytes:
        keys = _key(self.pool) + _key(self.user) + _key(self.user) + _key(self.user) + _key(FEE_RECIPIENT) * 2
        if self.is_buy:
            data = AMM_BUY_EVENT_DISCRIMINATOR + struct.pack(
                "<q13Q", self.timestamp, self.base_amount, self.quote_amount * 2, 0, 10**10, self.pool_base,
                self.pool_quote, self.quote_amount, 2, self.quote_amount * 2 // 10_000, 93,
                self.quote_amount * 93 // 10_000, self.quote_amount, self.quote_amount,
            )  # fmt: skip
            data += keys + _key(self.coin_creator) + struct.pack("<QQ?QQQqQ", 30, 0, False, 0, 0, 0, 0, 1)
            data += struct.pack("<I", 3) + b"buy"
        else:
            data = AMM_SELL_EVENT_DISCRIMINATOR + struct.pack(
                "<q13Q", self.timestamp, self.base_amount, 1, self.base_amount, 0, self.pool_base, self.pool_quote,
                self.quote_amount, 2, self.quote_amount * 2 // 10_000, 93, self.quote_amount * 93 // 10_000,
                self.quote_amount, self.quote_amount,
            )  # fmt: skip
            data += keys + _key(self.coin_creator) + struct.pack("<QQ", 30, 0)
        data += struct.pack("<QQQQ", 0, 0, 5000, 0)  # cashback, buyback
        return data + struct.pack("<qQ?Q", self.virtual_quote, 0, True, self.supply)  # past the IDL


def trade_in(pool: FakePool, *, base: int, quote: int, user: str, is_buy: bool, amount: int, at: int) -> AmmTrade:
    """A trade against a pool holding `base` and `quote` (its vaults), priced by constant product on its
    vault plus its virtual quote, as PumpSwap prices it (fees left out)."""
    priced = quote + pool.virtual_quote
    if is_buy:
        base_out = base - base * priced // (priced + amount)
        trade = AmmTrade(pool=pool.address, user=user, is_buy=True, base_amount=base_out, quote_amount=amount,
                         pool_base=base, pool_quote=quote, timestamp=at, virtual_quote=pool.virtual_quote)  # fmt: skip
    else:
        quote_out = priced - base * priced // (base + amount)
        trade = AmmTrade(pool=pool.address, user=user, is_buy=False, base_amount=amount, quote_amount=quote_out,
                         pool_base=base, pool_quote=quote, timestamp=at, virtual_quote=pool.virtual_quote)  # fmt: skip
    return trade
