"""Graduated coins' PumpSwap pools over RPC: found once, then priced from their two vaults.

Finding a coin's pool reads, in one `getMultipleAccounts`, its canonical pool PDA, the vault
addresses that pool must have (its associated token accounts: the base one under SPL Token or
Token-2022, so both are asked) and the coin's mint (its supply): one round trip from a migration to
a price, 20 coins a call. Every account is checked before it is believed: the pool's owner program,
its mints, the vaults' mint and owner. Pricing a pool already found reads its two vaults only, 50
pools a call. Pure reading; what a reading means for a token is the caller's.
"""

import asyncio
import base64
import binascii
from dataclasses import dataclass
from typing import Any

from tokens.sources.chain.addresses import (
    TOKEN_2022_PROGRAM,
    TOKEN_PROGRAM,
    USDC_MINT,
    WSOL_MINT,
)
from tokens.sources.chain.curve import InvalidAccount
from tokens.sources.chain.pdas import associated_token_address, canonical_pool_address
from tokens.sources.chain.pools import decode_pool, mint_supply, token_account_amount
from tokens.sources.rpc import SolanaRpc

PRICED, MIGRATING, UNREADABLE = "priced", "migrating", "unreadable"
FIND_PER_CALL = 20  # five accounts a coin: the pool, two base-vault candidates, the quote vault, the mint
PRICE_PER_CALL = 50  # two vaults a pool
TOKEN_PROGRAMS = (TOKEN_PROGRAM, TOKEN_2022_PROGRAM)
_OPTIONS = {"encoding": "base64", "commitment": "confirmed"}


class PoolReadError(Exception):
    """The RPC answered with something that is not the accounts asked for."""


@dataclass(frozen=True, slots=True)
class PoolVaults:
    """Where a coin's pool keeps its reserves, and the coin's supply when its mint was read."""

    pool: str
    base_vault: str
    quote_vault: str
    quote_mint: str
    supply: int | None
    virtual_quote: int | None = None  # the pool's signed virtual quote reserves, when it has them


@dataclass(frozen=True, slots=True)
class PoolReading:
    mint: str
    status: str  # PRICED, MIGRATING (no pool yet) or UNREADABLE (`reason` says why)
    vaults: PoolVaults | None = None
    base_amount: int | None = None
    quote_amount: int | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class _Account:
    data: bytes
    owner: str


class PoolReader:
    def __init__(self, *, rpc: SolanaRpc) -> None:
        self.rpc = rpc
        self.calls = 0

    async def find(self, quotes: dict[str, str]) -> dict[str, PoolReading]:
        """Each coin's canonical pool, checked and priced (`quotes`: mint -> "SOL" or "USDC")."""
        mints = [mint for mint in quotes if _is_key(mint)]
        groups = [mints[i : i + FIND_PER_CALL] for i in range(0, len(mints), FIND_PER_CALL)]
        found: dict[str, PoolReading] = {}
        for answer in await asyncio.gather(*(self._find(group, quotes) for group in groups)):
            found.update(answer)
        return found

    async def price(self, pools: dict[str, PoolVaults]) -> dict[str, PoolReading]:
        """Each found pool's vault balances now."""
        items = list(pools.items())
        groups = [dict(items[i : i + PRICE_PER_CALL]) for i in range(0, len(items), PRICE_PER_CALL)]
        found: dict[str, PoolReading] = {}
        for answer in await asyncio.gather(*(self._price(group) for group in groups)):
            found.update(answer)
        return found

    async def _find(self, mints: list[str], quotes: dict[str, str]) -> dict[str, PoolReading]:
        plans = {mint: _plan(mint, quotes[mint]) for mint in mints}
        accounts = await self._accounts([key for plan in plans.values() for key in plan.keys_to_read()])
        found = {mint: _found(mint, plan, accounts) for mint, plan in plans.items()}
        # A pool whose vaults are not its associated token accounts (never seen on a migration pool,
        # but the account says where they are): one more read for those.
        elsewhere = {m: r.vaults for m, r in found.items() if r.status == PRICED and r.base_amount is None}
        if elsewhere:
            found.update(await self._price(elsewhere))
        return found

    async def _price(self, pools: dict[str, PoolVaults]) -> dict[str, PoolReading]:
        accounts = await self._accounts([key for v in pools.values() for key in (v.base_vault, v.quote_vault)])
        return {mint: _priced(mint, vaults, accounts) for mint, vaults in pools.items()}

    async def _accounts(self, keys: list[str]) -> dict[str, _Account]:
        self.calls += 1
        result = await self.rpc.call("getMultipleAccounts", [keys, _OPTIONS])
        values = result.get("value") if isinstance(result, dict) else None
        if not isinstance(values, list) or len(values) != len(keys):
            raise PoolReadError("getMultipleAccounts answered with the wrong number of accounts")
        accounts = {}
        for key, value in zip(keys, values, strict=True):
            account = _account(value)
            if account is not None:
                accounts[key] = account
        return accounts


@dataclass(frozen=True, slots=True)
class _Plan:
    pool: str
    quote_mint: str
    base_candidates: tuple[str, ...]
    quote_vault: str
    mint: str

    def keys_to_read(self) -> list[str]:
        return [self.pool, *self.base_candidates, self.quote_vault, self.mint]


def _plan(mint: str, quote: str) -> _Plan:
    quote_mint = USDC_MINT if quote == "USDC" else WSOL_MINT
    pool = canonical_pool_address(mint, quote=quote)
    candidates = tuple(associated_token_address(pool, mint, token_program=p) for p in TOKEN_PROGRAMS)
    quote_vault = associated_token_address(pool, quote_mint, token_program=TOKEN_PROGRAM)
    return _Plan(pool=pool, quote_mint=quote_mint, base_candidates=candidates, quote_vault=quote_vault, mint=mint)


def _found(mint: str, plan: _Plan, accounts: dict[str, _Account]) -> PoolReading:
    account = accounts.get(plan.pool)
    if account is None:
        return PoolReading(mint, MIGRATING, reason="no pool account yet")
    try:
        pool = decode_pool(account.data, owner=account.owner)
    except InvalidAccount as exc:
        return PoolReading(mint, UNREADABLE, reason=f"pool {plan.pool}: {exc}")
    if pool.base_mint != mint or pool.quote_mint != plan.quote_mint:
        return PoolReading(mint, UNREADABLE, reason=f"pool {plan.pool} holds other mints")
    supply = _supply(accounts.get(mint))
    vaults = PoolVaults(
        pool=plan.pool, base_vault=pool.pool_base_token_account, quote_vault=pool.pool_quote_token_account,
        quote_mint=pool.quote_mint, supply=supply, virtual_quote=pool.virtual_quote_reserves,
    )  # fmt: skip
    if vaults.base_vault not in plan.base_candidates or vaults.quote_vault != plan.quote_vault:
        return PoolReading(mint, PRICED, vaults=vaults)  # amounts read next (PoolReader._find)
    return _priced(mint, vaults, accounts)


def _priced(mint: str, vaults: PoolVaults, accounts: dict[str, _Account]) -> PoolReading:
    try:
        base = _balance(accounts.get(vaults.base_vault), mint=mint, pool=vaults.pool)
        quote = _balance(accounts.get(vaults.quote_vault), mint=vaults.quote_mint, pool=vaults.pool)
    except InvalidAccount as exc:
        return PoolReading(mint, UNREADABLE, vaults=vaults, reason=f"pool {vaults.pool}: {exc}")
    return PoolReading(mint, PRICED, vaults=vaults, base_amount=base, quote_amount=quote)


def _balance(account: _Account | None, *, mint: str, pool: str) -> int:
    if account is None:
        raise InvalidAccount("a vault account is missing")
    if account.owner not in TOKEN_PROGRAMS:
        raise InvalidAccount(f"a vault owned by {account.owner}, not a token program")
    return token_account_amount(account.data, mint=mint, owner=pool)


def _supply(account: _Account | None) -> int | None:
    if account is None or account.owner not in TOKEN_PROGRAMS:
        return None
    try:
        return mint_supply(account.data) or None
    except InvalidAccount:
        return None


def _account(value: Any) -> _Account | None:
    if not isinstance(value, dict) or not isinstance(value.get("owner"), str):
        return None
    data = value.get("data")
    if not isinstance(data, list) or len(data) != 2 or data[1] != "base64" or not isinstance(data[0], str):
        return None
    try:
        return _Account(data=base64.b64decode(data[0], validate=True), owner=value["owner"])
    except (binascii.Error, ValueError):
        return None


def _is_key(text: str) -> bool:
    try:
        canonical_pool_address(text)
    except ValueError:
        return False
    return True
