"""Holder counts and the top-10 holders' share from a DAS JSON-RPC provider (`getTokenAccounts`).

Holders are distinct owners with a non-zero balance: one owner can hold several accounts, and
accounts stay behind with a zero balance after a sale. Accounts that are not traders are not
holders, as pump.fun lists them apart: the bonding curve's own token account (it holds most of the
supply until graduation), the canonical pool's vault after it, Mayhem's vault; the caller names their
owners. Errors never mention the RPC URL, which often carries an API key.

The same walk gives the top 10 holders' share: by owner (not by account, as `getTokenLargestAccounts`
would give them, curve and pool included), of everything the coin's accounts hold (its supply less
what was burned).
"""

import asyncio
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from tokens.sources.resilience import RetryPolicy
from tokens.sources.rpc import RpcCallError, RpcError, SolanaRpc

PAGE_LIMIT = 1000
DEFAULT_CONCURRENCY = 8
MAX_PAGES = 10_000  # a provider that never stops handing out cursors must not hang a run
TOP = 10


@dataclass(frozen=True)
class HolderSurvey:
    holders: int  # distinct owners with a balance, the non-holders aside
    top10_pct: float | None  # what the 10 largest of them hold, % of all the accounts hold (None: nothing)


class HolderLookupError(Exception):
    """The RPC could not give a holder count for a mint."""


class HolderCounter:
    """Holder counts through the one JSON-RPC client (tokens/sources/rpc.py): its retries, its
    circuit breaker and its call-rate budget for the endpoint, shared with every other RPC call.
    Given no client, it opens one of its own for `rpc_url`."""

    def __init__(
        self,
        *,
        rpc: SolanaRpc | None = None,
        rpc_url: str = "",
        concurrency: int = DEFAULT_CONCURRENCY,
        page_limit: int = PAGE_LIMIT,
        timeout: float = 15.0,
        retry: RetryPolicy | None = None,
        requests_per_second: float | None = None,
    ) -> None:
        self._own = rpc is None
        self._rpc = rpc or SolanaRpc(url=rpc_url, timeout=timeout, retry=retry, calls_per_second=requests_per_second)
        self._page_limit = page_limit
        self._slots = asyncio.Semaphore(concurrency)

    async def __aenter__(self) -> "HolderCounter":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._own:
            await self._rpc.aclose()

    async def count(self, mint: str, *, not_holders: Collection[str] = ()) -> int:
        """Distinct owners with a balance, the owners in `not_holders` aside."""
        return (await self.survey(mint, not_holders=not_holders)).holders

    async def survey(self, mint: str, *, not_holders: Collection[str] = ()) -> HolderSurvey:
        """Every token account of the mint, read once: the holder count and the top-10 share."""
        async with self._slots:
            balances: dict[str, int] = defaultdict(int)
            cursor: str | None = None
            for _ in range(MAX_PAGES):
                result = await self._token_accounts(mint, cursor)
                accounts = result.get("token_accounts") or []
                for owner, amount in _balances(accounts, mint):
                    balances[owner] += amount
                cursor = result.get("cursor")
                if not accounts or not cursor:
                    return _survey(balances, not_holders=set(not_holders))
            raise HolderLookupError(f"{mint}: more than {MAX_PAGES} pages of token accounts")

    async def _token_accounts(self, mint: str, cursor: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"mint": mint, "limit": self._page_limit}
        if cursor:
            params["cursor"] = cursor
        try:
            result = await self._rpc.call("getTokenAccounts", params)
        except RpcCallError as exc:
            raise HolderLookupError(f"{mint}: holder RPC error: {exc}") from None
        except RpcError as exc:
            raise HolderLookupError(f"{mint}: {exc}") from None
        if not isinstance(result, dict):
            raise HolderLookupError(f"{mint}: holder RPC result is missing")
        return result


def _balances(accounts: list[Any], mint: str) -> list[tuple[str, int]]:
    found = []
    for account in accounts:
        if not isinstance(account, dict):
            raise HolderLookupError(f"{mint}: token account is not an object")
        owner, amount = account.get("owner"), _amount(account.get("amount"))
        if not isinstance(owner, str) or amount is None:
            raise HolderLookupError(f"{mint}: token account without an owner or a numeric amount")
        if amount > 0:
            found.append((owner, amount))
    return found


def _survey(balances: dict[str, int], *, not_holders: set[str]) -> HolderSurvey:
    held = sorted((amount for owner, amount in balances.items() if owner not in not_holders), reverse=True)
    everything = sum(balances.values())
    top = round(100 * sum(held[:TOP]) / everything, 4) if everything else None
    return HolderSurvey(holders=len(held), top10_pct=top)


def _amount(value: Any) -> int | None:
    """Raw token units; some providers send them as a decimal string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None
