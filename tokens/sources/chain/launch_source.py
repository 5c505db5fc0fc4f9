"""The chain as a `LaunchSource` (tokens/sources/base.py): a window by the mint authority's
signatures, and the live tail over the RPC's websocket (tokens/sources/chain/source.py reads both)."""

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AsyncExitStack
from types import ModuleType
from typing import Any

from tokens.sources.base import TAIL_PHASE, TRENDING, BatchCallback, Launch, Window
from tokens.sources.chain.launches import CHAIN
from tokens.sources.chain.lists import get_chain_recent_tokens, get_chain_trending_tokens
from tokens.sources.chain.source import ChainSource


class ChainLaunchSource:
    upstream = CHAIN
    can_backfill = True

    def __init__(self, *, reader: ChainSource, stack: AsyncExitStack | None = None) -> None:
        self.reader = reader
        self._stack = stack

    @classmethod
    async def open(cls, *, notice: Callable[[str], None], clients: ModuleType) -> "ChainLaunchSource":
        """With the settings' RPC (`clients` is tokens/sources/clients.py)."""
        stack = AsyncExitStack()
        rpc = await stack.enter_async_context(clients.solana_rpc(on_notice=notice))
        return cls(reader=clients.chain_source(rpc), stack=stack)

    async def aclose(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()

    async def backfill(
        self, window: Window, *, on_batch: BatchCallback, batch_size: Any, checkpoint: dict | None, seen: Iterable[str]
    ) -> str:
        common: dict[str, Any] = {
            "source": self.reader, "batch_callback": on_batch, "batch_size": batch_size, "now_ms": window.end_ms,
            "seen": seen,
        }  # fmt: skip
        if window.list_name == TRENDING:
            await get_chain_trending_tokens(window.days, limit=window.trending_limit, **common)
        else:
            # Hybrid is recent on the chain: every trending coin of the window is a launch in it.
            await get_chain_recent_tokens(window.days, resume_from=checkpoint, **common)
        return self.reader.reach.shortfall(
            upstream="the Solana RPC's history", advice="use an RPC that keeps a longer history to load older launches"
        )

    async def tail_start(self, checkpoint: dict | None, *, window: Window) -> dict[str, Any]:
        """After the backfill's newest transaction (or, for a window that held none, now)."""
        head = (checkpoint or {}).get("head") or await self.reader.newest_signature()
        return {"phase": TAIL_PHASE, "last": head, "done": []}

    def follow(self, position: dict[str, Any], *, window: Window, poll_seconds: float) -> AsyncIterator[list[Launch]]:
        return self.reader.follow(last=position["last"], done=position.get("done"), poll_seconds=poll_seconds)
