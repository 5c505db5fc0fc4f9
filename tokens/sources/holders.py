"""Holder counts from a DAS JSON-RPC provider (`getTokenAccounts`).

Holders are distinct owners with a non-zero balance: one owner can hold several accounts, and
accounts stay behind with a zero balance after a sale. Accounts that are not traders are not
holders, as pump.fun lists them apart: the bonding curve's own token account (it holds most of the
supply until graduation), the canonical pool's vault after it, Mayhem's vault; the caller names their
owners. Errors never mention the RPC URL, which
often carries an API key.
"""

import asyncio
from collections.abc import Collection
from typing import Any

import httpx

from tokens.sources.resilience import (
    RetriesExhausted,
    RetryPolicy,
    TransientError,
    call_with_retries,
    circuit,
    json_or_transient,
    send_or_transient,
    shared_limiter,
)
from tokens.sources.rpc import RATE_LIMITER_NAME, is_rate_limited
from tokens.sources.tls import SHARED_CONTEXT, pool_limits

PAGE_LIMIT = 1000
DEFAULT_CONCURRENCY = 8
MAX_PAGES = 10_000  # a provider that never stops handing out cursors must not hang a run


class HolderLookupError(Exception):
    """The RPC could not give a holder count for a mint."""


class HolderCounter:
    def __init__(
        self,
        *,
        rpc_url: str,
        concurrency: int = DEFAULT_CONCURRENCY,
        page_limit: int = PAGE_LIMIT,
        timeout: float = 15.0,
        retry: RetryPolicy | None = None,
        requests_per_second: float | None = None,
    ) -> None:
        self._rpc_url = rpc_url
        self._page_limit = page_limit
        self._retry = retry or RetryPolicy()
        self._rate = requests_per_second
        self._slots = asyncio.Semaphore(concurrency)
        self._http = httpx.AsyncClient(
            limits=pool_limits(concurrency),
            timeout=timeout,
            headers={"Content-Type": "application/json"},
            verify=SHARED_CONTEXT,
        )
        self._request_id = 0

    async def __aenter__(self) -> "HolderCounter":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._http.aclose()

    async def count(self, mint: str, *, not_holders: Collection[str] = ()) -> int:
        """Distinct owners with a balance, the owners in `not_holders` aside."""
        async with self._slots:
            owners: set[str] = set()
            cursor: str | None = None
            for _ in range(MAX_PAGES):
                result = await self._token_accounts(mint, cursor)
                accounts = result.get("token_accounts") or []
                owners.update(_owners_with_balance(accounts, mint))
                cursor = result.get("cursor")
                if not accounts or not cursor:
                    return len(owners.difference(not_holders))
            raise HolderLookupError(f"{mint}: more than {MAX_PAGES} pages of token accounts")

    async def _token_accounts(self, mint: str, cursor: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"mint": mint, "limit": self._page_limit}
        if cursor:
            params["cursor"] = cursor
        limiter = None if self._rate is None else shared_limiter(RATE_LIMITER_NAME, per_second=self._rate)
        try:
            return await call_with_retries(
                lambda: self._call("getTokenAccounts", params, mint=mint),
                policy=self._retry,
                limiter=limiter,
                breaker=circuit("the holder RPC"),
                what=f"{mint}: holder RPC",
            )
        except RetriesExhausted as exc:
            raise HolderLookupError(str(exc)) from exc

    async def _call(self, method: str, params: dict[str, Any], *, mint: str) -> dict[str, Any]:
        self._request_id += 1
        payload = {"jsonrpc": "2.0", "id": self._request_id, "method": method, "params": params}
        response = await send_or_transient(self._http.post(self._rpc_url, json=payload), deadline=self._retry.deadline)
        if response.status_code != 200:
            raise HolderLookupError(f"{mint}: holder RPC answered HTTP {response.status_code}")
        body = json_or_transient(response)
        if not isinstance(body, dict):
            raise HolderLookupError(f"{mint}: holder RPC sent {type(body).__name__}, expected an object")
        if body.get("error") is not None:
            raise _rpc_error(body["error"], mint=mint)
        result = body.get("result")
        if not isinstance(result, dict):
            raise HolderLookupError(f"{mint}: holder RPC result is missing")
        return result


def _rpc_error(error: Any, *, mint: str) -> Exception:
    """Rate-limit errors are worth a retry; any other JSON-RPC error is final for this mint."""
    detail = str(error.get("message") if isinstance(error, dict) else error)[:200]
    if is_rate_limited(error):
        return TransientError(f"rate limited ({detail})")
    return HolderLookupError(f"{mint}: holder RPC error: {detail}")


def _owners_with_balance(accounts: list[Any], mint: str) -> set[str]:
    owners = set()
    for account in accounts:
        if not isinstance(account, dict):
            raise HolderLookupError(f"{mint}: token account is not an object")
        owner, amount = account.get("owner"), _amount(account.get("amount"))
        if not isinstance(owner, str) or amount is None:
            raise HolderLookupError(f"{mint}: token account without an owner or a numeric amount")
        if amount > 0:
            owners.add(owner)
    return owners


def _amount(value: Any) -> int | None:
    """Raw token units; some providers send them as a decimal string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None
