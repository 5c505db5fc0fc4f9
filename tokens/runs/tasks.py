"""The runs this process executes, as tasks on its event loop (the web server's, a worker's, the
feed's), kept referenced until they end so they are not garbage-collected.

The in-memory channel layer lives on the web server's loop, so the pages connected to that process
see every batch of a run started from a page.
"""

import asyncio
import contextvars
import logging

from tokens.runs.loader import execute_claimed, execute_run
from tokens.runs.queue import Claimed
from tokens.runs.watch import watch_runs

logger = logging.getLogger(__name__)
_tasks: dict[int, asyncio.Task] = {}
_watch: asyncio.Task | None = None


def start_in_server(*, run_id: int, resume: bool = False) -> asyncio.Task:
    start_run_watch()  # a process that executes runs also watches for runs whose process died
    # A fresh context: the request's context carries asgiref's per-request thread executor, which
    # shuts down with the response, long before the run ends.
    return _keep(run_id, execute_run(run_id=run_id, resume=resume))


def execute_in_server(run, *, resume: bool) -> asyncio.Task:
    """A run this process has claimed already (taken over from a dead executor)."""
    return _keep(run.pk, execute_claimed(run, resume=resume))


def take_over(claimed: Claimed) -> None:
    """What the run watcher does with a run whose executor died: run it here."""
    execute_in_server(claimed.run, resume=claimed.resume)


def task_for(run_id: int) -> asyncio.Task | None:
    """The task of a run this process is executing, if any."""
    return _tasks.get(run_id)


def start_run_watch() -> None:
    """Once per process: the loop that marks runs whose process died (see runs/watch.py)."""
    global _watch
    if _watch is None or _watch.done() or _watch.get_loop() is not asyncio.get_running_loop():
        _watch = asyncio.get_running_loop().create_task(
            watch_runs(take_over=take_over), name="watch-runs", context=contextvars.Context()
        )


def _keep(run_id: int, coroutine) -> asyncio.Task:
    task = asyncio.get_running_loop().create_task(coroutine, name=f"load-run-{run_id}", context=contextvars.Context())
    _tasks[run_id] = task
    task.add_done_callback(lambda done: _forget(run_id, done))
    return task


def _forget(run_id: int, task: asyncio.Task) -> None:
    _tasks.pop(run_id, None)
    if not task.cancelled() and task.exception() is not None:
        # A failed load is recorded on its run; what reaches here never became a run (e.g. a lost race).
        logger.error("run %s could not start: %s", run_id, task.exception())
