"""Fetch the details still queued (holders, metadata, market caps) and keep market caps live."""

import asyncio
import signal
from contextlib import suppress

from asgiref.sync import sync_to_async
from django.core.management.base import BaseCommand

from tokens.cancellation import raise_swallowed_cancellation
from tokens.details.queue import details_waiting
from tokens.details.service import details_service
from tokens.details.stage import IDLE_SECONDS


class Command(BaseCommand):
    help = (
        "Drain the queue of token details (curve state, holder counts, metadata) and re-read the newest "
        "tokens' bonding curves every live_refresh_seconds, until stopped."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="Exit once the queue is empty")

    def handle(self, *args, **options) -> None:
        with suppress(KeyboardInterrupt):
            asyncio.run(self._serve(once=options["once"]))
        self.stdout.write(f"Details still queued: {details_waiting() or 'none'}")

    async def _serve(self, *, once: bool) -> None:
        loop = asyncio.get_running_loop()
        current = asyncio.current_task()
        loop.add_signal_handler(signal.SIGTERM, current.cancel)
        # The same stage and live refresh a run uses in this process (the refresh runs beside --once
        # too, and stops with it).
        async with details_service().use() as stage:
            try:
                if once:
                    while await sync_to_async(_queued_for)(stage.kinds()):
                        raise_swallowed_cancellation()  # a Ctrl-C asgiref swallowed in the query
                        await asyncio.sleep(IDLE_SECONDS)
                else:
                    await asyncio.Event().wait()  # until Ctrl-C or SIGTERM
            except asyncio.CancelledError:
                pass


def _queued_for(kinds: list[str]) -> bool:
    waiting = details_waiting()
    return any(waiting.get(kind) for kind in kinds)
