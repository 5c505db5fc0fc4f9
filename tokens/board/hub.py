"""One subscription to the board group per web process, handed to every page that process serves.

Channels' way is a channel per page in the group: every batch is then copied once per page into the
layer, and each process pulls its pages' copies one at a time (channels_redis receives one message per
Redis round trip under one lock per process). With a thousand pages that queue, not the pages, set the
delivery time (bench/run_bench.py fan-out: p99 2.7 s). Here the process's one channel takes each message
once and writes its text to every page's socket in turn; no library offers this for Channels.

Delivery goes in rounds: messages that arrive while a round is being written wait for the next one,
and a page that asked for bundles gets them in one frame. A burst of batches then costs each page one
write instead of one a batch: Daphne's write path (Channels' send, autobahn's framing, Twisted's
write), not the bytes, was most of a web process's time at a thousand pages.

If the layer fails the hub closes its pages with "try again later": each page reconnects and catches
up from its cursor through the API, as it would after any lost connection."""

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from tokens.cancellation import raise_swallowed_cancellation
from tokens.live.messages import BOARD_EVENT, BOARD_GROUP, LAYER_DEADLINE, bundle_text

logger = logging.getLogger(__name__)
TRY_AGAIN_LATER = 4013  # 1013 as Daphne lets an application send it (tokens/board/ws_guard.py)
# A layer forgets a group member after `group_expiry` (a day on Redis), and the in-memory layer
# drops from every group a channel whose oldest message waited a minute: the hub joins again often.
REJOIN_SECONDS = 30.0
# Pages written to before a round lets the event loop run: the sockets' writes go out meanwhile, and
# the layer's next messages come in for the next round. channels_redis takes several turns of the
# loop to receive a message: at 50 pages a turn no round at a thousand pages ever held two messages,
# at 10 most held three or four (bench/run_bench.py fan-out).
PAGES_PER_TURN = 10
# A round's messages, at most (in characters; at least one message): a page's frame stays a few MB.
ROUND_CHARS = 4_000_000
# Messages received and not yet written, at most: a process that falls further behind drops the
# oldest, and its pages catch up from their cursor (as they did when the layer's channel was full).
WAITING_CAP = 200


class Page(Protocol):
    """What the hub needs of a page (the board's consumer is one)."""

    takes_bundles: bool  # several messages in one frame (messages.bundle_text), or one a frame

    async def send_board_text(self, text: str) -> None: ...

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None: ...


@dataclass
class _Waiting:
    """What one subscription received and has not written yet. Each listener has its own: the
    delivery task of a layer that was lost must not take the next subscription's messages."""

    texts: list[str] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    dropped: int = 0


class BoardHub:
    def __init__(self, *, layer: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.layer = layer
        self.loop = loop
        self._pages: set[Page] = set()
        self._lock = asyncio.Lock()
        self._channel: str | None = None
        self._task: asyncio.Task | None = None
        self._waiting = _Waiting()  # the current subscription's

    @property
    def pages(self) -> int:
        return len(self._pages)

    async def join(self, page: Page) -> None:
        """Subscribe the process when its first page joins. A layer that cannot subscribe (in
        LAYER_DEADLINE) raises here, and the page's socket is refused (the page tries again)."""
        async with self._lock:
            if self._task is None or self._task.done():
                channel = await self.layer.new_channel(prefix="board-hub")
                await asyncio.wait_for(self.layer.group_add(BOARD_GROUP, channel), LAYER_DEADLINE)
                self._channel = channel
                self._task = asyncio.create_task(self._listen(channel), name="board hub")
            self._pages.add(page)

    async def leave(self, page: Page) -> None:
        """Unsubscribe the process when its last page leaves. The page is out at once, even if this
        call is cancelled while it waits for the lock."""
        self._pages.discard(page)
        async with self._lock:
            if self._pages or self._task is None:
                return
            task, channel, self._task, self._channel = self._task, self._channel, None, None
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await self._unsubscribe(channel)

    async def _unsubscribe(self, channel: str | None) -> None:
        if channel is None:
            return
        try:
            await asyncio.wait_for(self.layer.group_discard(BOARD_GROUP, channel), LAYER_DEADLINE)
        except Exception as exc:  # the group forgets it by itself (group_expiry)
            logger.info("the board hub could not leave the group (%s)", type(exc).__name__)
        # channels_redis keeps a buffer per channel of a process: a stale name must not hold messages.
        buffers = getattr(self.layer, "receive_buffer", None)
        if isinstance(buffers, dict):
            buffers.pop(channel, None)

    async def _listen(self, channel: str) -> None:
        waiting = self._waiting = _Waiting()
        helpers = [
            asyncio.create_task(self._stay_in_group(channel), name="board hub membership"),
            asyncio.create_task(self._deliver_rounds(waiting), name="board hub delivery"),
        ]
        try:
            while True:
                raise_swallowed_cancellation()
                try:
                    message = await self.layer.receive(channel)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    await self._fail(exc, channel=channel)
                    return
                text = message.get("text") if isinstance(message, dict) else None
                if isinstance(text, str) and message.get("type") == BOARD_EVENT:
                    _queue(waiting, text)
        finally:
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)

    async def _stay_in_group(self, channel: str) -> None:
        """A failure here is the listener's to report (it fails on the same layer)."""
        while True:
            await asyncio.sleep(REJOIN_SECONDS)
            try:
                await asyncio.wait_for(self.layer.group_add(BOARD_GROUP, channel), LAYER_DEADLINE)
            except Exception as exc:
                logger.info("the board hub could not renew its membership (%s)", type(exc).__name__)

    async def _deliver_rounds(self, waiting: _Waiting) -> None:
        while True:
            raise_swallowed_cancellation()
            await waiting.arrived.wait()
            if not waiting.texts:  # (set only with a text; cleared once they are taken)
                waiting.arrived.clear()
                continue
            texts = _next_round(waiting)
            if not waiting.texts:
                waiting.arrived.clear()
            await self._deliver(texts)

    async def _deliver(self, texts: list[str]) -> None:
        bundle = bundle_text(texts)
        for turn, page in enumerate(list(self._pages), start=1):
            try:
                if page.takes_bundles:
                    await page.send_board_text(bundle)
                else:
                    for text in texts:
                        await page.send_board_text(text)
            except Exception as exc:  # a socket that went away mid-send: the others still get theirs
                logger.debug("a board page could not be sent to (%s)", type(exc).__name__)
            if turn % PAGES_PER_TURN == 0:
                await asyncio.sleep(0)

    async def _fail(self, exc: Exception, *, channel: str) -> None:
        logger.warning(
            "the board lost the channel layer (%s); %d pages reconnect and catch up",
            f"{type(exc).__name__}: {exc}"[:200],
            len(self._pages),
        )
        async with self._lock:
            pages, self._pages, self._task, self._channel = list(self._pages), set(), None, None
        for page in pages:
            with contextlib.suppress(Exception):  # already gone
                await page.close(code=TRY_AGAIN_LATER)
        await self._unsubscribe(channel)


def _queue(waiting: _Waiting, text: str) -> None:
    waiting.texts.append(text)
    waiting.arrived.set()
    if len(waiting.texts) > WAITING_CAP:
        if not waiting.dropped:
            logger.warning(
                "the board's pages fell %d messages behind; the oldest are dropped and the pages catch up", WAITING_CAP
            )
        waiting.dropped += 1
        del waiting.texts[0]


def _next_round(waiting: _Waiting) -> list[str]:
    """The oldest messages waiting, up to ROUND_CHARS (at least one)."""
    texts, size = [waiting.texts[0]], len(waiting.texts[0])
    for text in waiting.texts[1:]:
        size += len(text)
        if size > ROUND_CHARS:
            break
        texts.append(text)
    del waiting.texts[: len(texts)]
    return texts


_hubs: dict[tuple[int, int], BoardHub] = {}


def hub_for(layer: Any) -> BoardHub:
    """The hub of this event loop and layer (tests run each in a loop and layer of their own)."""
    loop = asyncio.get_running_loop()
    key = (id(loop), id(layer))
    hub = _hubs.get(key)
    if hub is None or hub.loop is not loop or hub.layer is not layer:
        for stale in [k for k, h in _hubs.items() if h.loop.is_closed()]:
            del _hubs[stale]
        hub = _hubs[key] = BoardHub(layer=layer, loop=loop)
    return hub
