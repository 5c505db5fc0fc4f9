"""Runs started from the page execute as tasks on the web server's own event loop.

The in-memory channel layer lives on that loop, so the pages connected to this process see
every batch. Tasks are kept referenced here until they end, so they are not garbage-collected.
"""

import asyncio
import contextvars

from tokens.loader import execute_run

_tasks: dict[int, asyncio.Task] = {}


def start_in_server(*, run_id: int) -> asyncio.Task:
    # A fresh context: the request's context carries asgiref's per-request thread executor, which
    # shuts down with the response, long before the run ends.
    task = asyncio.get_running_loop().create_task(
        execute_run(run_id=run_id), name=f"load-run-{run_id}", context=contextvars.Context()
    )
    _tasks[run_id] = task
    task.add_done_callback(lambda _: _tasks.pop(run_id, None))
    return task


def task_for(run_id: int) -> asyncio.Task | None:
    """The task of a run this process is executing, if any."""
    return _tasks.get(run_id)
