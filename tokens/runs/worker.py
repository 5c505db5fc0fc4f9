"""A loader worker: claims runs from the database queue (and adopts runs whose executor stopped
renewing its lease), executes them, and on SIGTERM/SIGINT hands its runs back to the queue (their
current batch committed, their checkpoints kept) so another worker continues at once. Outages of the
database or the channel layer pause it and are said once each, never end it."""

import asyncio
import contextlib
import contextvars
import logging

from asgiref.sync import sync_to_async
from django.conf import settings

from tokens.cancellation import raise_swallowed_cancellation
from tokens.runs.loader import execute_claimed
from tokens.runs.queue import claim_next
from tokens.runs.warm import warm_up
from tokens.store.lease import hand_over_on_stop

logger = logging.getLogger(__name__)


class WorkerLoop:
    def __init__(self, *, poll_seconds: float | None = None) -> None:
        self.poll = settings.WORKER_POLL_SECONDS if poll_seconds is None else poll_seconds
        self.wake = asyncio.Event()
        self.runs: set[asyncio.Task] = set()
        self._stopping = False
        self._outage: str | None = None

    async def run(self) -> None:
        warm_up()
        logger.info("loader worker looking for runs every %g s", self.poll)
        while not self._stopping:
            raise_swallowed_cancellation()  # a stop asgiref swallowed in the last claim
            claimed = await self._claim()
            if claimed is not None:
                self._start(claimed)
                continue  # there may be more waiting
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.poll)

    async def _claim(self):
        if len(self.runs) >= settings.WORKER_MAX_RUNS:
            return None
        try:
            claimed = await sync_to_async(claim_next)()
        except Exception as exc:
            if self._outage is None:
                why = type(exc).__name__
                logger.warning("the run queue cannot be read (%s); trying again every %g s", why, self.poll)
            self._outage = type(exc).__name__
            return None
        if self._outage is not None:
            logger.warning("the run queue can be read again")
            self._outage = None
        return claimed

    def _start(self, claimed) -> None:
        task = asyncio.get_running_loop().create_task(
            execute_claimed(claimed.run, resume=claimed.resume),
            name=f"load-run-{claimed.run.pk}",
            context=contextvars.Context(),
        )
        self.runs.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self.runs.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("a run's task ended with %s", task.exception())
        self.wake.set()  # room for the next run

    async def stop(self, *, grace: float = 30.0) -> None:
        """Hand every run back to the queue and stop looking for more."""
        self._stopping = True
        self.wake.set()
        hand_over_on_stop()
        for task in self.runs:
            task.cancel()
        if self.runs:
            await asyncio.wait(self.runs, timeout=grace)
