"""Fetch the details still queued (holders, metadata, market caps) and keep market caps live."""

import asyncio
import signal
from contextlib import AsyncExitStack, suppress

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.management.base import BaseCommand

from tokens.detail_queue import details_waiting
from tokens.detail_stage import IDLE_SECONDS, DetailStage, LiveRefresh
from tokens.models import BotSettings
from tokens.upstream_clients import chain_source, holder_counter, metadata_fetcher, solana_rpc


class Command(BaseCommand):
    help = (
        "Drain the queue of token details (curve state, holder counts, metadata) and re-read the newest "
        "tokens' bonding curves every live_refresh_seconds, until stopped."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="Exit once the queue is empty (no live refresh)")

    def handle(self, *args, **options) -> None:
        with suppress(KeyboardInterrupt):
            asyncio.run(self._serve(once=options["once"]))
        self.stdout.write(f"Details still queued: {details_waiting() or 'none'}")

    async def _serve(self, *, once: bool) -> None:
        loop = asyncio.get_running_loop()
        current = asyncio.current_task()
        loop.add_signal_handler(signal.SIGTERM, current.cancel)
        stored = await sync_to_async(BotSettings.get_solo)()
        async with AsyncExitStack() as stack:
            chain = None
            if settings.SOLANA_RPC_URL:
                chain = chain_source(await stack.enter_async_context(solana_rpc()))
            holders, metadata = holder_counter(), metadata_fetcher()
            for client in (holders, metadata):
                if client is not None:
                    await stack.enter_async_context(client)
            stage = DetailStage(chain=chain, holders=holders, metadata=metadata)
            jobs = [asyncio.create_task(stage.run())]
            if not once and chain is not None and stored.live_refresh_count:
                refresh = LiveRefresh(stage, count=stored.live_refresh_count, seconds=stored.live_refresh_seconds)
                jobs.append(asyncio.create_task(refresh.run()))
            try:
                if once:
                    while await sync_to_async(_queued_for)(stage.kinds()):
                        await asyncio.sleep(IDLE_SECONDS)
                else:
                    await asyncio.gather(*jobs)
            except asyncio.CancelledError:
                pass
            finally:
                for job in jobs:
                    job.cancel()
                await asyncio.gather(*jobs, return_exceptions=True)


def _queued_for(kinds: list[str]) -> bool:
    waiting = details_waiting()
    return any(waiting.get(kind) for kind in kinds)
