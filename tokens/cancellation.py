"""Cancellation that asgiref swallowed, honoured.

A task cancelled while it awaits `sync_to_async` gets the sync call's result, not a CancelledError:
asgiref lets the call run to its end in its thread and returns normally. The cancellation is still
pending on the task (`cancelling()`), but nothing raises it again, so a loop that goes on awaiting
would never stop: a stage stopping at the end of a run then waited forever for it.
"""

import asyncio


def raise_swallowed_cancellation() -> None:
    """Raise CancelledError if this task was asked to stop (call it in every loop of a task)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
