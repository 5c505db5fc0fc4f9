"""Runs started from the page execute as tasks on the web server's own event loop.

The in-memory channel layer lives on that loop, so the pages connected to this process see
every batch. Tasks are kept referenced here until they end, so they are not garbage-collected.
"""

import asyncio
import contextvars
import logging

from tokens.loader import execute_run

logger = logging.getLogger(__name__)
_tasks: dict[int, asyncio.Task] = {}


def start_in_server(*, run_id: int, resume: bool = False) -> asyncio.Task:
    # A fresh context: the request's context carries asgiref's per-request thread executor, which
    # shuts down with the response, long before the run ends.
    task = asyncio.get_running_loop().create_task(
        execute_run(run_id=run_id, resume=resume), name=f"load-run-{run_id}", context=contextvars.Context()
    )
    _tasks[run_id] = task
    task.add_done_callback(lambda done: _forget(run_id, done))
    return task


def _forget(run_id: int, task: asyncio.Task) -> None:
    _tasks.pop(run_id, None)
    if not task.cancelled() and task.exception() is not None:
        # A failed load is recorded on its run; what reaches here never became a run (e.g. a lost race).
        logger.error("run %s could not start: %s", run_id, task.exception())


def task_for(run_id: int) -> asyncio.Task | None:
    """The task of a run this process is executing, if any."""
    return _tasks.get(run_id)
