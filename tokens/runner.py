"""Runs started from the page execute as tasks on the web server's own event loop.

The in-memory channel layer lives on that loop, so the pages connected to this process see
every batch. Tasks are kept referenced here until they end, so they are not garbage-collected.
"""

import asyncio
import contextvars
import logging
import sys

from tokens.follower import FollowerRunning, follow_launches
from tokens.loader import execute_claimed, execute_run
from tokens.run_watch import watch_runs

logger = logging.getLogger(__name__)
_tasks: dict[int, asyncio.Task] = {}


def start_in_server(*, run_id: int, resume: bool = False) -> asyncio.Task:
    start_run_watch()  # a process that executes runs also watches for runs whose process died
    # A fresh context: the request's context carries asgiref's per-request thread executor, which
    # shuts down with the response, long before the run ends.
    task = asyncio.get_running_loop().create_task(
        execute_run(run_id=run_id, resume=resume), name=f"load-run-{run_id}", context=contextvars.Context()
    )
    _tasks[run_id] = task
    task.add_done_callback(lambda done: _forget(run_id, done))
    return task


def execute_in_server(run, *, resume: bool) -> asyncio.Task:
    """A run this process has claimed already (taken over from a dead executor)."""
    task = asyncio.get_running_loop().create_task(
        execute_claimed(run, resume=resume), name=f"load-run-{run.pk}", context=contextvars.Context()
    )
    _tasks[run.pk] = task
    task.add_done_callback(lambda done: _forget(run.pk, done))
    return task


def _forget(run_id: int, task: asyncio.Task) -> None:
    _tasks.pop(run_id, None)
    if not task.cancelled() and task.exception() is not None:
        # A failed load is recorded on its run; what reaches here never became a run (e.g. a lost race).
        logger.error("run %s could not start: %s", run_id, task.exception())


def task_for(run_id: int) -> asyncio.Task | None:
    """The task of a run this process is executing, if any."""
    return _tasks.get(run_id)


_watch: asyncio.Task | None = None


def start_run_watch() -> None:
    """Once per process: the loop that marks runs whose process died (see run_watch)."""
    global _watch
    if _watch is None or _watch.done() or _watch.get_loop() is not asyncio.get_running_loop():
        _watch = asyncio.get_running_loop().create_task(watch_runs(), name="watch-runs", context=contextvars.Context())


# ---- The always-on feed inside the web server (FOLLOW_LAUNCHES=web, the embedded default's `make run`)
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
