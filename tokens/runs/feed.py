"""The always-on feed: one run that follows new launches for every reader, whoever is logged in.

It is a `LoadRun` like any other (origin "follower"), so the page, the API and the run history show
it. Its first start loads the last FOLLOW_BACKFILL_MINUTES so a new board is not empty; every later
start continues from the previous feed's tail position (its last signature on the chain, its newest
launch time on the web API), so a restart leaves no gap. A person's Stop ends the feed; an upstream
failure restarts it after a pause. A feed whose process died or stopped renewing its lease, on any
host, is taken over by the next feed that starts. The feed also runs the trade stream
(tokens/trades), so every reader's trade figures move with it.
"""

import asyncio
import logging
import time
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from tokens.bot_settings import effective_batch_size
from tokens.cancellation import raise_swallowed_cancellation
from tokens.live.outage import Outage
from tokens.liveness import process_is_gone
from tokens.models import BotSettings, LoadRun, Source
from tokens.runs.loader import execute_run
from tokens.runs.tasks import take_over
from tokens.runs.warm import warm_up
from tokens.runs.watch import watch_runs
from tokens.sources.base import TAIL_PHASE
from tokens.sources.clients import resolve_upstream
from tokens.trades.service import follow_trades

logger = logging.getLogger(__name__)
RESTART_WAIT = (5.0, 300.0)  # seconds: first pause after a failure, and the longest


class FollowerRunning(Exception):
    """Another process already follows new launches."""


async def follow_launches(*, restart_wait: tuple[float, float] = RESTART_WAIT) -> LoadRun:
    """Follow until a person stops the feed (returns its last run) or the task is cancelled."""
    warm_up()
    wait, longest = restart_wait
    # The feed is always up: it also watches the other runs, and runs here those whose executor died.
    watcher = asyncio.create_task(watch_runs(take_over=take_over))
    # And every reader's trade figures: the pump program's transactions, followed here only.
    trades = asyncio.create_task(follow_trades())
    try:
        return await _follow(wait, longest)
    finally:
        watcher.cancel()
        trades.cancel()


async def _follow(wait: float, longest: float) -> LoadRun:
    """Runs the feed again after a failure, with backoff; an outage (the database away, runs failing
    one after another) is said once, and its end once."""
    health = Outage("the feed of new launches", first_wait=wait, longest=longest, log=logger)
    while True:
        raise_swallowed_cancellation()  # a stop asgiref swallowed: no new run after it
        started = time.monotonic()
        try:
            run_id, resume = await sync_to_async(prepare_run)()
            run = await execute_run(run_id=run_id, resume=resume, wait_for_details=False)
        except FollowerRunning:
            raise
        except Exception as exc:  # the database (or the settings it holds) is away
            await asyncio.sleep(health.failed(exc))
            continue
        if run.status != LoadRun.Status.FAILED:
            health.ok()
            logger.info("the feed of new launches stopped (run %s %s)", run.pk, run.status)
            return run
        if time.monotonic() - started > longest:
            health.ok()  # it had worked for a while: this failure starts a new outage
        await asyncio.sleep(health.failed(FeedRunFailed(f"run {run.pk} failed: {run.error}")))


class FeedRunFailed(Exception):
    """A run of the feed ended failed (its error says why); the feed starts another."""


def prepare_run() -> tuple[int, bool]:
    """The run to execute now, and whether it is resumed: an interrupted feed is resumed; otherwise a
    new run starts at the previous feed's tail position (or, the first time, loads the last hour)."""
    stored = BotSettings.get_solo()
    upstream = resolve_upstream(stored.upstream)
    with transaction.atomic():
        previous = LoadRun.objects.select_for_update().filter(origin=LoadRun.Origin.FOLLOWER).order_by("-pk").first()
        if previous is not None and previous.is_active:
            why = _abandoned(previous)
            if not why:
                where = previous.executed_by or "a process that has not started it yet"
                raise FollowerRunning(f"run {previous.pk} already follows new launches ({where})")
            logger.warning("run %s (the feed) %s; this process takes it over", previous.pk, why)
            previous.status = LoadRun.Status.INTERRUPTED
            previous.error = f"interrupted: {why}; the next feed resumes it"
            previous.lease_expires_at = None
            previous.save(update_fields=["status", "error", "lease_expires_at"])
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


def _abandoned(run: LoadRun) -> str:
    """Why a feed's row is free to take over, wherever its process ran ("" while it is alive): its
    process on this host is gone, or it stopped renewing its lease (a crashed or frozen host)."""
    if process_is_gone(run.executed_by):
        return f"its process ({run.executed_by}) is gone"
    now = timezone.now()
    if run.lease_expires_at is not None:
        if run.lease_expires_at < now:
            return f"its process ({run.executed_by or 'none'}) stopped renewing its lease"
        return ""
    last_sign = run.heartbeat_at or run.created_at
    if last_sign < now - timedelta(seconds=settings.RUN_STALE_AFTER):
        return f"its process ({run.executed_by or 'none'}) gave no sign of life for {settings.RUN_STALE_AFTER:g} s"
    return ""


def _in_tail(checkpoint) -> bool:
    return isinstance(checkpoint, dict) and checkpoint.get("phase") == TAIL_PHASE
