"""The board's websocket: a page of the process's board hub (tokens/board/hub.py), which writes every
board message to it."""

import json
import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer

from tokens.board.hub import hub_for
from tokens.live.messages import BUNDLE_QUERY, run_message
from tokens.models import LoadRun

logger = logging.getLogger(__name__)
UNSUPPORTED_DATA = 4003  # 1003, cannot accept this data (Daphne sends only 1000 and 3000-4999)


@database_sync_to_async
def _latest_run_message() -> dict[str, Any] | None:
    run = LoadRun.objects.order_by("-created_at", "-pk").first()
    return None if run is None else run_message(run)


class BoardConsumer(AsyncJsonWebsocketConsumer):
    # No channel of its own (a layer alias that names none): the process's hub writes board messages
    # to the page, and Channels then waits on the socket alone.
    channel_layer_alias = None

    async def connect(self) -> None:
        # Board messages wait here until the page has the run's state, so none arrives before it.
        self._held: list[str] | None = []
        # The board's own page takes messages that waited for the same round in one frame.
        self.takes_bundles = BUNDLE_QUERY in self.scope.get("query_string", b"").split(b"&")
        self.hub = hub_for(get_channel_layer())
        await self.hub.join(self)
        try:
            await self.accept()
            # A page that joins mid-run learns the run's state at once instead of at the next batch.
            latest = await _latest_run_message()
            if latest is not None:
                await self.send_json(latest)
            while self._held:
                await self.send(text_data=self._held.pop(0))
            self._held = None
        except BaseException:
            # Channels calls disconnect only for a socket that connected: the hub must not keep it.
            await self.hub.leave(self)
            raise

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "hub"):
            await self.hub.leave(self)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        """The board only listens: a page sends nothing. A frame that is not JSON text closes the
        socket with 4003 (1003, "cannot accept this data") and one log line, not a traceback."""
        try:
            if text_data is None:
                raise ValueError("a binary frame")
            json.loads(text_data)
        except (ValueError, RecursionError) as exc:
            client = (self.scope.get("client") or ("unknown",))[0]
            logger.info("board socket from %s closed: malformed frame (%s)", client, str(exc)[:80])
            await self.close(code=UNSUPPORTED_DATA)

    async def send_board_text(self, text: str) -> None:
        if self._held is not None:
            self._held.append(text)
            return
        await self.send(text_data=text)
