"""One load run, end to end: pages -> batches -> process -> store -> broadcast.

The `LoadRun` row is the run's single source of truth; this module moves it from queued to a
final status and never leaves it running when it stops.
"""

import logging
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone

from tokens.filters import FilterRules
from tokens.messages import batch_message, broadcast, run_message
from tokens.models import BotSettings, LoadRun, Source
from tokens.processing import process_batch
from tokens.progress import TotalEstimator
from tokens.store import store_batch
from tokens.upstream.holders import HolderCounter, HolderLookupError
from tokens.upstream.pumpfun import (
    PumpFunClient,
    PumpFunError,
    cutoff_ms_for,
    get_hybrid_recent_tokens,
    get_recent_pump_tokens,
    get_trending_pump_tokens,
)

logger = logging.getLogger(__name__)
ProgressHook = Callable[[LoadRun], None]


class RunCancelled(Exception):
    """Someone asked the run to stop."""


class RunNotQueued(Exception):
    """The run was already started, finished or cancelled."""


class RunConfigurationError(Exception):
    """The settings ask for something this deployment cannot do."""


# Failures that are the upstream's or the configuration's, logged without a traceback.
_UPSTREAM_ERRORS = (PumpFunError, HolderLookupError, RunConfigurationError)


async def execute_run(*, run_id: int, on_progress: ProgressHook | None = None) -> LoadRun:
    """Run a queued load to its end and return the final row. A failed load does not raise:
    its failure is recorded on the run."""
    run = await sync_to_async(_claim)(run_id)
    await broadcast(run_message(run))
    logger.info("run %s started: %s, last %g days, batches of %s", run.pk, run.source, run.days, run.batch_size)
    try:
        await _load(run, on_progress=on_progress)
    except RunCancelled:
        return await _end(run.pk, status=LoadRun.Status.CANCELLED)
    except Exception as exc:
        logger.error("run %s failed: %s", run.pk, _one_line(exc), exc_info=not isinstance(exc, _UPSTREAM_ERRORS))
        return await _end(run.pk, status=LoadRun.Status.FAILED, error=_one_line(exc))
    except BaseException:
        # Ctrl-C or a server shutdown cancelled the task: record it, then let it propagate.
        await _end(run.pk, status=LoadRun.Status.CANCELLED, error="interrupted before it finished")
        raise
    return await _end(run.pk, status=LoadRun.Status.SUCCEEDED)


async def _end(run_id: int, *, status: str, error: str = "") -> LoadRun:
    run = await sync_to_async(_finish)(run_id, status=status, error=error)
    logger.info(
        "run %s %s: %s fetched, %s accepted, %s rejected, %s failed in %s batches",
        run.pk, run.status, run.fetched, run.accepted, run.rejected, run.failed, run.batches,
    )  # fmt: skip
    await broadcast(run_message(run))
    return run


async def _load(run: LoadRun, *, on_progress: ProgressHook | None) -> None:
    stored = await sync_to_async(BotSettings.get_solo)()
    if stored.min_holders is not None and not settings.SOLANA_RPC_URL:
        raise RunConfigurationError("the min holders filter needs SOLANA_RPC_URL to count holders")
    start_ms = int(time.time() * 1000)
    cutoff_ms = cutoff_ms_for(run.days, now_ms=start_ms)
    rules = _rules(stored, cutoff_ms=cutoff_ms)
    estimator = TotalEstimator(start_ms=start_ms, cutoff_ms=cutoff_ms)

    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(PumpFunClient(base_url=settings.PUMPFUN_API_URL))
        holders = None
        if settings.SOLANA_RPC_URL:
            holders = await stack.enter_async_context(HolderCounter(rpc_url=settings.SOLANA_RPC_URL))

        async def on_batch(raw_batch: list[Any]) -> None:
            if await sync_to_async(_cancel_requested)(run.pk):
                raise RunCancelled
            outcome = await process_batch(raw_batch, holders=holders, rules=rules, now_ms=int(time.time() * 1000))
            estimator.observe(raw_batch)
            batch = await sync_to_async(store_batch)(
                run_id=run.pk,
                records=outcome.records,
                failed=len(outcome.failures),
                estimated_total=estimator.estimate(processed=run.fetched + len(raw_batch)),
            )
            run.fetched = batch.run.fetched
            logger.info(
                "run %s batch %s: %s tokens, %s accepted, %s rejected, %s failed",
                run.pk, batch.run.batches, len(raw_batch), len(outcome.accepted), len(outcome.rejected),
                len(outcome.failures),
            )  # fmt: skip
            await broadcast(batch_message(run=batch.run, index=batch.run.batches, tokens=batch.accepted))
            if on_progress is not None:
                on_progress(batch.run)

        await _fetch(run, stored, client=client, on_batch=on_batch, now_ms=start_ms)


async def _fetch(run: LoadRun, stored: BotSettings, *, client: PumpFunClient, on_batch, now_ms: int) -> None:
    common: dict[str, Any] = {
        "batch_callback": on_batch,
        "batch_size": run.batch_size,
        "include_nsfw": stored.include_nsfw,
        "client": client,
        "now_ms": now_ms,
    }
    if run.source == Source.RECENT:
        await get_recent_pump_tokens(run.days, **common)
    elif run.source == Source.TRENDING:
        await get_trending_pump_tokens(run.days, limit=stored.trending_limit, **common)
    else:
        # Graduation is judged by the filters, so that pump-only tokens are counted as rejected.
        await get_hybrid_recent_tokens(run.days, trending_limit=stored.trending_limit, **common)


def _rules(stored: BotSettings, *, cutoff_ms: int) -> FilterRules:
    return FilterRules(
        cutoff=datetime.fromtimestamp(cutoff_ms / 1000, tz=UTC),
        min_usd_market_cap=stored.min_usd_market_cap,
        max_usd_market_cap=stored.max_usd_market_cap,
        min_holders=stored.min_holders,
        min_liquidity_sol=stored.min_liquidity_sol,
        include_nsfw=stored.include_nsfw,
        include_pump_only=stored.include_pump_only,
        blocklist=tuple(stored.blocklist_terms()),
    )


def _claim(run_id: int) -> LoadRun:
    claimed = LoadRun.objects.filter(pk=run_id, status=LoadRun.Status.QUEUED).update(
        status=LoadRun.Status.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        raise RunNotQueued(f"run {run_id} is not queued")
    return LoadRun.objects.get(pk=run_id)


def _cancel_requested(run_id: int) -> bool:
    return LoadRun.objects.filter(pk=run_id, cancel_requested=True).exists()


def _finish(run_id: int, *, status: str, error: str) -> LoadRun:
    run = LoadRun.objects.get(pk=run_id)
    run.status = status
    run.error = error
    run.finished_at = timezone.now()
    if status == LoadRun.Status.SUCCEEDED:
        run.estimated_total = run.fetched
    run.save(update_fields=["status", "error", "finished_at", "estimated_total"])
    return run


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:500]
