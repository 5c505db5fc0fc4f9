"""Large answers decoded in a second process, beside the loader's own.

A chain backfill is bound by one interpreter (the GIL): py-spy measured the loader's event loop
holding it 85 % of a load, and a third of that was reading `getTransactionsForAddress` pages. A page
goes to the worker as its bytes and comes back decoded (pickled: about 6 µs a launch to read back,
against about 40 to decode), so that third runs on another core.

concurrent.futures' process pool does the work; what is here decides what goes to it and when:
- only answers of `OFFLOAD_BYTES` or more (a small one costs more to send than to decode);
- only once the worker has started (about a second: a run's first page does not wait for it);
- never after the worker died (it is not started again: the process decodes as it did before, and
  says so once);
- never with `DECODE_PROCESSES=0`.

The function sent must give the same result in either process (it is the one called here when the
worker is not used), so the choice changes speed only.
"""

import asyncio
import contextlib
import logging
import multiprocessing
import os
import pickle
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

logger = logging.getLogger(__name__)
OFFLOAD_BYTES = 64 * 1024
PARENT_CHECK_SECONDS = 0.5
T = TypeVar("T")


class DecodingPool:
    def __init__(self, *, processes: int) -> None:
        self.processes = max(0, processes)
        self._pool: ProcessPoolExecutor | None = None
        self._started: Future | None = None
        self.broken = False
        self.sent = 0  # calls run in the worker

    def start(self) -> None:
        """Start the worker (in the background; later calls do nothing). "spawn": a fork of a process
        with threads (the store's, asgiref's) can inherit a lock held by one of them."""
        if self._pool is not None or self.processes == 0 or self.broken:
            return
        self._pool = ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_leave_with_parent,
            initargs=(os.getpid(),),
        )
        self._started = self._pool.submit(_started)

    @property
    def ready(self) -> bool:
        started = self._started
        return (
            not self.broken
            and started is not None
            and started.done()
            and not started.cancelled()
            and started.exception() is None
        )

    def wait_until_ready(self, *, timeout: float) -> bool:
        """Whether the worker is up, waiting at most `timeout` for one that is starting."""
        if self._started is not None:
            with contextlib.suppress(Exception):  # not up in time, or failed to start: not ready
                self._started.result(timeout=timeout)
        return self.ready

    async def run(self, function: Callable[..., T], *args: Any, size: int) -> T:
        """`function(*args)` in the worker if it is ready and the input is worth it, else here."""
        if size < OFFLOAD_BYTES or not self.ready:
            if not self.broken:
                self.start()
            return function(*args)
        self.sent += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)
        except (BrokenProcessPool, pickle.PicklingError) as exc:
            self._give_up(exc)
            return function(*args)

    def close(self) -> None:
        pool, self._pool, self._started = self._pool, None, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _give_up(self, exc: BaseException) -> None:
        if not self.broken:
            logger.warning("the decoding process stopped (%s); decoding in this process from now on", _why(exc))
        self.broken = True
        self.close()


def _started() -> bool:
    return True


def _leave_with_parent(parent: int) -> None:
    """In the worker: exit when the process that started it is gone. A loader killed (SIGKILL, or
    SIGTERM without its exit handlers) leaves its workers waiting on a queue that never ends, each
    holding the loader's stdout open; concurrent.futures has no option for it, so a thread watches."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="decoding: watch the parent", daemon=True).start()


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:200] if str(exc) else type(exc).__name__


_shared: dict[int, DecodingPool] = {}


def shared_pool(*, processes: int) -> DecodingPool:
    """The process's one pool of that size (runs come and go; the worker stays)."""
    pool = _shared.get(processes)
    if pool is None:
        pool = _shared[processes] = DecodingPool(processes=processes)
    return pool
