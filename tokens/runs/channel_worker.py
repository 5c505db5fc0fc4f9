"""`manage.py runworker token-loader`: the channel-layer form of a loader worker. It runs the same
database queue loop as `manage.py run_loader`; a `run.start` message only wakes it up early."""

import asyncio
from typing import Any

from channels.consumer import AsyncConsumer

from tokens.runs.worker import WorkerLoop

_worker: WorkerLoop | None = None
_serving: asyncio.Task | None = None


def _ensure_worker() -> WorkerLoop:
    global _worker, _serving
    if _worker is None:
        _worker = WorkerLoop()
        _serving = asyncio.get_running_loop().create_task(_worker.run(), name="loader-worker")
    return _worker


class LoaderWorker(AsyncConsumer):
    async def __call__(self, scope, receive, send):
        _ensure_worker()
        return await super().__call__(scope, receive, send)

    async def run_start(self, message: dict[str, Any]) -> None:
        _ensure_worker().wake.set()
