"""The always-on feed inside the web server (FOLLOW_LAUNCHES=web, the embedded default's `make
run`): started on the server's first turn, or on its first request where there is no reactor."""

import asyncio
import contextvars
import logging
import sys

from tokens.runs.feed import FollowerRunning, follow_launches

logger = logging.getLogger(__name__)
_follower: asyncio.Task | None = None


def start_follower() -> None:
    """Start the feed on this process's event loop, once."""
    global _follower
    if _follower is not None:
        return
    _follower = asyncio.get_running_loop().create_task(
        _follow_here(), name="follow-launches", context=contextvars.Context()
    )


async def _follow_here() -> None:
    try:
        await follow_launches()
    except FollowerRunning as exc:
        logger.warning("not following new launches in this process: %s", exc)
    except Exception:
        logger.exception("the feed of new launches stopped")


def start_follower_with_server() -> None:
    """As soon as the server's loop runs (Daphne runs asyncio under Twisted's reactor); the ASGI
    wrapper below also starts it on the first connection, for servers without that reactor."""
    if "twisted.internet.reactor" in sys.modules:
        from twisted.internet import reactor

        # Startup triggers fire before the asyncio loop turns; the next turn has a running loop.
        reactor.callWhenRunning(lambda: reactor.callLater(0, start_follower))


class FollowerStarter:
    """ASGI wrapper: makes sure the feed runs once this server handles anything."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if _follower is None and scope["type"] in ("http", "websocket"):
            start_follower()
        return await self.app(scope, receive, send)
