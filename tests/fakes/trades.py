"""pump.fun trades as the chain writes them: `TradeEvent`/`CompleteEvent` payloads of every layout,
and a bonding curve that prices each trade the way the program does (constant product on the
virtual reserves), so a test knows every figure a trade implies.

Encoded here by hand, field by field from ../shared/UPSTREAM.md, not with the product's layout
tables: a mistake in those must not be mirrored by the fake.
"""

import base64
import struct
from dataclasses import dataclass, field

from solders.pubkey import Pubkey

TRADE_EVENT_DISCRIMINATOR = bytes.fromhex("bddb7fd34ee661ee")
COMPLETE_EVENT_DISCRIMINATOR = bytes.fromhex("5f72619cd42e9808")
MIGRATION_EVENT_DISCRIMINATOR = bytes.fromhex("bde95db95c94ea94")
TRADE_LAYOUTS = ("2024", "may2025", "aug2025", "oct2025", "jan2026", "feb2026", "may2026", "sep2026")
FEE_RECIPIENT = "62qc2CNXwrYqQScmEdiZFFAnJR262PxWEuNQtxfafNgV"


def _key(address: str | None) -> bytes:
    return bytes(32) if address is None else bytes(Pubkey.from_string(address))


@dataclass
class Trade:
    mint: str
    user: str
    is_buy: bool
    quote_amount: int  # lamports, or USDC base units for a USDC coin
    token_amount: int
    timestamp: int
    virtual_quote: int  # after the trade
    virtual_tokens: int
    real_quote: int
    real_tokens: int
    creator: str = ""
    quote_mint: str | None = None  # None: SOL
    layout: str = "may2026"
    mayhem: bool = False
    shareholders: tuple[tuple[str, int], ...] = ()

    def payload(self) -> bytes:
        """The discriminator and the borsh payload this trade's program version wrote."""
        at = TRADE_LAYOUTS.index(self.layout)
        usdc = self.quote_mint is not None
        sol_amount, vsr, rsr = (0, 0, 0) if usdc else (self.quote_amount, self.virtual_quote, self.real_quote)
        data = (
            TRADE_EVENT_DISCRIMINATOR
            + _key(self.mint)
            + struct.pack("<QQ?", sol_amount, self.token_amount, self.is_buy)
        )
        data += _key(self.user) + struct.pack("<q4Q", self.timestamp, vsr, self.virtual_tokens, rsr, self.real_tokens)
        if at >= 1:
            fee = self.quote_amount * 95 // 10_000
            data += _key(FEE_RECIPIENT) + struct.pack("<QQ", 95, fee) + _key(self.creator or self.user)
            data += struct.pack("<QQ", 30, self.quote_amount * 30 // 10_000)
        if at >= 2:
            data += struct.pack("<?QQQq", False, 0, 0, 0, 0)
        if at >= 3:
            name = (b"buy" if self.is_buy else b"sell") + (b"_v2" if usdc else b"")
            data += struct.pack("<I", len(name)) + name
        if at >= 4:
            data += struct.pack("<?", self.mayhem)
        if at >= 5:
            data += struct.pack("<QQ", 0, 0)
        if at >= 6:
            data += struct.pack("<QQI", 5000, self.quote_amount // 200, len(self.shareholders))
            for address, share in self.shareholders:
                data += _key(address) + struct.pack("<H", share)
            data += _key(self.quote_mint) + struct.pack("<QQQ", self.quote_amount, self.virtual_quote, self.real_quote)
        if at >= 7:
            data += bytes(9)  # what 2026-09's program writes past the newest IDL
        return data


def complete_event_payload(
    *, user: str, mint: str, bonding_curve: str, timestamp: int, quote_mint: str | None = None
) -> bytes:
    data = COMPLETE_EVENT_DISCRIMINATOR + _key(user) + _key(mint) + _key(bonding_curve) + struct.pack("<q", timestamp)
    return data + _key(quote_mint)


@dataclass
class Curve:
    """A coin's curve: buys and sells priced as the program prices them (fees left out: the
    event's amounts are the curve's)."""

    mint: str
    creator: str
    virtual_quote: int = 30_000_000_000
    virtual_tokens: int = 1_073_000_000_000_000
    real_quote: int = 0
    real_tokens: int = 793_100_000_000_000
    quote_mint: str | None = None
    layout: str = "may2026"
    mayhem: bool = False
    supply: int = 10**15  # Mayhem coins: twice that
    trades: list[Trade] = field(default_factory=list)

    def account(self) -> bytes:
        """The curve's account as the chain holds it now."""
        from tests.fakes.chain import curve_account

        return curve_account(
            virtual_tokens=self.virtual_tokens, virtual_quote=self.virtual_quote, real_tokens=self.real_tokens,
            real_quote=self.real_quote, quote_mint=self.quote_mint, supply=self.supply,
        )  # fmt: skip

    def buy(self, user: str, quote_amount: int, *, at: int) -> Trade:
        tokens = self.virtual_tokens - (self.virtual_quote * self.virtual_tokens) // (self.virtual_quote + quote_amount)
        tokens = min(tokens, self.real_tokens)
        return self._trade(user, True, quote_amount, tokens, at)

    def sell(self, user: str, token_amount: int, *, at: int) -> Trade:
        quote = self.virtual_quote - (self.virtual_quote * self.virtual_tokens) // (self.virtual_tokens + token_amount)
        return self._trade(user, False, min(quote, self.real_quote), token_amount, at)

    def _trade(self, user: str, is_buy: bool, quote: int, tokens: int, at: int) -> Trade:
        sign = 1 if is_buy else -1
        self.virtual_quote += sign * quote
        self.real_quote += sign * quote
        self.virtual_tokens -= sign * tokens
        self.real_tokens -= sign * tokens
        trade = Trade(
            mint=self.mint, user=user, is_buy=is_buy, quote_amount=quote, token_amount=tokens, timestamp=at,
            virtual_quote=self.virtual_quote, virtual_tokens=self.virtual_tokens, real_quote=self.real_quote,
            real_tokens=self.real_tokens, creator=self.creator, quote_mint=self.quote_mint, layout=self.layout,
            mayhem=self.mayhem,
        )  # fmt: skip
        self.trades.append(trade)
        return trade


ROUTER = "RoUTer1111111111111111111111111111111111111"  # a bot or aggregator that CPIs into pump


@dataclass
class TradeTx:
    """One transaction on the fake chain holding trades (a wallet's buy, a router's bundle...)."""

    signature: str
    block_time: int
    trades: list[Trade]
    emit: str = "both"  # "both", "inner" (logs truncated), "logs" (no self-CPI copy)
    router: bool = False  # the trades come through another program's CPI
    completes: list[bytes] = field(default_factory=list)  # CompleteEvent payloads after the trades
    amm: list[bytes] = field(default_factory=list)  # PumpSwap event payloads, after pump's
    kind: str = "trades"
    version: int = 0

    def log_lines(self) -> list[str]:
        from tokens.sources.chain.addresses import PUMP_AMM_PROGRAM, PUMP_PROGRAM

        depth, lines = 1, ["Program ComputeBudget111111111111111111111111111111 invoke [1]",
                           "Program ComputeBudget111111111111111111111111111111 success"]  # fmt: skip
        if self.router:
            lines += [f"Program {ROUTER} invoke [1]", "Program log: Instruction: Route"]
            depth = 2
        pump = [(PUMP_PROGRAM, payload) for payload in [t.payload() for t in self.trades] + self.completes]
        for program, payload in pump + [(PUMP_AMM_PROGRAM, payload) for payload in self.amm]:
            lines += [
                f"Program {program} invoke [{depth}]",
                "Program log: Instruction: Buy",
                "Program data: " + base64.b64encode(payload).decode(),
                f"Program {program} invoke [{depth + 1}]",
                f"Program {program} consumed 2003 of 150000 compute units",
                f"Program {program} success",
                f"Program {program} success",
            ]
        if self.router:
            lines.append(f"Program {ROUTER} success")
        if self.emit == "inner":
            lines = [*lines[:3], "Log truncated"]
        return lines

    def inner_payloads(self) -> list[bytes]:
        if self.emit == "logs":
            return []
        return [t.payload() for t in self.trades] + self.completes

    def mentions(self) -> set[str]:
        from tokens.sources.chain.addresses import PUMP_AMM_PROGRAM, PUMP_PROGRAM

        migrates = any(payload.startswith(MIGRATION_EVENT_DISCRIMINATOR) for payload in self.completes)
        programs = {PUMP_AMM_PROGRAM} if self.amm or migrates else set()  # a migration creates the pool
        return programs | ({PUMP_PROGRAM} if self.trades or self.completes or not self.amm else set())
