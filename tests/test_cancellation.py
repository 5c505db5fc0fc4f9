"""A loop whose task was cancelled inside a call that swallowed the cancellation (asgiref's
`sync_to_async` in some paths, Python 3.11's `wait_for` when its inner call ends at that moment)
stops at its next turn instead of running forever: a stage stopping at the end of a run waited for
such a loop, and the run hung."""

import asyncio

import pytest

from tokens.cancellation import raise_swallowed_cancellation


async def swallowing_call() -> None:
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        return  # ends normally, as those calls do: the task stays `cancelling()`


async def test_a_loop_stops_at_its_next_turn_after_a_swallowed_cancellation():
    turns = 0
    entered = asyncio.Event()

    async def loop() -> None:
        nonlocal turns
        while True:
            raise_swallowed_cancellation()
            turns += 1
            entered.set()
            await swallowing_call()

    task = asyncio.create_task(loop())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert turns == 1
