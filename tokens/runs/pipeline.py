"""A run's work, whatever its source: backfill the window in batches, then follow new launches; each
batch processed, stored in one transaction, then broadcast; the details after the rows.

The pipeline drives any `LaunchSource` (tokens/sources/base.py) the same way and never asks which
upstream it is: the run's `upstream` names the source (settings.LAUNCH_SOURCES), and the feed's tail
merges in the live sources LIVE_SOURCES names (tokens/sources/merge.py).
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack, aclosing
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings

from tokens.cancellation import raise_swallowed_cancellation
from tokens.details.service import details_service
from tokens.details.stage import wait_for_run_details
from tokens.live.messages import batch_message, broadcast, run_message
from tokens.models import BotSettings, LoadRun, Token
from tokens.runs.progress import TotalEstimator
from tokens.sources.base import RECENT, TAIL_PHASE, Launch, LaunchSource, Window
from tokens.sources.batcher import AdaptiveBatchSize
from tokens.sources.merge import merged_follow
from tokens.sources.pumpfun_api.client import cutoff_ms_for
from tokens.sources.registry import launch_source
from tokens.store.batches import store_batch
from tokens.store.filters import FilterRules, rules_from
from tokens.store.lease import Lease, RunCancelled, fenced_update, lease_of
from tokens.store.processing import NO_DETAILS, DetailPlan, process_batch
from tokens.store.statements import values_in

logger = logging.getLogger(__name__)
ProgressHook = Callable[[LoadRun], None]


class RunConfigurationError(Exception):
    """The settings ask for something this deployment cannot do."""


async def load(
    run: LoadRun, *, announced: asyncio.Future, on_progress: ProgressHook | None, wait_for_details: bool
) -> None:
    stored = await sync_to_async(BotSettings.get_solo)()
    if stored.min_holders is not None and (not settings.SOLANA_RPC_URL or not settings.COUNT_HOLDERS):
        raise RunConfigurationError("the min holders filter needs holder counts: SOLANA_RPC_URL set, COUNT_HOLDERS on")
    seen = await sync_to_async(_mints_already_delivered)(run)
    async with AsyncExitStack() as stack:
        # The details stage and the live market caps of this process run beside the backfill and the
        # tail, shared with every other run here.
        stage = await stack.enter_async_context(details_service().use(lease_of(run)))
        plan = DetailPlan(curve_state=stage.chain is not None, holders=stage.holders is not None,
                          metadata=stage.metadata is not None)  # fmt: skip
        on_batch = batch_handler(run, stored, plan=plan, announced=announced, on_progress=on_progress)
        source = await stack.enter_async_context(launch_source(run.upstream, notice=_run_notice(run.pk)))
        window = _window(run, stored)
        if source.can_backfill and not _in_tail_phase(run.checkpoint):
            warning = await source.backfill(
                window, on_batch=on_batch, batch_size=_batch_size(run, stored), checkpoint=run.checkpoint, seen=seen
            )
            await warn(run, warning)
        if run.follow:
            await _follow(run, stored, source=source, window=window, on_batch=on_batch, stack=stack)
        if wait_for_details:
            await _wait_for_details(run.pk, kinds=stage.kinds(), on_progress=on_progress)
            await warn(run, await sync_to_async(_every_lookup_failed)(run.pk))


async def _follow(
    run: LoadRun, stored: BotSettings, *, source: LaunchSource, window: Window, on_batch, stack: AsyncExitStack
) -> None:
    """The live tail: every launch after the backfill's window, once, until stopped. The always-on
    feed merges in the live sources LIVE_SOURCES names (one connection each: one feed at a time)."""
    checkpoint = await sync_to_async(_checkpoint_of)(run.pk)
    position = checkpoint if _in_tail_phase(checkpoint) else await source.tail_start(checkpoint, window=window)
    run = await sync_to_async(_save_checkpoint)(lease_of(run), position)
    await broadcast(run_message(run))
    logger.info("run %s following new launches (%s)", run.pk, source.upstream)
    pages = source.follow(position, window=window, poll_seconds=stored.tail_interval_seconds)
    if run.origin == LoadRun.Origin.FOLLOWER and settings.LIVE_SOURCES:
        extras = [
            await stack.enter_async_context(launch_source(name, notice=_run_notice(run.pk)))
            for name in settings.LIVE_SOURCES
        ]
        pages = merged_follow(pages, [extra.follow({}, window=window, poll_seconds=1.0) for extra in extras])
    async with aclosing(pages):
        async for page in pages:
            if await sync_to_async(cancel_requested)(run.pk):
                raise RunCancelled
            # A tail waiting for launches turns here with empty pages, never reaching a batch's check:
            # a stop that landed in the query above (asgiref swallows it) would leave it turning forever.
            raise_swallowed_cancellation()
            for start in range(0, len(page), run.batch_size):
                await on_batch(page[start : start + run.batch_size])


def batch_handler(
    run: LoadRun,
    stored: BotSettings,
    *,
    plan: DetailPlan = NO_DETAILS,
    announced: Awaitable[None] | None = None,
    on_progress: ProgressHook | None = None,
) -> Callable[[list[Launch]], Awaitable[None]]:
    """What happens to every batch of a run: process, store in one transaction (with the details
    its tokens still need), then broadcast. The run's first batch and the live tail's batches are
    the board's first page: their details come first."""
    cutoff_ms = cutoff_ms_for(run.days, now_ms=run.window_end_ms)
    rules = _rules(stored, cutoff_ms=cutoff_ms)
    estimator = TotalEstimator(start_ms=run.window_end_ms, cutoff_ms=cutoff_ms)
    estimator.resume(count=run.fetched, checkpoint=run.checkpoint)
    processed = run.fetched

    async def on_batch(raw_batch: list[Launch]) -> None:
        nonlocal processed
        raise_swallowed_cancellation()
        outcome = process_batch(raw_batch, rules=rules, now_ms=int(time.time() * 1000), plan=plan)
        estimator.observe(raw_batch)
        processed += len(raw_batch)
        position = _position_after(raw_batch)
        batch = await sync_to_async(store_batch)(
            run_id=run.pk,
            lease_epoch=run.lease_epoch,
            records=outcome.records,
            invalid=len(outcome.invalid),
            failed=len(outcome.failures),
            estimated_total=estimator.estimate(processed=processed),
            checkpoint=position,
            tier=0 if processed == len(raw_batch) or _in_tail_phase(position) else 1,
            rules=rules,
        )
        if announced is not None:
            await announced  # pages learn of the run before its first batch
        logger.info(
            "run %s batch %s: %s tokens, %s accepted, %s rejected, %s invalid, %s failed",
            run.pk, batch.run.batches, len(raw_batch), len(outcome.accepted), len(outcome.rejected),
            len(outcome.invalid), len(outcome.failures),
        )  # fmt: skip
        await broadcast(
            batch_message(
                run=batch.run, cursor=batch.cursor, tokens=batch.accepted, removed=batch.rejected_mints,
                stored=batch.stored,
            )
        )  # fmt: skip
        if on_progress is not None:
            on_progress(batch.run)
        raise_swallowed_cancellation()

    return on_batch


async def warn(run: LoadRun, warning: str) -> None:
    if warning:
        logger.warning("run %s: %s", run.pk, warning, extra={"run_outcome": True})
        await sync_to_async(fenced_update)(lease_of(run), warning=warning[:1000])


def cancel_requested(run_id: int) -> bool:
    """Asked at each page of the live tail and while waiting for details (a batch's store asks it
    itself, under the run's lock: `store_batch`). Read in SQL: the ORM's query compiled for longer
    than it ran."""
    rows = values_in(LoadRun, key="id", keys=[run_id], names=["cancel_requested"])
    return any(row["cancel_requested"] for row in rows)


def in_tail(run_id: int) -> bool:
    return _in_tail_phase(_checkpoint_of(run_id))


async def _wait_for_details(run_id: int, *, kinds: list[str], on_progress: ProgressHook | None) -> None:
    """While the process's stage is down, this waits (the run shows it as degraded), never ends."""

    async def check() -> None:
        if await sync_to_async(cancel_requested)(run_id):
            raise RunCancelled
        if on_progress is not None:
            on_progress(await LoadRun.objects.aget(pk=run_id))

    await wait_for_run_details(run_id, kinds=kinds, check=check)


def _window(run: LoadRun, stored: BotSettings) -> Window:
    return Window(
        days=run.days, end_ms=run.window_end_ms, list_name=run.source, trending_limit=stored.trending_limit,
        trending_first=stored.trending_first, include_nsfw=stored.include_nsfw,
    )  # fmt: skip


def _run_notice(run_id: int) -> Callable[[str], None]:
    return lambda text: logger.warning("run %s: %s", run_id, text)


def _every_lookup_failed(run_id: int) -> str:
    """A run whose every holder (or metadata) lookup failed succeeded without what it was asked for:
    it says so in its warning, beside any earlier one."""
    run = LoadRun.objects.get(pk=run_id)
    mine = Token.objects.filter(last_run_id=run_id)
    failures = []
    if run.holder_errors and not mine.filter(holders__isnull=False).exists():
        failures.append(
            f"every holder lookup failed ({run.holder_errors}); holder counts stay unknown, check SOLANA_RPC_URL"
        )
    if run.metadata_errors and not mine.exclude(image_uri="").exists():
        failures.append(f"every metadata document failed ({run.metadata_errors}); images and links stay unknown")
    return "; ".join([part for part in (run.warning, *failures) if part]) if failures else ""


def _checkpoint_of(run_id: int) -> dict[str, Any] | None:
    return LoadRun.objects.filter(pk=run_id).values_list("checkpoint", flat=True).first()


def _save_checkpoint(lease: Lease, checkpoint: dict[str, Any]) -> LoadRun:
    fenced_update(lease, checkpoint=checkpoint, estimated_total=None)
    return LoadRun.objects.get(pk=lease.run_id)


def _in_tail_phase(checkpoint: dict[str, Any] | None) -> bool:
    return bool(checkpoint) and checkpoint.get("phase") == TAIL_PHASE


def _batch_size(run: LoadRun, stored: BotSettings) -> int | AdaptiveBatchSize:
    if stored.adaptive_batch_size:
        return AdaptiveBatchSize(target=run.batch_size, budget_seconds=stored.batch_time_budget_ms / 1000)
    return run.batch_size


def _position_after(raw_batch: list[Launch]) -> dict[str, Any] | None:
    """Where a resumed run continues: the last record that says (a merged live source's records
    have no position of their own, and leave the upstream's as it was)."""
    for launch in reversed(raw_batch):
        if launch.position is not None:
            return launch.position
    return None


def _mints_already_delivered(run: LoadRun) -> set[str]:
    """On resume, what this run already stored must not be delivered again.

    A recent backfill's checkpoint carries its own boundary, so only runs that will (re)list
    trending coins need the stored set.
    """
    if run.checkpoint is None or (run.source == RECENT and run.checkpoint.get("phase") == RECENT):
        return set()
    return set(Token.objects.filter(last_run_id=run.pk).values_list("mint", flat=True).iterator())


def _rules(stored: BotSettings, *, cutoff_ms: int) -> FilterRules:
    return rules_from(stored, cutoff=datetime.fromtimestamp(cutoff_ms / 1000, tz=UTC))
