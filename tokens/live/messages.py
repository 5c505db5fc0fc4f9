"""The one place for the Channels group name and the JSON shapes sent to pages and API clients."""

import asyncio
import json
import logging
import time
from typing import Any

import orjson
from channels.layers import get_channel_layer
from django.utils import timezone

from tokens.age_filters import window_label
from tokens.models import LoadRun, Token

logger = logging.getLogger(__name__)
BOARD_GROUP = "token-board"
# The `type` Channels uses to route a group message to the consumer's handler method.
BOARD_EVENT = "board.event"
# The channel `manage.py runworker token-loader` consumes, and the message that starts a run there.
LOADER_CHANNEL = "token-loader"
RUN_START = "run.start"
# Board messages that waited for the same delivery round, in one frame, for pages that ask for it
# (`?frames=bundle`): `{"type": "bundle", "messages": [<message>, ...]}`, in order.
BUNDLE = "bundle"
BUNDLE_QUERY = b"frames=bundle"


def encode(message: dict[str, Any]) -> str:
    """A message as the JSON text pages receive (orjson: a batch of rows several times faster than the
    standard library; NaN or infinity, which no row should hold, become null instead of invalid JSON).
    Text orjson refuses (a lone surrogate in an upstream's error message) is escaped by the standard
    library instead: the message still goes."""
    try:
        return orjson.dumps(message).decode()
    except TypeError:
        # NaN and infinities as orjson writes them (null): the standard library's NaN is no JSON, and
        # one such message would spoil a whole bundle (bundle_text) on the page. A rare path: read back.
        return json.dumps(json.loads(json.dumps(message), parse_constant=lambda _name: None))


def bundle_text(texts: list[str]) -> str:
    """Encoded messages as one frame's text: one message as it is, several as a bundle. The texts are
    joined as they are, not decoded and encoded again (each is an encoded JSON object)."""
    if len(texts) == 1:
        return texts[0]
    return f'{{"type":"{BUNDLE}","messages":[{",".join(texts)}]}}'


def run_start_message(*, run_id: int, resume: bool) -> dict[str, Any]:
    return {"type": RUN_START, "run_id": run_id, "resume": resume}


def token_payload(token: Token) -> dict[str, Any]:
    return {
        "mint": token.mint,
        "name": token.name,
        "symbol": token.symbol,
        "description": token.description,
        "image_uri": token.image_uri,
        "creator": token.creator,
        "created_timestamp": int(token.created_at.timestamp() * 1000),
        "market_cap_sol": token.market_cap_sol,
        "usd_market_cap": token.usd_market_cap,
        "liquidity_sol": token.liquidity_sol,
        "holders": token.holders,
        "reply_count": token.reply_count,
        "bonding_progress": token.bonding_progress,
        "complete": token.complete,
        **pool_facts(token),
        "nsfw": token.nsfw,
        "twitter": token.twitter,
        "telegram": token.telegram,
        "website": token.website,
        "sources": list(token.sources),
        "pending": token.pending,
        "quote": token.quote,
        "signature": token.signature,
        "first_seen_by": token.first_seen_by,
        "details_updated_at": token.details_updated_at.isoformat() if token.details_updated_at else None,
        **trade_figures(token),
    }


# After graduation: the pool that prices the coin (tokens/details/pools.py).
POOL_FIELDS = ("pool", "pool_status", "graduated_at", "migrated_at", "price_usd", "liquidity_usd")


def pool_facts(token: Token) -> dict[str, Any]:
    facts = {name: getattr(token, name) for name in POOL_FIELDS}
    for name in ("graduated_at", "migrated_at"):
        facts[name] = facts[name].isoformat() if facts[name] is not None else None
    return facts


# Figures from the trade stream (tokens/trades); null when unknown. `trades_since` says what the
# trade figures cover.
TRADE_FIELDS = (
    "volume_5m_usd", "volume_1h_usd", "volume_24h_usd", "net_flow_5m_usd", "buys_5m", "sells_5m", "traders_5m",
    "price_change_5m", "price_change_1h", "ath_usd_market_cap", "last_trade_at", "dev_holding_pct", "dev_sold_at",
    "dev_sold_pct", "snipers_pct", "bundled_pct", "top10_pct", "trades_since",
)  # fmt: skip
_MOMENTS = ("last_trade_at", "dev_sold_at", "trades_since")


def trade_figures(token: Token) -> dict[str, Any]:
    figures = {name: getattr(token, name) for name in TRADE_FIELDS}
    for name in _MOMENTS:
        figures[name] = figures[name].isoformat() if figures[name] is not None else None
    return figures


# What a board row shows. Batches carry only these: each batch goes to every connected page, and
# descriptions alone can be 2 kB a token. The API serves the full `token_payload`.
BOARD_FIELDS = (
    "mint", "name", "symbol", "image_uri", "created_timestamp", "usd_market_cap", "holders", "reply_count",
    "bonding_progress", "complete", "pool_status", "twitter", "telegram", "website", "sources", "pending",
    *TRADE_FIELDS,
)  # fmt: skip
# Token fields a detail update may carry; the board knows them by the same names.
UPDATE_FIELDS = frozenset(
    ("market_cap_sol", "usd_market_cap", "holders", "bonding_progress", "complete", "liquidity_sol", "quote",
     "image_uri", "description", "twitter", "telegram", "website", "pending", *POOL_FIELDS,
     *TRADE_FIELDS)
)  # fmt: skip


def board_token_payload(token: Token) -> dict[str, Any]:
    """`token_payload`'s BOARD_FIELDS, made without the rest (every batch row is one)."""
    made = {
        "created_timestamp": int(token.created_at.timestamp() * 1000),
        "sources": list(token.sources),
        **trade_figures(token),
    }
    return {field: made[field] if field in made else getattr(token, field) for field in BOARD_FIELDS}


def batch_row(token: Token) -> dict[str, Any]:
    """`board_token_payload` without its null fields: a new launch's trade figures are all unknown, and
    every batch goes to every page (half of each row's bytes were nulls; bench/run_bench.py fan-out). A
    field a batch row lacks is null; the page fills them in (`wholeRow` in board.js).

    Made in one pass over the fields (a backfill makes one a launch; through `board_token_payload`'s
    dicts it took 2.6 times as long); tests/store/test_rows.py holds the two equal."""
    row: dict[str, Any] = {}
    for name, kind in _BOARD_READS:
        if kind is _PLAIN:
            value = getattr(token, name)
        elif kind is _MOMENT:
            value = getattr(token, name)
            if value is not None:
                value = value.isoformat()
        elif kind is _CREATED:
            value = int(token.created_at.timestamp() * 1000)
        else:
            value = list(token.sources)
        if value is not None:
            row[name] = value
    return row


_PLAIN, _MOMENT, _CREATED, _SOURCES = "plain", "moment", "created", "sources"
_BOARD_READS = tuple(
    (name, {"created_timestamp": _CREATED, "sources": _SOURCES}.get(name, _MOMENT if name in _MOMENTS else _PLAIN))
    for name in BOARD_FIELDS
)


def progress_payload(run: LoadRun) -> dict[str, Any]:
    processed = run.fetched
    total = run.estimated_total
    if run.status == LoadRun.Status.SUCCEEDED or is_following(run):
        percent = 100.0  # a following run's backfill is complete
    elif total:
        percent = round(min(99.0, 100 * processed / total), 1)
    else:
        percent = None
    return {
        "processed": processed,
        "estimated_total": total,
        "percent": percent,
        "accepted": run.accepted,
        "rejected": run.rejected,
        "invalid": run.invalid,
        "failed": run.failed,
        "holder_errors": run.holder_errors,
        "metadata_errors": run.metadata_errors,
        "details_queued": run.details_queued,
        "details_done": run.details_done,
        "batches": run.batches,
    }


def run_payload(run: LoadRun) -> dict[str, Any]:
    return {
        "run_id": run.pk,
        "status": run.status,
        "source": run.source,
        "source_label": run.get_source_display(),
        "upstream": run.upstream,
        "upstream_label": run.get_upstream_display(),
        "days": run.days,
        "window": window_label(run.days),
        "age_filter": run.age_filter,
        "batch_size": run.batch_size,
        "origin": run.origin,
        "created_at": run.created_at.isoformat() if run.created_at else None,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "error": run.error,
        "warning": run.warning,
        "retrying": run.retrying,  # an upstream call being retried now (cleared by the next batch)
        "degraded": run.degraded,  # a background stage of its process that is down now
        "resumable": run.is_resumable,
        "follow": run.follow,
        "following": is_following(run),
        "resumes": run.resumes,
        "first_seen": run.first_seen,  # launches each source delivered first
        "duration_seconds": _duration(run),
        "progress": progress_payload(run),
    }


def _duration(run: LoadRun) -> int | None:
    if run.started_at is None:
        return None
    return int(((run.finished_at or timezone.now()) - run.started_at).total_seconds())


def is_following(run: LoadRun) -> bool:
    """The run has loaded its window and now follows new launches."""
    return run.follow and run.status == LoadRun.Status.RUNNING and (run.checkpoint or {}).get("phase") == "tail"


def batch_message(
    *, run: LoadRun, cursor: int, tokens: list[Token], removed: list[str], stored: int | None = None
) -> dict[str, Any]:
    """One stored batch. `cursor` rises by one per stored batch across all runs: a page that sees
    a jump missed a batch and asks `GET /api/changes/?after=<its last cursor>` for it."""
    return {
        "type": "batch",
        "run_id": run.pk,
        "index": run.batches,
        "cursor": cursor,
        "tokens": [batch_row(token) for token in tokens],
        "removed": removed,
        "progress": progress_payload(run),
        "stored": stored,  # tokens on the board after this batch (all runs), for the live count
        "sent_at": time.time(),  # seconds since the epoch, for clients that measure delivery latency
    }


def update_message(update: Any, *, whole: bool = True) -> dict[str, Any]:
    """Details that arrived after their rows (holders, metadata, market caps, trade figures), every
    token of one commit in one message, with the names of the fields that changed in `changed`.
    `cursor` is in the same sequence as the batches', so a page that missed it catches up by the API
    like a batch; `stored` is the board's count when the commit took tokens off it (else null).

    `whole` rows carry the token's whole board row, so a token that starts to match a page's view
    can join it there and then (the details stage: a few tokens a commit). The trade stream's rows
    carry the changed fields only (hundreds of tokens a second): a page that holds the token updates
    it; a page whose view it may now enter asks the API for its view again."""
    return {
        "type": "update",
        "cursor": update.cursor,
        "tokens": [
            _updated_row(row.token, row.changed, whole=whole)
            for row in update.rows
            if whole or any(name in UPDATE_FIELDS for name in row.changed)  # nothing a page shows: no row
        ],
        "removed": update.removed,
        "stored": update.stored,
        "sent_at": time.time(),
    }


def _updated_row(token: Token, changed: tuple[str, ...], *, whole: bool) -> dict[str, Any]:
    full = token_payload(token)
    shown = [name for name in changed if name in UPDATE_FIELDS]
    row = {name: full[name] for name in BOARD_FIELDS} if whole else {"mint": token.mint}
    return {**row, **{name: full[name] for name in shown}, "changed": shown}


def retry_message(*, run_id: int, text: str) -> dict[str, Any]:
    """An upstream call of the run is being retried; the page shows it until the next batch."""
    return {"type": "retry", "run_id": run_id, "text": text[:300]}


def rejudged_message(*, cursor: int, stored: int) -> dict[str, Any]:
    """The saved filters changed and stored tokens moved on or off the board: pages catch up from
    their cursor through the API (the moved tokens carry this cursor)."""
    return {"type": "rejudged", "cursor": cursor, "stored": stored}


def run_message(run: LoadRun) -> dict[str, Any]:
    return {"type": "run", **run_payload(run)}


# Seconds a send to the channel layer may take: a Redis that accepts and never answers must not
# hold a run (or a request) up.
LAYER_DEADLINE = 3.0
LAYER_RETRY = 5.0  # seconds between tries while the layer is down
_layer_down = False
_layer_tried = 0.0


async def broadcast(message: dict[str, Any]) -> None:
    """Send to every connected page. Call only after the data it describes is committed.

    A layer outage never stops a run: what pages miss meanwhile they catch up from the API by their
    cursor when they reconnect. The outage is logged once, and its end once."""
    global _layer_down, _layer_tried
    layer = get_channel_layer()
    if layer is None:
        return
    if _layer_down and time.monotonic() - _layer_tried < LAYER_RETRY:
        return  # down a moment ago: not every batch waits out the deadline again
    _layer_tried = time.monotonic()
    # Encoded once here, not once per connected page: with a thousand pages, encoding each batch a
    # thousand times was what held delivery back.
    text = encode(message)
    try:
        await asyncio.wait_for(layer.group_send(BOARD_GROUP, {"type": BOARD_EVENT, "text": text}), LAYER_DEADLINE)
    except Exception as exc:
        if not _layer_down:
            logger.warning("the channel layer is not taking messages (%s); pages catch up when it is back", _why(exc))
        _layer_down = True
        return
    if _layer_down:
        logger.warning("the channel layer takes messages again")
        _layer_down = False


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:200] if str(exc) else type(exc).__name__
