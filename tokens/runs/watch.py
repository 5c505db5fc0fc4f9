"""The owner of "is that run still alive?": a loop in the always-on feed and in every loader
worker that marks runs whose process died and tells the pages. Reads (pages, the API) never do.
Without workers, a run whose executor died is handed to `take_over` (the caller's way to run it)."""

import asyncio
import logging
from collections.abc import Callable

from asgiref.sync import sync_to_async
from django.conf import settings

from tokens.cancellation import raise_swallowed_cancellation
from tokens.live.messages import broadcast, run_message
from tokens.live.outage import Outage
from tokens.models import LoadRun
from tokens.runs.queue import Claimed, claim_next
from tokens.runs.requests import mark_stale_runs_interrupted

logger = logging.getLogger(__name__)


TakeOver = Callable[[Claimed], None]


async def watch_runs(*, take_over: TakeOver, interval: float | None = None) -> None:
    """Every two seconds at most (a dead process on this host is seen on the next turn)."""
    pause = min(settings.RUN_STALE_AFTER / 3, 2.0) if interval is None else interval
    health = Outage("the watch for dead runs", first_wait=pause, longest=max(pause, 30.0), log=logger)
    while True:
        raise_swallowed_cancellation()
        try:
            await check_runs(take_over=take_over)
        except Exception as exc:  # a database outage: said once, tried again with backoff
            await asyncio.sleep(health.failed(exc))
            continue
        health.ok()
        await asyncio.sleep(pause)


async def check_runs(*, take_over: TakeOver) -> list[int]:
    if not settings.LOADER_WORKERS:
        await _take_over_abandoned(take_over)
    marked = await sync_to_async(mark_stale_runs_interrupted)()
    for run_id in marked:
        run = await LoadRun.objects.aget(pk=run_id)
        logger.warning("run %s: %s", run.pk, run.error)
        await broadcast(run_message(run))
    return marked


async def _take_over_abandoned(take_over: TakeOver) -> None:
    """Without workers, the process that runs runs (the web server, the feed) continues a run whose
    executor died (a restart, kill -9) itself, up to MAX_AUTO_RESUMES times."""
    while (claimed := await sync_to_async(claim_next)(queued=False)) is not None:
        take_over(claimed)
