"""PumpPortal as a `LaunchSource` (tokens/sources/base.py) that can only follow.

One connection per process, never two: PumpPortal bans an address that opens more for an hour, so a
second source in this process does not connect, and a ban, when one comes, is waited out by the
whole process (a source opened by the feed's next run does not knock again), said once.
`subscribeNewToken` announces each create in UI units (tokens and SOL, not base units) and without a
creation time: the time it arrived stands in, and the chain's record, when the chain's tail delivers
the same launch later, is the one the merge drops (first seen wins).
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from types import ModuleType
from typing import Any

import orjson
import websockets
from django.conf import settings

from tokens.sources.base import Launch, Window

PUMPPORTAL = "pumpportal"
DEFAULT_URL = "wss://pumpportal.fun/api/data"
BAN_SECONDS = 3600.0  # how long PumpPortal bans an address that opened a second connection
IDLE_SECONDS = 1.0
LAMPORTS_PER_SOL = 1_000_000_000
TOKEN_BASE_UNITS = 1_000_000  # 6 decimals
# Close codes and handshake answers PumpPortal bans with.
_BAN_CLOSE_CODES = {1008, 4003, 4029}
_BAN_STATUSES = {403, 429}

logger = logging.getLogger(__name__)
_connected = False  # this process holds its one connection
_banned_until = 0.0  # monotonic time until which PumpPortal refuses this address


class PumpPortalLaunchSource:
    upstream = PUMPPORTAL
    can_backfill = False

    def __init__(self, *, url: str, reconnect: tuple[float, float] = (1.0, 60.0)) -> None:
        self.url = url
        self.reconnect = reconnect
        self.announced = 0  # creates it delivered
        self.skipped = 0  # frames it could not read

    @classmethod
    async def open(cls, *, notice: Callable[[str], None], clients: ModuleType) -> "PumpPortalLaunchSource":
        return cls(url=getattr(settings, "PUMPPORTAL_URL", DEFAULT_URL))

    async def aclose(self) -> None:
        return None

    async def backfill(self, window: Window, **kwargs: Any) -> str:
        raise NotImplementedError("PumpPortal only follows new launches; it has no history to backfill")

    async def tail_start(self, checkpoint: dict | None, *, window: Window) -> dict[str, Any]:
        return {}

    async def follow(
        self, position: dict[str, Any], *, window: Window, poll_seconds: float
    ) -> AsyncIterator[list[Launch]]:
        """New creates as they are announced, for ever; an empty page every second without news."""
        global _connected
        if _connected:
            logger.warning("PumpPortal: this process is connected already; a second connection would be banned")
            async for page in _idle(float("inf")):
                yield page
        _connected = True
        try:
            async for page in self._connected_pages():
                yield page
        finally:
            _connected = False

    async def _connected_pages(self) -> AsyncIterator[list[Launch]]:
        wait, longest = self.reconnect
        while True:
            if (banned_for := _banned_until - time.monotonic()) > 0:
                async for page in _idle(banned_for):
                    yield page
                continue
            try:
                async for page in self._session():
                    wait = self.reconnect[0]
                    yield page
            except _Banned as ban:
                _note_ban(str(ban))
            except (OSError, TimeoutError, websockets.WebSocketException) as exc:
                logger.warning("PumpPortal: connection lost (%s); again in %.0f s", type(exc).__name__, wait)
                async for page in _idle(wait):
                    yield page
                wait = min(wait * 2, longest)

    async def _session(self) -> AsyncIterator[list[Launch]]:
        try:
            connection = await websockets.connect(self.url, open_timeout=10, max_size=2**20)
        except websockets.InvalidStatus as exc:
            if exc.response.status_code in _BAN_STATUSES:
                raise _Banned(f"HTTP {exc.response.status_code}") from None
            raise
        async with connection as ws:
            await ws.send(orjson.dumps({"method": "subscribeNewToken"}).decode())
            while True:
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=IDLE_SECONDS)
                except TimeoutError:
                    yield []
                    continue
                except websockets.ConnectionClosed as closed:
                    code = closed.rcvd.code if closed.rcvd is not None else None
                    if code in _BAN_CLOSE_CODES:
                        raise _Banned(f"closed with {code}") from None
                    raise
                launch = self._launch(raw)
                if launch is not None:
                    self.announced += 1
                    yield [launch]

    def _launch(self, raw: Any) -> Launch | None:
        """A create announcement as a launch; anything else (the subscription's answer, a frame that
        is not JSON) is skipped, and a frame it cannot read is said once."""
        try:
            message = orjson.loads(raw)
        except (orjson.JSONDecodeError, TypeError):
            message = None
        if not isinstance(message, dict):
            self.skipped += 1
            if self.skipped == 1:
                logger.warning("PumpPortal: skipped a frame that is not a JSON object")
            return None
        if message.get("txType") != "create":
            return None
        return Launch(
            mint=message.get("mint"),
            upstream=PUMPPORTAL,
            name=message.get("name"),
            symbol=message.get("symbol"),
            metadata_uri=message.get("uri"),
            creator=message.get("traderPublicKey"),
            bonding_curve=message.get("bondingCurveKey"),
            signature=message.get("signature"),
            created_ms=int(time.time() * 1000),  # no creation time in the message: when it arrived
            market_cap_sol=message.get("marketCapSol"),
            virtual_sol_lamports=_scaled(message.get("vSolInBondingCurve"), LAMPORTS_PER_SOL),
            virtual_token_reserves=_scaled(message.get("vTokensInBondingCurve"), TOKEN_BASE_UNITS),
        )


class _Banned(Exception):
    """PumpPortal refuses this address for a while."""


def _note_ban(reason: str) -> None:
    """The whole process keeps away until the ban is over (a process-wide fact, like the connection)."""
    global _banned_until
    _banned_until = time.monotonic() + BAN_SECONDS
    logger.warning("PumpPortal banned this address (%s); not connecting for %.0f s", reason, BAN_SECONDS)


def _scaled(value: Any, factor: int) -> Any:
    """UI units to base units; anything that is not a number passes on for validation to refuse."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return value * factor


async def _idle(seconds: float) -> AsyncIterator[list[Launch]]:
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        await asyncio.sleep(min(IDLE_SECONDS, left))
        yield []
