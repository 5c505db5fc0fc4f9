"""The details stage: holder counts, metadata and current bonding-curve state, fetched after a
token's row is stored and broadcast, and sent to every page as row updates.

Each kind of detail drains the durable queue (tokens/details/queue.py) at its upstream's own pace:
curve states 100 to a `getMultipleAccounts` call, holder counts one DAS lookup each within the RPC's
call rate, metadata documents a few at a time. The live refresh re-reads the curves of the newest
tokens every `live_refresh_seconds`, so market caps and graduations keep moving with the chain.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tokens.cancellation import raise_swallowed_cancellation
from tokens.details.pools import PRICE_FIELDS, UNPRICED, graduated, read_pools
from tokens.details.queue import DetailResult, DetailUpdate, apply_details, claim_tasks, finish_tasks
from tokens.live.messages import broadcast, run_message, update_message
from tokens.live.outage import Outage
from tokens.models import BotSettings, DetailTask, LoadRun, Token
from tokens.sources.chain.addresses import MAYHEM_SOL_VAULT
from tokens.sources.chain.curve import CurveState
from tokens.sources.chain.launches import curve_figures, trading_curve_fields
from tokens.sources.chain.pdas import canonical_pool_address
from tokens.sources.chain.pool_reader import PoolReader, PoolReadError
from tokens.sources.chain.source import ACCOUNTS_PER_CALL, ChainError, ChainSource
from tokens.sources.holders import HolderCounter, HolderLookupError, HolderSurvey
from tokens.sources.metadata import MetadataError, MetadataFetcher, TokenMetadata
from tokens.sources.rpc import RpcError
from tokens.store.filters import HOLDERS, METADATA, STATE
from tokens.store.normalise import MAX_DESCRIPTION, clean_text, safe_url

logger = logging.getLogger(__name__)
IDLE_SECONDS = 0.2
_GROUP = {STATE: ACCOUNTS_PER_CALL, HOLDERS: 50, METADATA: 32}
LABELS = {STATE: "curve state", HOLDERS: "holder count", METADATA: "metadata"}


class DetailStage:
    """The fetchers of a process and one loop per kind of detail, each supervised: a failed turn (the
    database away, a bug) is retried with backoff and said once per outage (`health`); a failed fetch
    costs only its token, whose detail is tried again and finally counted as unknown."""

    def __init__(
        self,
        *,
        chain: ChainSource | None,
        holders: HolderCounter | None,
        metadata: MetadataFetcher | None,
        on_health_change: Callable[[], None] | None = None,
    ) -> None:
        self.chain = chain
        self.pools = PoolReader(rpc=chain.rpc) if chain is not None else None
        self.holders = holders
        self.metadata = metadata
        self.updates_sent = 0
        self.health = {
            kind: Outage(f"the {LABELS[kind]} stage", on_change=on_health_change, log=logger) for kind in self.kinds()
        }

    def kinds(self) -> list[str]:
        fetchers = {STATE: self.chain, HOLDERS: self.holders, METADATA: self.metadata}
        return [kind for kind, fetcher in fetchers.items() if fetcher is not None]

    async def run(self) -> None:
        """Drain every queue this stage can serve, forever (cancel to stop)."""
        await asyncio.gather(*(self._drain(kind) for kind in self.kinds()))

    async def _drain(self, kind: str) -> None:
        health = self.health[kind]
        claims_failing = False  # the last failure was the claim's: the next claim that works ends it
        while True:
            raise_swallowed_cancellation()
            turn = _Turn(health, ends_outage=claims_failing)
            try:
                worked = await self.drain_once(kind, answered=turn.answered)
            except Exception as exc:  # the database or a bug: this turn is lost, the stage is not
                # A failure after a claim that worked (a write, a bug) lasts until a whole turn works:
                # it is not ended by each claim, said again by each failure, at the shortest wait.
                claims_failing = not turn.claimed
                await asyncio.sleep(health.failed(exc))
                continue
            claims_failing = False
            health.ok()
            if not worked:
                await asyncio.sleep(IDLE_SECONDS)

    async def drain_once(self, kind: str, *, answered: Callable[[], None] = lambda: None) -> bool:
        """One group of tasks claimed, fetched and written; False when there was nothing to do.

        `answered` is called once the claim has worked: an outage of the database is over then, and
        said so, even if the run these tasks finish stops the stage before the turn ends."""
        tasks = await sync_to_async(claim_tasks)(kind, _GROUP[kind])
        answered()
        if not tasks:
            return False
        if kind == STATE and len(tasks) < _GROUP[kind]:
            # A curve call takes 100 accounts: wait a moment for the next batch to fill it.
            await asyncio.sleep(IDLE_SECONDS)
            tasks += await sync_to_async(claim_tasks)(kind, _GROUP[kind] - len(tasks))
        fetch = {STATE: self._states, HOLDERS: self._holders, METADATA: self._metadata}[kind]
        mints = [task.mint for task in tasks]
        try:
            results = await fetch(mints)
        except Exception as exc:  # charged to these tasks (tried again, then counted), not to the stage
            logger.exception("%s of %s tokens could not be fetched", LABELS[kind], len(mints))
            results = [DetailResult(mint, None, type(exc).__name__) for mint in mints]
        update = await sync_to_async(finish_tasks)(kind, tasks, results)
        await self.announce(update)
        return True

    async def announce(self, update: DetailUpdate | None) -> None:
        if update is None:
            return
        if update.cursor:  # every commit that took a cursor is told, so pages see no gap in them
            self.updates_sent += 1
            await broadcast(update_message(update))
        for run in await sync_to_async(_runs)(update.runs):
            await broadcast(run_message(run))

    # -- fetchers: a DetailResult per mint, fields named as the Token model's; a failure is the
    # -- token's (None), whatever raised it ---------------------------------------------------------

    async def _states(self, mints: list[str]) -> list[DetailResult]:
        curves = await sync_to_async(_curves_of)(mints)
        try:
            return [DetailResult(mint, fields) for mint, fields in (await self.read_curves(curves)).items()]
        except (RpcError, ChainError) as exc:
            logger.warning("bonding curves unavailable: %s", exc)
            return [DetailResult(mint, None, str(exc)) for mint in mints]
        except Exception as exc:
            logger.exception("bonding curves of %s tokens could not be read", len(mints))
            return [DetailResult(mint, None, type(exc).__name__) for mint in mints]

    async def read_curves(self, curves: dict[str, tuple[str, int | None]]) -> dict[str, dict[str, Any]]:
        """Token fields from the current state of each mint's curve; a curve not found is left out."""
        assert self.chain is not None
        if not curves:
            return {}
        states, sol_usd = await self.chain.current_states([curve for curve, _ in curves.values()])
        found = {}
        for mint, (curve, initial_real) in curves.items():
            if curve in states:
                found[mint] = state_fields(states[curve], initial_real=initial_real, sol_usd=sol_usd)
        completed = [mint for mint, fields in found.items() if fields["complete"]]
        if completed:  # the curve's last state is no price: the pool's is (or none yet)
            coins = await sync_to_async(graduated)(completed)
            pools = await self.read_pools(coins, sol_usd=sol_usd)
            for coin in coins:
                if coin.mint in pools:
                    found[coin.mint].update(pools[coin.mint])
                elif coin.priced:  # the pool could not be read now: the price it gave stands
                    found[coin.mint] = {k: v for k, v in found[coin.mint].items() if k not in PRICE_FIELDS}
        return found

    async def read_pools(self, coins, *, sol_usd: float | None) -> dict[str, dict[str, Any]]:
        """Pool fields of graduated coins; none for any when the RPC fails (a later round reads them)."""
        assert self.pools is not None
        try:
            return await read_pools(self.pools, coins, sol_usd=sol_usd)
        except (RpcError, PoolReadError) as exc:
            logger.warning("PumpSwap pools unavailable: %s", exc)
            return {}

    async def _holders(self, mints: list[str]) -> list[DetailResult]:
        assert self.holders is not None
        not_holders, _ = await sync_to_async(_holder_subjects)(mints)

        async def one(mint: str) -> tuple[str, HolderSurvey | DetailResult]:
            try:
                return mint, await self.holders.survey(mint, not_holders=not_holders.get(mint, ()))
            except HolderLookupError as exc:
                logger.warning("holder count unavailable: %s", exc)
                return mint, DetailResult(mint, None, str(exc))
            except Exception as exc:
                logger.exception("holder count of %s failed", mint)
                return mint, DetailResult(mint, None, type(exc).__name__)

        surveys = await asyncio.gather(*(one(mint) for mint in mints))
        # Asked again after the walk: the trade stream may have seen the coin's launch meanwhile, and
        # then its ledger keeps the top-10 share live, trade by trade; the walk's does not replace it.
        _, whole_life = await sync_to_async(_holder_subjects)(mints)
        results = []
        for mint, found in surveys:
            if isinstance(found, DetailResult):
                results.append(found)
                continue
            fields: dict[str, Any] = {"holders": found.holders}
            if mint not in whole_life and found.top10_pct is not None:  # nothing held: not a share of 0
                fields["top10_pct"] = found.top10_pct
            results.append(DetailResult(mint, fields))
        return results

    async def _metadata(self, mints: list[str]) -> list[DetailResult]:
        assert self.metadata is not None
        uris = await sync_to_async(_metadata_uris)(mints)

        async def one(mint: str) -> DetailResult:
            try:
                return DetailResult(mint, metadata_fields(await self.metadata.fetch(uris[mint])))
            except MetadataError as exc:
                logger.info("metadata of %s unavailable: %s", mint, exc)
                return DetailResult(mint, None, str(exc))
            except Exception as exc:
                logger.exception("metadata of %s failed", mint)
                return DetailResult(mint, None, type(exc).__name__)

        return list(await asyncio.gather(*(one(mint) for mint in mints if mint in uris)))


class _Turn:
    """One turn of a detail loop: whether its claim worked, and whether that ends an outage."""

    def __init__(self, health: Outage, *, ends_outage: bool) -> None:
        self.health = health
        self.ends_outage = ends_outage
        self.claimed = False

    def answered(self) -> None:
        self.claimed = True
        if self.ends_outage:
            self.health.ok()


class LiveRefresh:
    """Re-reads the bonding curves of the newest tokens still on their curve, every `seconds` (both
    from the saved settings, read again every round), supervised like the detail stage."""

    def __init__(
        self, stage: DetailStage, *, count: int | None = None, seconds: float | None = None,
        pool_count: int | None = None, on_health_change: Callable[[], None] | None = None,
    ) -> None:  # fmt: skip
        self.stage = stage
        self.count = count
        self.pool_count = pool_count
        self.seconds = seconds
        self.rounds = 0
        self.health = Outage("the live market caps", on_change=on_health_change, log=logger)

    async def run(self) -> None:
        while True:
            raise_swallowed_cancellation()
            try:
                count, pools, seconds = await sync_to_async(self._pace)()
                await self.refresh_once(count=count, pools=pools)
            except Exception as exc:
                await asyncio.sleep(self.health.failed(exc))
                continue
            self.health.ok()
            await asyncio.sleep(seconds)

    def _pace(self) -> tuple[int, int, float]:
        stored = BotSettings.get_solo()
        count = stored.live_refresh_count if self.count is None else self.count
        pools = stored.live_pool_count if self.pool_count is None else self.pool_count
        return count, pools, float(stored.live_refresh_seconds if self.seconds is None else self.seconds)

    async def refresh_once(self, *, count: int | None = None, pools: int | None = None) -> None:
        graduated_now = await self._refresh_curves(self.count if count is None else count)
        await self.refresh_pools(self.pool_count if pools is None else pools, skip=graduated_now)
        self.rounds += 1

    async def refresh_pools(self, count: int | None, *, skip: set[str] = frozenset()) -> None:
        """The newest graduations' pools, priced again (those not found yet, looked for again), but
        for `skip`: coins whose pools this round read already."""
        coins = await sync_to_async(graduated)(count=count, skip=skip) if count else []
        if not coins:
            return
        _, sol_usd = await self.stage.chain.current_states([])
        found = await self.stage.read_pools(coins, sol_usd=sol_usd)
        update = await sync_to_async(_apply_now)(found)
        await self.stage.announce(update)

    async def _refresh_curves(self, count: int) -> set[str]:
        """The curves re-read; the coins they showed graduated (whose pools were read with them)."""
        curves = await sync_to_async(_live_curves)(count)
        items = list(curves.items())
        graduated_now: set[str] = set()
        for start in range(0, len(items), ACCOUNTS_PER_CALL):
            try:
                found = await self.stage.read_curves(dict(items[start : start + ACCOUNTS_PER_CALL]))
            except (RpcError, ChainError) as exc:
                logger.warning("live market caps: curves unavailable (%s)", exc)
                break
            graduated_now |= {mint for mint, fields in found.items() if fields.get("complete")}
            update = await sync_to_async(_apply_now)(found)
            await self.stage.announce(update)
        return graduated_now


def metadata_fields(found: TokenMetadata) -> dict[str, Any]:
    """A metadata document's fields as stored: text cleaned, links only when they are usable."""
    return {
        "image_uri": safe_url(found.image),
        "description": clean_text(found.description, MAX_DESCRIPTION),
        "twitter": safe_url(found.twitter),
        "telegram": safe_url(found.telegram),
        "website": safe_url(found.website),
    }


def state_fields(state: CurveState, *, initial_real: int | None, sol_usd: float | None) -> dict[str, Any]:
    """Token fields from a curve's state. A completed curve prices nothing (its coin trades in its
    pool): its price fields are unknown until the pool is read."""
    figures = curve_figures(state, initial_real=initial_real, sol_usd=sol_usd)
    if figures.complete:
        return {**UNPRICED, "bonding_progress": 100.0, "complete": True, "quote": figures.quote}
    return trading_curve_fields(state, figures)


def _curves_of(mints: list[str]) -> dict[str, tuple[str, int | None]]:
    rows = Token.objects.filter(mint__in=mints).exclude(bonding_curve="")
    return {
        mint: (curve, initial)
        for mint, curve, initial in rows.values_list("mint", "bonding_curve", "initial_real_token_reserves")
    }


TRADED_RECENTLY = timedelta(seconds=30)


def _live_curves(count: int) -> dict[str, tuple[str, int | None]]:
    """The newest tokens on the board that are still on their curve (and so can still graduate),
    but for those the trade stream priced a moment ago: their last trade says more than a re-read."""
    if count <= 0:
        return {}
    recently_traded = Q(last_trade_at__gte=timezone.now() - TRADED_RECENTLY)
    rows = (
        Token.objects.filter(passed_filters=True, complete=False)
        .exclude(bonding_curve="")
        .exclude(recently_traded)
        .order_by("-created_at")[:count]
    )
    return {
        mint: (curve, initial)
        for mint, curve, initial in rows.values_list("mint", "bonding_curve", "initial_real_token_reserves")
    }


def _holder_subjects(mints: list[str]) -> tuple[dict[str, frozenset[str]], set[str]]:
    """Per mint, the owners that are not holders: the bonding curve (its token account holds the
    unsold supply), the canonical pool (after graduation, the pool's vault holds the liquidity),
    Mayhem's vault; and the mints whose whole trading life the trade stream saw."""
    rows = Token.objects.filter(mint__in=mints).values_list(
        "mint", "bonding_curve", "quote", "trades_since", "created_at"
    )
    not_holders = {mint: _not_holders(mint, curve, quote) for mint, curve, quote, _, _ in rows}
    return not_holders, {mint for mint, _, _, since, created in rows if since is not None and since <= created}


def _not_holders(mint: str, curve: str, quote: str) -> frozenset[str]:
    try:
        pool = canonical_pool_address(mint, quote=quote or "SOL")
    except ValueError:  # not a key (stored before addresses were checked): no pool to leave out
        pool = ""
    return frozenset(filter(None, (curve, pool, MAYHEM_SOL_VAULT)))


def _metadata_uris(mints: list[str]) -> dict[str, str]:
    return dict(Token.objects.filter(mint__in=mints).exclude(metadata_uri="").values_list("mint", "metadata_uri"))


def _apply_now(found: dict[str, dict[str, Any]]) -> DetailUpdate | None:
    with transaction.atomic():
        return apply_details(found, judged=set(), now=timezone.now(), kind=STATE)


def _runs(run_ids: list[int]) -> list[LoadRun]:
    return list(LoadRun.objects.filter(pk__in=run_ids))


async def wait_for_run_details(
    run_id: int, *, kinds: list[str], check: Callable[[], Awaitable[None]] | None = None
) -> None:
    """Until every detail of these kinds queued by the run is written (or given up on); kinds this
    process cannot fetch are left to one that can."""
    while await sync_to_async(DetailTask.objects.filter(run_id=run_id, kind__in=kinds).exists)():
        if check is not None:
            await check()
        raise_swallowed_cancellation()  # a stop asgiref swallowed in either query above
        await asyncio.sleep(IDLE_SECONDS)
