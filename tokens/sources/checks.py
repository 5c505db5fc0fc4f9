"""What each configured upstream can do right now, for `manage.py check_upstreams`."""

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
import websockets
from django.conf import settings

from tokens.sources.chain.addresses import MINT_AUTHORITY, USDC_MINT
from tokens.sources.chain.curve import InvalidAccount, decode_pyth_price
from tokens.sources.chain.source import _account_bytes, _subscribe_request, _subscription_id
from tokens.sources.clients import pumpfun_client, solana_rpc, websocket_url
from tokens.sources.pumpfun_api.client import PumpFunError
from tokens.sources.redaction import redact_url
from tokens.sources.resilience import RetryPolicy
from tokens.sources.rpc import MethodNotFound, RpcError

ONE_TRY = RetryPolicy(attempts=1)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class UpstreamReport:
    name: str
    url: str
    configured: bool
    reachable: bool = False
    latency_ms: float | None = None
    detail: str = ""
    offers: list[Check] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "configured": self.configured,
            "reachable": self.reachable,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms),
            "detail": self.detail,
            "offers": {check.name: {"ok": check.ok, "detail": check.detail} for check in self.offers},
        }


async def check_web_api() -> UpstreamReport:
    report = UpstreamReport(name="pump.fun web API", url=settings.PUMPFUN_API_URL, configured=True)
    client = pumpfun_client()
    client._retry = ONE_TRY
    client.page_limit = 1
    async with client:
        started = time.monotonic()
        try:
            page = await client.fetch_coins(offset=0, sort="created_timestamp", include_nsfw=True)
        except PumpFunError as exc:
            report.detail = str(exc)
            return report
    report.latency_ms = (time.monotonic() - started) * 1000
    report.reachable = True
    report.detail = f"answered a page of {len(page)} coin(s); reaches back about an hour at most"
    return report


async def check_chain() -> UpstreamReport:
    url = settings.SOLANA_RPC_URL
    report = UpstreamReport(name="Solana RPC", url=redact_url(url) if url else "not set", configured=bool(url))
    if not url:
        report.detail = "set SOLANA_RPC_URL to load launches (and holder counts) from the chain"
        return report
    rpc = solana_rpc()
    rpc._retry = ONE_TRY
    async with rpc:
        started = time.monotonic()
        try:
            newest = await rpc.call("getSignaturesForAddress", [MINT_AUTHORITY, {"limit": 1}])
        except RpcError as exc:
            report.detail = str(exc)
            return report
        report.latency_ms = (time.monotonic() - started) * 1000
        report.reachable = True
        report.detail = "newest launch signature seen" if newest else "no launch signatures returned"
        report.offers = [
            await _batches(rpc),
            await _offers(
                rpc, "getTransactionsForAddress", [MINT_AUTHORITY, {"transactionDetails": "signatures", "limit": 1}]
            ),
            await _offers(
                rpc, "DAS getTokenAccounts (holder counts)", {"mint": USDC_MINT, "limit": 1}, method="getTokenAccounts"
            ),
            await _websocket(),
            await _price(rpc),
        ]
    return report


async def _batches(rpc) -> Check:
    try:
        await rpc._send_batch("getSignaturesForAddress", [[MINT_AUTHORITY, {"limit": 1}]] * 2)
    except Exception as exc:  # any refusal or failure means: no batches here
        return Check("JSON-RPC batches", False, f"refused ({type(exc).__name__}); single calls will be sent")
    return Check("JSON-RPC batches", True, f"yes; {settings.SOLANA_RPC_BATCH_SIZE} calls per array")


async def _offers(rpc, name: str, params: Any, *, method: str | None = None) -> Check:
    try:
        await rpc.call(method or name, params)
    except MethodNotFound:
        return Check(name, False, "not offered")
    except RpcError as exc:
        return Check(name, False, str(exc)[:160])
    return Check(name, True, "offered")


async def _websocket() -> Check:
    url = websocket_url()
    if not url:
        return Check("websocket logsSubscribe", False, "no websocket URL; the live tail polls")
    try:
        async with asyncio.timeout(10), websockets.connect(url, open_timeout=10) as ws:
            await ws.send(orjson.dumps(_subscribe_request()).decode())
            await _subscription_id(ws)
    except Exception as exc:  # a refused handshake, a timeout, a refused subscription
        return Check("websocket logsSubscribe", False, f"{type(exc).__name__}: {str(exc)[:120]}; the live tail polls")
    return Check("websocket logsSubscribe", True, f"subscribed at {redact_url(url)}")


async def _price(rpc) -> Check:
    name = "Pyth SOL/USD"
    try:
        result = await rpc.call("getMultipleAccounts", [[settings.PYTH_SOL_USD_ACCOUNT], {"encoding": "base64"}])
        data = _account_bytes((result.get("value") or [None])[0])
        if data is None:
            return Check(name, False, f"account {settings.PYTH_SOL_USD_ACCOUNT} not found; USD values stay unknown")
        price = decode_pyth_price(data)
    except (RpcError, InvalidAccount, AttributeError) as exc:
        return Check(name, False, f"{str(exc)[:160]}; USD values stay unknown")
    age = time.time() - price.publish_time
    fresh = age <= 300
    note = "" if fresh else " (stale: older than 5 minutes, USD values stay unknown)"
    return Check(name, fresh, f"${price.usd:,.2f}, {age:.0f} s old{note}")


async def check_all() -> list[UpstreamReport]:
    return list(await asyncio.gather(check_web_api(), check_chain()))
