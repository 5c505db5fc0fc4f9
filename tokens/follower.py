"""The always-on feed: one run that follows new launches for every reader, whoever is logged in.

It is a `LoadRun` like any other (origin "follower"), so the page, the API and the run history show
it. Its first start loads the last FOLLOW_BACKFILL_MINUTES so a new board is not empty; every later
start continues from the previous feed's tail position (its last signature on the chain, its newest
launch time on the web API), so a restart leaves no gap. A person's Stop ends the feed; an upstream
failure restarts it after a pause.
"""

import asyncio
import logging

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import IntegrityError, transaction

from tokens.bot_settings import effective_batch_size
from tokens.liveness import process_is_gone
from tokens.loader import TAIL, execute_run
from tokens.models import BotSettings, LoadRun, Source
from tokens.run_watch import watch_runs
from tokens.upstream_clients import resolve_upstream

logger = logging.getLogger(__name__)
RESTART_WAIT = (5.0, 300.0)  # seconds: first pause after a failure, and the longest


class FollowerRunning(Exception):
    """Another process already follows new launches."""


async def follow_launches(*, restart_wait: tuple[float, float] = RESTART_WAIT) -> LoadRun:
    """Follow until a person stops the feed (returns its last run) or the task is cancelled."""
    wait, longest = restart_wait
    watcher = asyncio.create_task(watch_runs())  # the feed is always up: it also watches the others
    try:
        return await _follow(wait, longest)
    finally:
        watcher.cancel()


async def _follow(wait: float, longest: float) -> LoadRun:
    outage = None
    while True:
        try:
            run_id, resume = await sync_to_async(prepare_run)()
            run = await execute_run(run_id=run_id, resume=resume, wait_for_details=False)
        except FollowerRunning:
            raise
        except Exception as exc:  # the database (or the settings it holds) is away: wait, say so once
            if outage is None:
                why = type(exc).__name__
                logger.warning("the feed of new launches cannot run (%s); trying again with backoff", why)
            outage = type(exc).__name__
        else:
            if outage is not None:
                logger.warning("the feed of new launches runs again")
                outage = None
            if run.status != LoadRun.Status.FAILED:
                logger.info("the feed of new launches stopped (run %s %s)", run.pk, run.status)
                return run
            logger.warning("the feed of new launches failed (run %s): %s; again in %g s", run.pk, run.error, wait)
        await asyncio.sleep(wait)
        wait = min(wait * 2, longest)


def prepare_run() -> tuple[int, bool]:
    """The run to execute now, and whether it is resumed: an interrupted feed is resumed; otherwise a
    new run starts at the previous feed's tail position (or, the first time, loads the last hour)."""
    stored = BotSettings.get_solo()
    upstream = resolve_upstream(stored.upstream)
    with transaction.atomic():
        previous = LoadRun.objects.select_for_update().filter(origin=LoadRun.Origin.FOLLOWER).order_by("-pk").first()
        if previous is not None and previous.is_active:
            if not process_is_gone(previous.executed_by):
                where = previous.executed_by or "a process that has not started it yet"
                raise FollowerRunning(f"run {previous.pk} already follows new launches ({where})")
            previous.status = LoadRun.Status.INTERRUPTED
            previous.error = "interrupted: its process is gone; the next feed resumes it"
            previous.save(update_fields=["status", "error"])
        interrupted = (LoadRun.Status.INTERRUPTED, LoadRun.Status.FAILED)
        if previous is not None and previous.status in interrupted and previous.upstream == upstream:
            return previous.pk, True
        checkpoint = None
        if previous is not None and previous.upstream == upstream and _in_tail(previous.checkpoint):
            checkpoint = previous.checkpoint
        try:
            run = LoadRun.objects.create(
                source=Source.RECENT,
                days=settings.FOLLOW_BACKFILL_MINUTES / 1440,
                batch_size=effective_batch_size(stored),
                follow=True,
                upstream=upstream,
                origin=LoadRun.Origin.FOLLOWER,
                checkpoint=checkpoint,
            )
        except IntegrityError:
            raise FollowerRunning("another process started following new launches") from None
    return run.pk, False


def _in_tail(checkpoint) -> bool:
    return isinstance(checkpoint, dict) and checkpoint.get("phase") == TAIL
