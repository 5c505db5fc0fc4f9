"""A loader worker as its own process: runs from the database queue until SIGTERM or Ctrl-C."""

import asyncio
import signal

from django.core.management.base import BaseCommand

from tokens.runs.worker import WorkerLoop


class Command(BaseCommand):
    help = (
        "Execute queued load runs (and take over runs whose executor died). SIGTERM or Ctrl-C hands the "
        "runs in progress back to the queue for another worker."
    )

    def handle(self, *args, **options) -> None:
        asyncio.run(self._serve())
        self.stdout.write("Loader worker stopped; its runs went back to the queue.")

    async def _serve(self) -> None:
        worker = WorkerLoop()
        loop = asyncio.get_running_loop()
        stopped = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopped.set)
        serving = asyncio.create_task(worker.run())
        await stopped.wait()
        await worker.stop()
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
