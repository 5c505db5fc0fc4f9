"""Which launch sources there are: settings.LAUNCH_SOURCES maps a name (a run's `upstream`, or one
of LIVE_SOURCES) to the class that implements tokens/sources/base.py's `LaunchSource`. Adding a
source is its own folder and one line there."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from django.conf import settings
from django.utils.module_loading import import_string

from tokens.sources import clients
from tokens.sources.base import LaunchSource


@asynccontextmanager
async def launch_source(name: str, *, notice: Callable[[str], None]) -> AsyncIterator[LaunchSource]:
    """The source called `name`, opened for the block and closed after it."""
    try:
        path = settings.LAUNCH_SOURCES[name]
    except KeyError:
        raise ValueError(
            f"no launch source is called {name!r}; LAUNCH_SOURCES has {', '.join(settings.LAUNCH_SOURCES)}"
        ) from None
    source = await import_string(path).open(notice=notice, clients=clients)
    try:
        yield source
    finally:
        await source.aclose()
