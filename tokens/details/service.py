"""One detail stage and one live refresh per process (per event loop), shared by every run the
process executes and by `manage.py fetch_details`.

The first user starts them with their fetchers (the chain's curves with an RPC, holder counts with
DAS, metadata documents); the last one stops them, so a command-line load ends clean and the
always-on feed keeps them for as long as it runs. While one of their loops is down
(tokens/live/outage.py), every run attached here shows it in its `degraded` field and on its pages, and
the note goes when the loop is back.
"""

import asyncio
import contextvars
import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress

from asgiref.sync import sync_to_async
from django.conf import settings

from tokens.cancellation import raise_swallowed_cancellation
from tokens.details.stage import DetailStage, LiveRefresh
from tokens.live.messages import broadcast, run_message
from tokens.models import LoadRun
from tokens.sources.clients import chain_source, holder_counter, metadata_fetcher, solana_rpc
from tokens.store.lease import Lease, LeaseLost, fenced_update

logger = logging.getLogger(__name__)
REPORT_RETRY_SECONDS = 5.0  # a note that could not be written (the database away) is tried again


class DetailService:
    def __init__(self) -> None:
        self.stage: DetailStage | None = None
        self.refresh: LiveRefresh | None = None
        self._stack: AsyncExitStack | None = None
        self._loops: list[asyncio.Task] = []
        self._users = 0
        self._runs: dict[int, Lease] = {}
        self._shown: dict[int, str] = {}  # the note each attached run shows now
        self._changed = asyncio.Event()
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def use(self, lease: Lease | None = None) -> AsyncIterator[DetailStage]:
        """The process's stage while the block runs; a run's lease gets its health notes."""
        async with self._lock:
            if self._users == 0:
                await self._start()
            self._users += 1
        if lease is not None:
            self._runs[lease.run_id] = lease
            self._shown[lease.run_id] = ""  # a claim clears the note (tokens/store/lease.py)
            self._changed.set()
        try:
            assert self.stage is not None
            yield self.stage
        finally:
            # No await before the count is down: a second cancellation cannot leave it high.
            if lease is not None:
                self._runs.pop(lease.run_id, None)
                self._shown.pop(lease.run_id, None)
            self._users -= 1
            if self._users == 0:
                # Shielded: the stop finishes (clients closed, loops ended) even if this task is
                # cancelled again while it runs.
                await asyncio.shield(self._stop_unused())

    def degraded(self) -> str:
        """What is down now, in words a reader may see ("" when everything works)."""
        if self.stage is None:
            return ""
        outages = [*self.stage.health.values(), *([self.refresh.health] if self.refresh else [])]
        return "; ".join(outage.for_readers() for outage in outages if outage.down)[:300]

    async def _start(self) -> None:
        stack = AsyncExitStack()
        try:
            # One RPC client for the curves and the holder counts: one call budget, one breaker.
            rpc = await stack.enter_async_context(solana_rpc(on_notice=_notice)) if settings.SOLANA_RPC_URL else None
            chain = chain_source(rpc) if rpc is not None else None
            holders, metadata = holder_counter(rpc), metadata_fetcher()
            if metadata is not None:
                await stack.enter_async_context(metadata)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        self.stage = DetailStage(chain=chain, holders=holders, metadata=metadata, on_health_change=self._changed.set)
        # Fresh contexts: the loops serve every run, so they must not carry the first run's retry
        # listener (its `retrying` note and pages), or anything else of the task that started them.
        self._loops = [_task(self.stage.run(), "detail-stage")]
        if chain is not None:
            self.refresh = LiveRefresh(self.stage, on_health_change=self._changed.set)
            self._loops.append(_task(self.refresh.run(), "live-refresh"))
        self._loops.append(_task(self._report(), "detail-health"))
        logger.info("details stage started: %s", ", ".join(self.stage.kinds()) or "nothing to fetch here")

    async def _stop_unused(self) -> None:
        async with self._lock:
            if self._users > 0 or self.stage is None:
                return  # another run started using it meanwhile
            loops, stack = self._loops, self._stack
            self.stage, self.refresh, self._stack, self._loops = None, None, None, []
            for loop in loops:
                loop.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            # A cancelled database call still runs to its end in asgiref's thread: wait for it.
            await sync_to_async(lambda: None)()
            if stack is not None:
                await stack.aclose()

    async def _report(self) -> None:
        """Each attached run shows what is down; a note that could not be written is tried again."""
        while True:
            raise_swallowed_cancellation()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), REPORT_RETRY_SECONDS)
            self._changed.clear()
            note = self.degraded()
            for run_id, lease in list(self._runs.items()):
                if self._shown.get(run_id) == note:
                    continue
                try:
                    await sync_to_async(fenced_update)(lease, degraded=note)
                    run = await LoadRun.objects.aget(pk=run_id)
                except LeaseLost:
                    self._runs.pop(run_id, None)
                    continue
                except Exception:  # the database is away too: the next turn tries again
                    continue
                self._shown[run_id] = note
                await broadcast(run_message(run))


def _task(coroutine, name: str) -> asyncio.Task:
    return asyncio.get_running_loop().create_task(coroutine, name=name, context=contextvars.Context())


def _notice(text: str) -> None:
    logger.warning("details: %s", text)


_services: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, DetailService]" = weakref.WeakKeyDictionary()


def details_service() -> DetailService:
    """This process's service (one per event loop: tests run each on a loop of its own)."""
    loop = asyncio.get_running_loop()
    if loop not in _services:
        _services[loop] = DetailService()
    return _services[loop]
