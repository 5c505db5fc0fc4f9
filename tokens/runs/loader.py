"""One load run, end to end: pages -> batches -> process -> store -> broadcast.

The `LoadRun` row is the run's single source of truth: this module moves it from queued (or, to
resume, from interrupted/failed/cancelled) to a final status, checkpoints it after every committed
batch, and keeps its heartbeat fresh so that a run whose process died is seen as interrupted.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack, aclosing
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import IntegrityError
from django.db.models import Case, F, When
from django.utils import timezone

from tokens.age_filters import window_label
from tokens.details.queue import release_leases_of
from tokens.details.service import details_service
from tokens.details.stage import wait_for_run_details
from tokens.live.messages import batch_message, broadcast, retry_message, run_message
from tokens.liveness import process_is_gone, this_process
from tokens.models import BotSettings, LoadRun, Source, Token, Upstream
from tokens.runs.progress import TotalEstimator
from tokens.sources.batcher import AdaptiveBatchSize
from tokens.sources.chain.lists import get_chain_recent_tokens, get_chain_trending_tokens
from tokens.sources.chain.source import ChainError, ChainSource
from tokens.sources.clients import chain_source, pumpfun_client, solana_rpc
from tokens.sources.holders import HolderLookupError
from tokens.sources.pumpfun_api.client import (
    POSITION_KEY,
    RECENT,
    PumpFunClient,
    PumpFunError,
    cutoff_ms_for,
    get_hybrid_recent_tokens,
    get_launches_since,
    get_recent_pump_tokens,
    get_trending_pump_tokens,
)
from tokens.sources.reach import Reach
from tokens.sources.resilience import RETRY_LISTENER
from tokens.sources.rpc import RpcError
from tokens.store.batches import store_batch
from tokens.store.filters import FilterRules, rules_from
from tokens.store.lease import Lease, LeaseLost, fenced_update, handing_over, lease_length, lease_of, renew
from tokens.store.processing import NO_DETAILS, DetailPlan, process_batch

logger = logging.getLogger(__name__)
TAIL = "tail"
ProgressHook = Callable[[LoadRun], None]


class RunCancelled(Exception):
    """Someone asked the run to stop."""


class RunNotClaimable(Exception):
    """The run is not in a state this call can start it from."""


class RunConfigurationError(Exception):
    """The settings ask for something this deployment cannot do."""


# Failures that are the upstream's or the configuration's, logged without a traceback.
_EXPECTED_ERRORS = (PumpFunError, HolderLookupError, RunConfigurationError, RpcError, ChainError)


async def execute_run(
    *, run_id: int, resume: bool = False, on_progress: ProgressHook | None = None, wait_for_details: bool = True
) -> LoadRun:
    """Run a queued load (or resume a stopped one) to its end and return the final row: its rows
    stored, and (unless `wait_for_details` is off) their details fetched.

    A failed load does not raise: its failure is recorded on the run.
    """
    run = await sync_to_async(claim_run)(run_id, resume=resume)
    return await execute_claimed(run, resume=resume, on_progress=on_progress, wait_for_details=wait_for_details)


async def execute_claimed(
    run: LoadRun, *, resume: bool, on_progress: ProgressHook | None = None, wait_for_details: bool = True
) -> LoadRun:
    """Execute a run this process has claimed (its lease is `run.lease_epoch`) to its end."""
    lease = lease_of(run)
    RETRY_LISTENER.set(_retries_shown(run.pk))
    # Announce the run while its first page is already being fetched; the first batch waits for it.
    announced = asyncio.ensure_future(broadcast(run_message(run)))
    verb = "resumed" if resume else "started"
    window = window_label(run.days)
    logger.info("run %s %s: %s, last %s, batches of %s", run.pk, verb, run.source, window, run.batch_size)
    keeper = LeaseKeeper(lease, asyncio.current_task())
    try:
        async with keeper:
            await _load(run, announced=announced, on_progress=on_progress, wait_for_details=wait_for_details)
    except LeaseLost as exc:
        return await _let_go(lease, str(exc))
    except RunCancelled:
        # Stopping a live tail is how a following run ends well: its backfill was complete.
        following = await sync_to_async(_in_tail)(run.pk)
        status = LoadRun.Status.SUCCEEDED if following else LoadRun.Status.CANCELLED
        return await end_run(lease, status=status, announced=announced)
    except Exception as exc:
        expected = isinstance(_first_cause(exc), _EXPECTED_ERRORS)
        logger.error(
            "run %s failed: %s", run.pk, _one_line(exc), exc_info=not expected, extra={"run_outcome": True}
        )  # fmt: skip
        return await end_run(lease, status=LoadRun.Status.FAILED, error=run_error(exc), announced=announced)
    except BaseException:
        if keeper.lost is not None:  # the keeper stopped us: another executor has the run
            asyncio.current_task().uncancel()
            return await _let_go(lease, keeper.lost)
        # Ctrl-C, SIGTERM or a server shutdown cancelled the task: record it, then let it propagate.
        # A tail has no end of its own, so stopping one whose backfill was complete is its success.
        if handing_over():
            await end_run(lease, status=LoadRun.Status.QUEUED, announced=announced)  # another worker goes on
        elif await sync_to_async(_in_tail)(run.pk):
            await end_run(lease, status=LoadRun.Status.SUCCEEDED, announced=announced)
        else:
            error = "interrupted before it finished; resume it"
            await end_run(lease, status=LoadRun.Status.INTERRUPTED, error=error, announced=announced)
        raise
    return await end_run(lease, status=LoadRun.Status.SUCCEEDED, announced=announced)


async def end_run(lease: Lease, *, status: str, error: str = "", announced: asyncio.Future | None = None) -> LoadRun:
    if announced is not None:
        await asyncio.wait([announced])  # the final status must not overtake the "running" message
    try:
        run = await sync_to_async(_finish)(lease, status=status, error=error)
    except LeaseLost as exc:
        return await _let_go(lease, str(exc))
    logger.info(
        "run %s %s: %s fetched, %s accepted, %s rejected, %s invalid, %s failed in %s batches",
        run.pk, run.status, run.fetched, run.accepted, run.rejected, run.invalid, run.failed, run.batches,
    )  # fmt: skip
    await broadcast(run_message(run))
    return run


async def _let_go(lease: Lease, reason: str) -> LoadRun:
    """This executor lost the run: it writes nothing more and says so once."""
    logger.warning("%s; this executor stops without writing", reason)
    return await LoadRun.objects.aget(pk=lease.run_id)


class LeaseKeeper:
    """Renews the run's lease while the run goes on; when a renewal is refused, it cancels the run's
    task so that a frozen executor that wakes up stops before its next write."""

    def __init__(self, lease: Lease, task: asyncio.Task | None) -> None:
        self.lease = lease
        self.task = task
        self.lost: str | None = None
        self._renewing: asyncio.Task | None = None

    async def __aenter__(self) -> "LeaseKeeper":
        self._renewing = asyncio.create_task(self._renew())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._renewing is not None
        self._renewing.cancel()
        await asyncio.gather(self._renewing, return_exceptions=True)
        await drain_database_thread()

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(settings.RUN_STALE_AFTER / 3)
            try:
                await sync_to_async(renew)(self.lease)
            except LeaseLost as exc:
                self.lost = str(exc)
                if self.task is not None:
                    self.task.cancel()
                return
            except Exception as exc:  # the database is away: the next renewal tries again
                logger.warning("run %s: renewing its lease failed: %s", self.lease.run_id, _one_line(exc))


async def _load(
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
        if run.upstream == Upstream.CHAIN:
            rpc = await stack.enter_async_context(solana_rpc(on_notice=_run_notice(run.pk)))
            await _load_from_chain(run, stored, source=chain_source(rpc), on_batch=on_batch, seen=seen)
        else:
            client = await stack.enter_async_context(pumpfun_client())
            if not _in_tail_phase(run.checkpoint):
                await _fetch(run, stored, client=client, on_batch=on_batch, seen=seen)
            if run.follow:
                await _follow(run, stored, client=client, on_batch=on_batch)
        if wait_for_details:
            await _wait_for_details(run.pk, kinds=stage.kinds(), on_progress=on_progress)
            await _warn(run, await sync_to_async(_every_lookup_failed)(run.pk))


async def _wait_for_details(run_id: int, *, kinds: list[str], on_progress: ProgressHook | None) -> None:
    """While the process's stage is down, this waits (the run shows it as degraded), never ends."""

    async def check() -> None:
        if await sync_to_async(_cancel_requested)(run_id):
            raise RunCancelled
        if on_progress is not None:
            on_progress(await LoadRun.objects.aget(pk=run_id))

    await wait_for_run_details(run_id, kinds=kinds, check=check)


def _retries_shown(run_id: int) -> Callable[[str], None]:
    """Each retry of the run's upstream calls reaches the pages while it waits, and stays on the run
    (`retrying`, cleared by its next batch) for a page opened meanwhile."""
    pending: set[asyncio.Task] = set()

    async def show_now(text: str) -> None:
        with contextlib.suppress(Exception):  # the database is away: the pages still hear of it
            await LoadRun.objects.filter(pk=run_id, status=LoadRun.Status.RUNNING).aupdate(retrying=text[:300])
        await broadcast(retry_message(run_id=run_id, text=text))

    def show(text: str) -> None:
        task = asyncio.get_running_loop().create_task(show_now(text))
        pending.add(task)
        task.add_done_callback(pending.discard)

    return show


def _run_notice(run_id: int) -> Callable[[str], None]:
    return lambda text: logger.warning("run %s: %s", run_id, text)


async def _load_from_chain(run: LoadRun, stored: BotSettings, *, source: ChainSource, on_batch, seen: set[str]) -> None:
    if not _in_tail_phase(run.checkpoint):
        await _backfill_from_chain(run, stored, source=source, on_batch=on_batch, seen=seen)
    if run.follow:
        await _follow_chain(run, stored, source=source, on_batch=on_batch)


async def _backfill_from_chain(
    run: LoadRun, stored: BotSettings, *, source: ChainSource, on_batch, seen: set[str]
) -> None:
    common: dict[str, Any] = {
        "source": source,
        "batch_callback": on_batch,
        "batch_size": _batch_size(run, stored),
        "now_ms": run.window_end_ms,
        "seen": seen,
    }
    if run.source == Source.TRENDING:
        await get_chain_trending_tokens(run.days, limit=stored.trending_limit, **common)
    else:
        # Hybrid is recent on the chain: every trending coin of the window is a launch in it.
        await get_chain_recent_tokens(run.days, resume_from=run.checkpoint, **common)
    warning = source.reach.shortfall(
        upstream="the Solana RPC's history", advice="use an RPC that keeps a longer history to load older launches"
    )
    await _warn(run, warning)


async def _follow_chain(run: LoadRun, stored: BotSettings, *, source: ChainSource, on_batch) -> None:
    """The live tail on the chain: every launch after the backfill's newest transaction, once."""
    checkpoint = await sync_to_async(_checkpoint_of)(run.pk)
    if _in_tail_phase(checkpoint):
        position = checkpoint
    else:
        head = (checkpoint or {}).get("head") or await source.newest_signature()
        position = {"phase": TAIL, "last": head, "done": []}
    run = await sync_to_async(_save_checkpoint)(lease_of(run), position)
    await broadcast(run_message(run))
    logger.info("run %s following new launches on the chain", run.pk)
    pages = source.follow(last=position["last"], done=position.get("done"), poll_seconds=stored.tail_interval_seconds)
    async with aclosing(pages):
        async for page in pages:
            if await sync_to_async(_cancel_requested)(run.pk):
                raise RunCancelled
            for start in range(0, len(page), run.batch_size):
                await on_batch(page[start : start + run.batch_size])


async def _warn(run: LoadRun, warning: str) -> None:
    if warning:
        logger.warning("run %s: %s", run.pk, warning, extra={"run_outcome": True})
        await sync_to_async(fenced_update)(lease_of(run), warning=warning[:1000])


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


async def _follow(run: LoadRun, stored: BotSettings, *, client: PumpFunClient, on_batch) -> None:
    """The live tail: poll the newest launches until stopped, from where the backfill's window ended,
    so that nothing falls between the backfill and the tail and nothing comes twice."""
    position = run.checkpoint if _in_tail_phase(run.checkpoint) else _tail_position(run.window_end_ms, [])
    run = await sync_to_async(_save_checkpoint)(lease_of(run), position)
    await broadcast(run_message(run))
    logger.info("run %s following new launches every %s s", run.pk, stored.tail_interval_seconds)
    while True:
        await _sleep_unless_stopped(run.pk, stored.tail_interval_seconds)
        now_ms = int(time.time() * 1000)
        top, boundary = position["top_ms"], position["boundary"]
        launches = await get_launches_since(
            top, client=client, now_ms=now_ms, include_nsfw=stored.include_nsfw, seen=boundary
        )
        if not launches:
            continue
        newest = max(_created_ms(coin) for coin in launches)
        at_top = [coin.get("mint") for coin in launches if _created_ms(coin) == newest]
        position = _tail_position(newest, at_top if newest > top else [*boundary, *at_top])
        for coin in launches:
            if isinstance(coin, dict):
                coin[POSITION_KEY] = position
        for start in range(0, len(launches), run.batch_size):
            await on_batch(launches[start : start + run.batch_size])


def _tail_position(top_ms: int, boundary: list[Any]) -> dict[str, Any]:
    return {"phase": TAIL, "top_ms": top_ms, "boundary": sorted({str(mint) for mint in boundary})}


def _in_tail_phase(checkpoint: dict[str, Any] | None) -> bool:
    return bool(checkpoint) and checkpoint.get("phase") == TAIL


def _created_ms(coin: Any) -> int:
    value = coin.get("created_timestamp") if isinstance(coin, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


async def _sleep_unless_stopped(run_id: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if await sync_to_async(_cancel_requested)(run_id):
            raise RunCancelled
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        await asyncio.sleep(min(1.0, remaining))


def _save_checkpoint(lease: Lease, checkpoint: dict[str, Any]) -> LoadRun:
    fenced_update(lease, checkpoint=checkpoint, estimated_total=None)
    return LoadRun.objects.get(pk=lease.run_id)


def _in_tail(run_id: int) -> bool:
    return _in_tail_phase(LoadRun.objects.filter(pk=run_id).values_list("checkpoint", flat=True).first())


def batch_handler(
    run: LoadRun,
    stored: BotSettings,
    *,
    plan: DetailPlan = NO_DETAILS,
    announced: Awaitable[None] | None = None,
    on_progress: ProgressHook | None = None,
) -> Callable[[list[Any]], Awaitable[None]]:
    """What happens to every batch of a run: process, store in one transaction (with the details
    its tokens still need), then broadcast. The run's first batch and the live tail's batches are
    the board's first page: their details come first."""
    cutoff_ms = cutoff_ms_for(run.days, now_ms=run.window_end_ms)
    rules = _rules(stored, cutoff_ms=cutoff_ms)
    estimator = TotalEstimator(start_ms=run.window_end_ms, cutoff_ms=cutoff_ms)
    estimator.resume(count=run.fetched, checkpoint=run.checkpoint)
    processed = run.fetched

    async def on_batch(raw_batch: list[Any]) -> None:
        nonlocal processed
        _raise_swallowed_cancellation()
        if await sync_to_async(_cancel_requested)(run.pk):
            raise RunCancelled
        outcome = process_batch(raw_batch, rules=rules, now_ms=int(time.time() * 1000), plan=plan)
        estimator.observe(raw_batch)
        processed += len(raw_batch)
        batch = await sync_to_async(store_batch)(
            run_id=run.pk,
            lease_epoch=run.lease_epoch,
            records=outcome.records,
            invalid=len(outcome.invalid),
            failed=len(outcome.failures),
            estimated_total=estimator.estimate(processed=processed),
            checkpoint=_position_after(raw_batch),
            tier=0 if processed == len(raw_batch) or _in_tail_phase(_position_after(raw_batch)) else 1,
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
                run=batch.run,
                cursor=batch.cursor,
                tokens=batch.accepted,
                removed=batch.rejected_mints,
                stored=batch.stored,
            )
        )
        if on_progress is not None:
            on_progress(batch.run)
        _raise_swallowed_cancellation()

    return on_batch


def _batch_size(run: LoadRun, stored: BotSettings) -> int | AdaptiveBatchSize:
    if stored.adaptive_batch_size:
        return AdaptiveBatchSize(target=run.batch_size, budget_seconds=stored.batch_time_budget_ms / 1000)
    return run.batch_size


async def _fetch(run: LoadRun, stored: BotSettings, *, client, on_batch, seen: set[str]) -> None:
    reach = Reach()
    common: dict[str, Any] = {
        "batch_callback": on_batch,
        "batch_size": _batch_size(run, stored),
        "include_nsfw": stored.include_nsfw,
        "client": client,
        "now_ms": run.window_end_ms,
        "resume_from": run.checkpoint,
        "seen": seen,
    }
    if run.source == Source.RECENT:
        await get_recent_pump_tokens(run.days, reach=reach, **common)
    elif run.source == Source.TRENDING:
        await get_trending_pump_tokens(run.days, limit=stored.trending_limit, **common)
        return  # a trending list is not a history: it has no start to reach
    else:
        # Graduation is judged by the filters, so that pump-only tokens are counted as rejected.
        await get_hybrid_recent_tokens(
            run.days, trending_limit=stored.trending_limit, trending_first=stored.trending_first, reach=reach, **common
        )
    await _warn(run, reach.shortfall(upstream="pump.fun's web API", advice="set SOLANA_RPC_URL to load older launches"))


def _position_after(raw_batch: list[Any]) -> dict[str, Any] | None:
    last = raw_batch[-1] if raw_batch else None
    return last.get(POSITION_KEY) if isinstance(last, dict) else None


def _mints_already_delivered(run: LoadRun) -> set[str]:
    """On resume, what this run already stored must not be delivered again.

    A recent backfill's checkpoint carries its own boundary, so only runs that will (re)list
    trending coins need the stored set.
    """
    if run.checkpoint is None or (run.source == Source.RECENT and run.checkpoint.get("phase") == RECENT):
        return set()
    return set(Token.objects.filter(last_run_id=run.pk).values_list("mint", flat=True).iterator())


def _rules(stored: BotSettings, *, cutoff_ms: int) -> FilterRules:
    return rules_from(stored, cutoff=datetime.fromtimestamp(cutoff_ms / 1000, tz=UTC))


def claim_run(run_id: int, *, resume: bool = False) -> LoadRun:
    """Compare-and-set into running with a new lease epoch, so two processes can never both take
    the same run, and whoever held it before is refused from now on."""
    now = timezone.now()
    runs = LoadRun.objects.filter(pk=run_id)
    previous = runs.values_list("executed_by", flat=True).first() or ""
    lease = {
        "status": LoadRun.Status.RUNNING,
        "executed_by": this_process(),
        "heartbeat_at": now,
        "lease_epoch": F("lease_epoch") + 1,
        "lease_expires_at": now + lease_length(),
        "degraded": "",
        "retrying": "",
    }
    try:
        if resume:
            claimed = runs.filter(status__in=LoadRun.RESUMABLE_STATUSES).update(
                **lease, cancel_requested=False, error="", finished_at=None, resumes=F("resumes") + 1
            )
        else:
            claimed = runs.filter(status=LoadRun.Status.QUEUED).update(
                **lease, started_at=now, window_end_ms=int(now.timestamp() * 1000)
            )
    except IntegrityError:
        raise RunNotClaimable(f"run {run_id}: another run of its source is active") from None
    if claimed and resume and process_is_gone(previous):
        release_leases_of(previous)
    if not claimed:
        state = runs.values_list("status", flat=True).first()
        raise RunNotClaimable(
            f"run {run_id} is {state or 'unknown'}; it cannot be {'resumed' if resume else 'started'}"
        )
    return LoadRun.objects.get(pk=run_id)


async def drain_database_thread() -> None:
    """asgiref runs sync calls one at a time on one thread, and a cancelled call still runs to its end
    there: a no-op call returns once any such call has finished, so what comes next (the run's final
    write, the caller's own queries) never overlaps it."""
    await sync_to_async(lambda: None)()


def _raise_swallowed_cancellation() -> None:
    """asgiref lets a sync call that was cancelled run to its end and then returns normally; the
    cancellation (Ctrl-C, SIGTERM, shutdown) is still pending on the task, so honour it here."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _cancel_requested(run_id: int) -> bool:
    return LoadRun.objects.filter(pk=run_id, cancel_requested=True).exists()


def _finish(lease: Lease, *, status: str, error: str) -> LoadRun:
    changes: dict[str, Any] = {
        "status": status,
        "error": error,
        "lease_expires_at": None,
        "retrying": "",
        "degraded": "",
    }
    if status == LoadRun.Status.QUEUED:
        changes["executed_by"] = ""  # handed back: the next worker to claim it resumes it
    else:
        changes["finished_at"] = timezone.now()
    if status == LoadRun.Status.SUCCEEDED:
        changes["estimated_total"] = Case(When(follow=True, then=F("estimated_total")), default=F("fetched"))
    fenced_update(lease, **changes)
    return LoadRun.objects.get(pk=lease.run_id)


def run_error(exc: BaseException) -> str:
    """What a failed run says to every reader. The upstreams' and the configuration's failures are
    ours to word and say what to do; any other exception's text can carry a database host, a user or
    a path, so readers get its kind and the log gets the rest."""
    cause = _first_cause(exc)
    if isinstance(cause, _EXPECTED_ERRORS):
        return _one_line(cause)
    return f"failed on an unexpected error ({type(cause).__name__}); the server log has the details"


def _first_cause(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:  # a library's task group: its first cause
        exc = exc.exceptions[0]
    return exc


def _one_line(exc: BaseException) -> str:
    exc = _first_cause(exc)
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:500]
