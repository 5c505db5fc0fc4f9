"""Where a run executes: a loader worker when the deployment has them, else this web process.

With workers the run's row is the work: it waits `queued` in the database and any worker claims it
(see tokens/runs/queue.py). The channel-layer message only wakes a worker up early, so a layer outage
delays a run by a worker's poll, never loses it, and never fails the request that queued it."""

import asyncio
import logging

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from tokens.live.messages import LAYER_DEADLINE, LOADER_CHANNEL, run_start_message
from tokens.models import LoadRun
from tokens.runs import tasks

logger = logging.getLogger(__name__)


async def dispatch_run(*, run_id: int, resume: bool = False) -> str:
    """Hand the run over; returns a line for the person who asked."""
    if not settings.LOADER_WORKERS:
        tasks.start_in_server(run_id=run_id, resume=resume)
        return "started"
    if resume:
        await sync_to_async(requeue)(run_id)
    if await wake_workers(run_id=run_id, resume=resume):
        return "queued; a loader worker takes it now"
    return "queued; the channel layer is down, so a loader worker takes it on its next look at the queue"


def requeue(run_id: int) -> None:
    """A stopped run goes back to the queue; the worker that claims it resumes it."""
    LoadRun.objects.filter(pk=run_id, status__in=LoadRun.RESUMABLE_STATUSES).update(
        status=LoadRun.Status.QUEUED, cancel_requested=False, error="", finished_at=None
    )


async def wake_workers(*, run_id: int, resume: bool) -> bool:
    try:
        message = run_start_message(run_id=run_id, resume=resume)
        await asyncio.wait_for(get_channel_layer().send(LOADER_CHANNEL, message), LAYER_DEADLINE)
    except Exception as exc:
        logger.warning("run %s queued without waking a worker (channel layer: %s)", run_id, type(exc).__name__)
        return False
    return True
