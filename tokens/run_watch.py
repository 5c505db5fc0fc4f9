"""The owner of "is that run still alive?": a loop in the always-on feed and in every loader
worker that marks runs whose process died and tells the pages. Reads (pages, the API) never do."""

import asyncio
import logging

from asgiref.sync import sync_to_async
from django.conf import settings

from tokens.messages import broadcast, run_message
from tokens.models import LoadRun
from tokens.outage import Outage
from tokens.queue import claim_next
from tokens.runs import mark_stale_runs_interrupted

logger = logging.getLogger(__name__)


async def watch_runs(*, interval: float | None = None) -> None:
    """Every two seconds at most (a dead process on this host is seen on the next turn)."""
    pause = min(settings.RUN_STALE_AFTER / 3, 2.0) if interval is None else interval
    health = Outage("the watch for dead runs", first_wait=pause, longest=max(pause, 30.0), log=logger)
    while True:
        try:
            await check_runs()
        except Exception as exc:  # a database outage: said once, tried again with backoff
            await asyncio.sleep(health.failed(exc))
            continue
        health.ok()
        await asyncio.sleep(pause)


async def check_runs() -> list[int]:
    if not settings.LOADER_WORKERS:
        await _take_over_abandoned()
    marked = await sync_to_async(mark_stale_runs_interrupted)()
    for run_id in marked:
        run = await LoadRun.objects.aget(pk=run_id)
        logger.warning("run %s: %s", run.pk, run.error)
        await broadcast(run_message(run))
    return marked


async def _take_over_abandoned() -> None:
    """Without workers, the process that runs runs (the web server, the feed) continues a run whose
    executor died (a restart, kill -9) itself, up to MAX_AUTO_RESUMES times."""
    from tokens import runner  # the runner imports this module's loop

    while (claimed := await sync_to_async(claim_next)(queued=False)) is not None:
        runner.execute_in_server(claimed.run, resume=claimed.resume)
