"""Reading offset pages ahead of the consumer: while a batch is processed and stored, the next
pages are already on their way, as many at once as `depth` (the rate limiter still paces them).

The next offset is only known once a page has been read (pages overlap, shift and may be short),
so the reader predicts it: a full page ahead each time. A request on the predicted path is served
from its prefetch; any other offset is fetched fresh and the predictions are redrawn from there.
"""

import asyncio
from typing import Any, Protocol


class PageSource(Protocol):
    async def fetch_coins(self, *, offset: int, sort: str, include_nsfw: bool) -> list[Any]: ...


class PageReader:
    def __init__(self, client: PageSource, *, sort: str, include_nsfw: bool, step: int, depth: int) -> None:
        self._client = client
        self._sort = sort
        self._include_nsfw = include_nsfw
        self._step = max(1, step)
        self._depth = max(1, depth)
        self._inflight: dict[int, asyncio.Task] = {}

    async def page(self, offset: int) -> list[Any]:
        task = self._inflight.pop(offset, None)
        if task is None:
            # Off the predicted path (or the very first page): fetch it alone, so that the first
            # paint waits for one round trip and not for a crowd of speculative ones.
            task = self._start(offset)
            self._drop_predictions()
            result = await task
            self._predict_from(offset)
            return result
        self._predict_from(offset)
        return await task

    async def close(self) -> None:
        tasks = list(self._inflight.values())
        self._inflight.clear()
        for task in tasks:
            _discard(task)
        await asyncio.gather(*tasks, return_exceptions=True)

    def _start(self, offset: int) -> asyncio.Task:
        return asyncio.ensure_future(
            self._client.fetch_coins(offset=offset, sort=self._sort, include_nsfw=self._include_nsfw)
        )

    def _drop_predictions(self) -> None:
        for stale in list(self._inflight):
            _discard(self._inflight.pop(stale))

    def _predict_from(self, offset: int) -> None:
        path = [offset + self._step * k for k in range(1, self._depth)]
        for stale in [o for o in self._inflight if o not in path]:
            _discard(self._inflight.pop(stale))
        for predicted in path:
            if predicted not in self._inflight:
                self._inflight[predicted] = self._start(predicted)


def _discard(task: asyncio.Task) -> None:
    """Cancel a prediction nobody will read; its error, if it had one, is retrieved and dropped."""
    task.cancel()
    task.add_done_callback(lambda done: done.cancelled() or done.exception())
