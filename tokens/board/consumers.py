"""The board's websocket: joins the board group and forwards each message to the page."""

import json
import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from tokens.live.messages import BOARD_EVENT, BOARD_GROUP, run_message
from tokens.models import LoadRun

logger = logging.getLogger(__name__)
UNSUPPORTED_DATA = 4003  # 1003, cannot accept this data (Daphne sends only 1000 and 3000-4999)


@database_sync_to_async
def _latest_run_message() -> dict[str, Any] | None:
    run = LoadRun.objects.order_by("-created_at", "-pk").first()
    return None if run is None else run_message(run)


class BoardConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        await self.channel_layer.group_add(BOARD_GROUP, self.channel_name)
        await self.accept()
        # A page that joins mid-run learns the run's state at once instead of at the next batch.
        latest = await _latest_run_message()
        if latest is not None:
            await self.send_json(latest)

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(BOARD_GROUP, self.channel_name)

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

    async def dispatch(self, message: dict[str, Any]) -> None:
        """A board message goes straight to the page. Channels' dispatch first closes stale database
        connections by a hop to its one database thread, for every message of every page: with a
        thousand pages that hop, queued behind itself, was most of a web process's time (py-spy,
        bench/run_bench.py fan-out). Forwarding text touches no database."""
        if message.get("type") == BOARD_EVENT:
            await self.board_event(message)
            return
        await super().dispatch(message)

    async def board_event(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["text"])
