"""Several live tails as one: the upstream's follow and the live sources LIVE_SOURCES names, read
side by side, each launch delivered once by whichever source saw it first; its record says which
(`upstream`). A launch is its mint: one transaction can create several coins (one signature, several
mints), and pump.fun's web API gives no signature at all."""

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator

from tokens.sources.base import Launch

REMEMBERED = 50_000  # launches a merge remembers to drop repeats (a few hours of launches)


async def merged_follow(
    primary: AsyncIterator[list[Launch]], others: list[AsyncIterator[list[Launch]]]
) -> AsyncIterator[list[Launch]]:
    """Pages from every stream as they come (the primary's empty pages too: the caller's chance to
    stop), without repeats. A stream that ends or fails ends the merge with it: the run restarts."""
    queue: asyncio.Queue = asyncio.Queue(maxsize=64)
    seen: OrderedDict[str, None] = OrderedDict()

    async def pump(stream: AsyncIterator[list[Launch]]) -> None:
        try:
            async for page in stream:
                await queue.put(page)
        except Exception as exc:
            await queue.put(exc)
        else:
            await queue.put(StopAsyncIteration())

    tasks = [asyncio.create_task(pump(stream)) for stream in (primary, *others)]
    try:
        while True:
            item = await queue.get()
            if isinstance(item, StopAsyncIteration):
                return
            if isinstance(item, Exception):
                raise item
            yield [launch for launch in item if _first_time(launch, seen)]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for stream in (primary, *others):
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()


def _first_time(launch: Launch, seen: OrderedDict[str, None]) -> bool:
    key = launch.mint
    if not isinstance(key, str) or not key:
        return True  # a record that could not be read: validation counts it
    if key in seen:
        return False
    seen[key] = None
    if len(seen) > REMEMBERED:
        seen.popitem(last=False)
    return True
